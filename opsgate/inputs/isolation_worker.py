"""The worker side of ``opsgate.inputs.isolation``: a process that reads untrusted items under limits.

Started by the pool as ``python -m opsgate.inputs.isolation_worker IN_FD OUT_FD PARENT_PID``. It first
makes sure it cannot outlive its parent (``PR_SET_PDEATHSIG``, and EOF on its pipe), then takes
the reader function from the pool, imports what it needs, and only then caps its address space:
the limit is the size after the imports plus the memory budget, so the budget is what reading may
use. Each item gets a fresh CPU-time allowance (``RLIMIT_CPU`` counts the whole process, so the
soft limit is raised to the time used so far plus the allowance); going over it kills the process
with SIGXCPU, which the pool reports as a timeout. Core dumps are off: a reader that aborts on a
hostile file must not leave a copy of it on disk.

Messages are pickled tuples over the pipes: ``("ready", size)`` once, then per item ``("ok",
result bytes)``, ``("memory", detail)``, ``("output", size)`` or ``("error", detail)``.
"""

from __future__ import annotations

import ctypes
import logging
import os
import pickle
import resource
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

logger = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill this process when its parent goes (Linux); exit if it already went."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _address_space() -> int:
    """The process's virtual size now (``VmSize``), or 0 where /proc does not tell."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _cap_memory(budget: int) -> int:
    """Cap the address space at the size now plus ``budget`` (never above a cap set from outside)."""
    size = _address_space()
    if size:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        resource.setrlimit(
            resource.RLIMIT_AS, (size + budget if hard == resource.RLIM_INFINITY else min(size + budget, hard), hard)
        )
    return size


def _allow_cpu(seconds: float) -> None:
    """Raise the soft CPU limit to what was used so far plus ``seconds`` (the hard limit stays)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _answer(reader: Any, item: Any, max_output: int) -> tuple[str, Any]:
    try:
        payload = pickle.dumps(reader(item), protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return "memory", "the reader ran out of its memory budget"
    except Exception as exc:  # a bug in the reader fails this item only; the pool says which
        logger.exception("the reader failed")
        return "error", f"{type(exc).__name__}: {exc}"
    if len(payload) > max_output:
        return "output", len(payload)
    return "ok", payload


def serve(inbox: Connection, outbox: Connection) -> None:
    """Read items until the pool closes the pipe; exit after running out of memory (start clean)."""
    _, paths, reader_bytes, limits = pickle.loads(inbox.recv_bytes())
    sys.path[:0] = [p for p in paths if p not in sys.path]
    reader = pickle.loads(reader_bytes)  # imports the reader's modules, before memory is capped
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    outbox.send_bytes(pickle.dumps(("ready", _cap_memory(limits["memory"]))))
    while True:
        try:
            item = pickle.loads(inbox.recv_bytes())
        except EOFError:
            return
        _allow_cpu(limits["cpu"])
        kind, body = _answer(reader, item, limits["output"])
        outbox.send_bytes(pickle.dumps((kind, body), protocol=pickle.HIGHEST_PROTOCOL))
        if kind == "memory":
            return


def main(argv: list[str]) -> None:
    in_fd, out_fd, parent_pid = (int(arg) for arg in argv)
    die_with_parent(parent_pid)
    serve(Connection(in_fd, writable=False), Connection(out_fd, readable=False))


if __name__ == "__main__":
    main(sys.argv[1:])
