"""Candidate pairs in partitions spilled to disk: matching more records than their pairs fit in memory.

At ten million records the candidate pairs (about nine per record) with their per-field evidence
would need tens of GB. So each blocking key's pairs are made one key at a time and written out by
partition, a pair going to the partition of its first record (its position modulo the number of
partitions, which spreads them evenly); then each partition is the union of its share of every
key's pairs, compared and scored on its own. Together the partitions are exactly the in-memory
candidates: the same pairs, each once, found by the same keys. A partition's work needs only the
records' prepared values, so partitions can be compared on other machines too (``on_dask``).

The folder (in the system's temporary folder, ``TMPDIR``) takes about 60 bytes per candidate pair at
its fullest: some 5 GB for ten million records.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import numpy as np

from opsgate import ConfigurationError
from tasks.duplicate_flagging.blocking import Blocking, Candidates, union_of


class Partitions:
    """The spilled candidate pairs of one matching run, in a temporary folder removed on ``close``.

    Made from a ``Blocking``, which the caller may drop afterwards: its keys' codes are not kept.
    """

    def __init__(self, blocking: Blocking, count: int) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="opsgate-pairs-")
        self.path = Path(self._folder.name)
        self.count = count
        self.records = blocking.records
        self.keys = [replace(key, codes=np.zeros(0, dtype=np.int64)) for key in blocking.keys]
        self.pairs_per_key: dict[str, int] = {}
        for index, key in enumerate(blocking.keys):
            pairs = blocking.pairs(key)  # one key's pairs in memory at a time
            self.pairs_per_key[key.name] = len(pairs)
            part = (pairs // max(self.records, 1)) % count
            order = np.argsort(part, kind="stable")  # one pass, not a mask per partition; each share stays sorted
            ends = np.cumsum(np.bincount(part, minlength=count))
            for p, share in enumerate(np.split(pairs[order], ends[:-1])):
                share.tofile(self._file(p, f"key{index}"))

    @classmethod
    def of(cls, blocking: Blocking, records_per_partition: int) -> Partitions:
        return cls(blocking, max(1, math.ceil(blocking.records / records_per_partition)))

    @property
    def columns_by_key(self) -> dict[str, tuple[str, ...]]:
        return {key.name: key.columns for key in self.keys}

    @property
    def training_keys(self) -> list[str]:
        """The keys whose pairs EM learns m from, in the keys' order (the order m is averaged in)."""
        return [key.name for key in self.keys if key.trains]

    def candidates(self, p: int) -> Candidates:
        """Partition ``p``'s pairs: the union of its share of each key's pairs, in ``a * n + b`` order."""
        found = {key.name: np.fromfile(self._file(p, f"key{i}"), dtype=np.int64) for i, key in enumerate(self.keys)}
        return union_of(found, self.records, self.keys)

    def keep(self, p: int, **arrays: np.ndarray) -> None:
        """Set arrays of partition ``p`` aside on disk, for a second pass once the model is fitted."""
        for name, array in arrays.items():
            np.save(self._file(p, name) + ".npy", array)

    def kept(self, p: int, name: str) -> np.ndarray:
        return np.load(self._file(p, name) + ".npy")

    def _file(self, p: int, name: str) -> str:
        return str(self.path / f"{p}.{name}")

    def close(self) -> None:
        self._folder.cleanup()

    def __enter__(self) -> Partitions:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


CONNECT_SECONDS = 20
S = TypeVar("S")
R = TypeVar("R")
# (work, shared, items) -> (item number, work(shared, *arguments)) per item, in any order. Items come
# from a generator that loads one partition's pairs at a time; a spread takes them as it has room.
Spread = Callable[[Callable[..., R], S, Iterable[tuple[int, tuple[Any, ...]]]], Iterator[tuple[int, R]]]


def in_process(
    work: Callable[..., R], shared: S, items: Iterable[tuple[int, tuple[Any, ...]]]
) -> Iterator[tuple[int, R]]:
    """One partition after another, here: what bounds memory on one machine."""
    for number, arguments in items:
        yield number, work(shared, *arguments)


def on_dask(address: str, in_flight: int | None = None) -> Spread:
    """Partitions compared on the Dask cluster at ``address`` (``python -m distributed.cli.dask_scheduler``
    and workers with opsgate installed, on any hosts): ``shared`` (the records' prepared values) goes
    to every worker once, then each partition's pairs to one worker (scattered there, and its task
    follows them), a few more at a time than there are workers so none waits, and never all at once,
    so the caller's memory stays bounded too.

    A worker lost mid-partition is retried by Dask on another; a partition that fails for good fails
    the match, since duplicates found in part of the pairs are not the answer.
    """

    def spread(
        work: Callable[..., R], shared: S, items: Iterable[tuple[int, tuple[Any, ...]]]
    ) -> Iterator[tuple[int, R]]:
        from distributed import Client, as_completed

        try:
            client = Client(address, timeout=CONNECT_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise ConfigurationError(f"no Dask scheduler answers at {address}: {exc}") from None
        with client:
            [everywhere] = client.scatter([shared], broadcast=True)
            limit = in_flight or 2 * max(1, len(client.scheduler_info()["workers"]))
            pending = iter(items)
            numbers: dict[str, int] = {}
            running = as_completed()

            def submit() -> None:
                item = next(pending, None)
                if item is not None:
                    number, arguments = item
                    placed = client.scatter(list(arguments))  # to a worker, not inside the task graph
                    future = client.submit(work, everywhere, *placed, pure=False)
                    numbers[future.key] = number
                    running.add(future)

            for _ in range(limit):
                submit()
            for future in running:
                result = future.result()
                number = numbers.pop(future.key)
                future.release()
                submit()
                yield number, result

    return spread
