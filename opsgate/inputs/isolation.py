"""Run a reader over untrusted inputs in worker processes with limits, so one input cannot take the batch down.

A hostile or broken input can make a parser allocate without bound (a compression bomb), spin, or
abort the process from native code; no ``except`` catches an OOM kill or a SIGABRT. So every item
is read in a worker process (``opsgate.inputs.isolation_worker``) with a memory cap (``RLIMIT_AS`` over
its size after imports), a CPU-time allowance per item, a wall-clock deadline the parent enforces
by killing it, and a cap on the size of what it sends back. A worker that dies or goes over a limit
is replaced and the batch goes on; its item ends with a ``Failure`` whose reason is one of:

- ``too_large_when_expanded``: the reader ran out of its memory budget, or its result was over the
  output limit;
- ``reader_crashed``: the worker died (the detail names the signal or exit code);
- ``read_timeout``: the CPU-time or wall-clock limit passed;
- ``reader_failed``: the reader raised (a bug; the detail names the exception).

Workers are started with a fresh interpreter (never ``fork``: the caller may already run threads,
such as Prefect's), kept alive across items so a batch pays the start-up once per worker, and die
with the parent (``PR_SET_PDEATHSIG``, and EOF on their pipe). The death signal follows the
thread that started the worker, so use a pool from the thread that opened it.

The reader must be a module-level function (it is sent by reference) taking one picklable item.
Results come back in input order; ``progress`` is told how many items are done as they finish.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from opsgate.settings import Settings, get_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
MB = 1024 * 1024
FailureReason = Literal["too_large_when_expanded", "reader_crashed", "read_timeout", "reader_failed"]
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class Limits:
    """What one worker may use: bytes of memory over its size after imports, CPU seconds and
    wall-clock seconds per item, bytes of result per item, and how many workers run at once."""

    memory_bytes: int
    cpu_seconds: float
    wall_seconds: float
    output_bytes: int
    workers: int

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Limits:
        s = settings or get_settings()
        return cls(
            s.reader_memory_mb * MB,
            s.reader_cpu_seconds,
            s.reader_wall_seconds,
            s.reader_max_output_mb * MB,
            s.reader_workers,
        )


@dataclass(frozen=True)
class Failure:
    reason: FailureReason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass(frozen=True)
class Result(Generic[T]):
    """One item's outcome: the reader's value, or why there is none."""

    value: T | None = None
    failure: Failure | None = None


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self, setup: bytes) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "opsgate.inputs.isolation_worker",
                    str(to_child_r),
                    str(from_child_w),
                    str(os.getpid()),
                ],
                pass_fds=(to_child_r, from_child_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # Ctrl-C at a terminal is the parent's to handle: it closes the pool
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.inbox = Connection(to_child_w, readable=False)
        self.outbox = Connection(from_child_r, writable=False)
        self.inbox.send_bytes(setup)
        self.ready = False
        self.index: int | None = None  # the item it is reading
        self.deadline = 0.0

    @property
    def pid(self) -> int:
        return self.process.pid

    def give(self, index: int, item: bytes, wall_seconds: float) -> None:
        self.index, self.deadline = index, time.monotonic() + wall_seconds
        self.inbox.send_bytes(item)

    def hang_up(self, kill: bool = False) -> None:
        """Close the pipes (the worker exits on EOF), and kill it if asked."""
        for connection in (self.inbox, self.outbox):
            connection.close()
        if kill:
            self.process.kill()

    def reap(self) -> None:
        """Wait for the worker to exit; kill it if it does not go."""
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self, kill: bool = False) -> None:
        self.hang_up(kill)
        self.reap()

    def death(self) -> Failure:
        """Why the worker is gone, from its exit status."""
        self.stop()
        code = self.process.returncode
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            if -code == signal.SIGXCPU:
                return Failure("read_timeout", "the reader used up its CPU-time limit (SIGXCPU)")
            return Failure("reader_crashed", f"the reader process was killed by {name}")
        return Failure("reader_crashed", f"the reader process exited with code {code}")


class IsolatedPool(Generic[T]):
    """Worker processes that apply ``reader`` to items under ``limits``; use as a context manager."""

    def __init__(self, reader: Callable[[Any], T], limits: Limits | None = None) -> None:
        self.limits = limits or Limits.from_settings()
        caps = {"memory": self.limits.memory_bytes, "cpu": self.limits.cpu_seconds, "output": self.limits.output_bytes}
        self._setup = pickle.dumps(("setup", list(sys.path), pickle.dumps(reader), caps))
        self._idle: list[_Worker] = []
        self._busy: dict[Connection, _Worker] = {}

    def __enter__(self) -> IsolatedPool[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker, all at once; busy ones are killed."""
        workers = [*self._idle, *self._busy.values()]
        for worker in self._idle:
            worker.hang_up()
        for worker in self._busy.values():
            worker.hang_up(kill=True)
        for worker in workers:
            worker.reap()
        self._idle, self._busy = [], {}

    @property
    def pids(self) -> list[int]:
        """The worker processes alive now (for tests and diagnostics)."""
        return [w.pid for w in [*self._idle, *self._busy.values()]]

    def map(self, items: Iterable[Any], progress: Callable[[int], None] | None = None) -> list[Result[T]]:
        """Every item's result, in input order."""
        return list(self.imap(items, progress))

    def imap(self, items: Iterable[Any], progress: Callable[[int], None] | None = None) -> Iterator[Result[T]]:
        """Results in input order, each as soon as it and all before it are done."""
        queue = [pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL) for item in items]
        for worker in self._busy.values():  # still on an earlier batch that was not read to the end
            worker.stop(kill=True)
        self._busy = {}
        done: dict[int, Result[T]] = {}
        next_out, next_in = 0, 0
        while next_out < len(queue):
            while next_in < len(queue) and len(self._busy) < max(1, self.limits.workers):
                self._start(next_in, queue[next_in])
                next_in += 1
            for index, result in self._collect():
                done[index] = result
                queue[index] = b""  # the item's bytes are no longer needed
                if progress is not None:
                    progress(len(done) + next_out)
            while next_out in done:
                yield done.pop(next_out)
                next_out += 1

    def _start(self, index: int, item: bytes) -> None:
        """Give the item to an idle worker, or a new one if none is idle or the idle one has died."""
        while True:
            worker = self._idle.pop() if self._idle else _Worker(self._setup)
            try:
                worker.give(index, item, self.limits.wall_seconds)
            except OSError:  # it died while idle: its pipe is broken
                worker.stop(kill=True)
                continue
            self._busy[worker.outbox] = worker
            return

    def _collect(self) -> list[tuple[int, Result[T]]]:
        """Wait for at least one worker to answer, die or pass its deadline; what finished."""
        timeout = max(0.0, min(w.deadline for w in self._busy.values()) - time.monotonic())
        finished = []
        for connection in wait(list(self._busy), timeout=timeout):
            worker = self._busy[connection]  # type: ignore[index]
            result = self._receive(worker)
            if result is not None:
                finished.append((worker.index, result))
        now = time.monotonic()
        for worker in [w for w in self._busy.values() if w.deadline <= now]:
            del self._busy[worker.outbox]
            worker.stop(kill=True)
            finished.append(
                (
                    worker.index,
                    Result(
                        failure=Failure("read_timeout", f"the reader took longer than {self.limits.wall_seconds:g} s")
                    ),
                )
            )
        return finished  # type: ignore[return-value]

    def _receive(self, worker: _Worker) -> Result[T] | None:
        """The worker's message (None for its start-up handshake), or why it is gone."""
        try:
            kind, body = pickle.loads(worker.outbox.recv_bytes(maxlength=self.limits.output_bytes + 64 * 1024))
        except EOFError:
            del self._busy[worker.outbox]
            failure = worker.death()
            logger.warning("a reader process died on item %s: %s", worker.index, failure)
            return Result(failure=failure)
        except OSError:  # a message over the cap (the worker checks first; this is the parent's own guard)
            del self._busy[worker.outbox]
            worker.stop(kill=True)
            return Result(
                failure=Failure(
                    "too_large_when_expanded", f"the reader's result is over the {self.limits.output_bytes}-byte limit"
                )
            )
        if kind == "ready":  # started and imported: the item's own time starts now
            worker.ready = True
            worker.deadline = time.monotonic() + self.limits.wall_seconds
            return None
        del self._busy[worker.outbox]
        if kind == "memory":
            worker.stop()
            return Result(failure=Failure("too_large_when_expanded", f"{body} ({self.limits.memory_bytes // MB} MB)"))
        self._idle.append(worker)
        if kind == "output":
            return Result(
                failure=Failure(
                    "too_large_when_expanded",
                    f"the reader's result is {body} bytes, over the {self.limits.output_bytes}-byte limit",
                )
            )
        if kind == "error":
            return Result(failure=Failure("reader_failed", body))
        return Result(value=pickle.loads(body))
