"""Fanning a large input out over a Prefect task runner: a 10,000-document inbox read in chunks, one
Prefect task per chunk, on as many machines as a Dask cluster has.

``read_runner: local`` (the default) runs the step once, as one task, in the run's own process,
which spreads the work over its own reader processes. ``read_runner: dask`` cuts the items into
chunks of ``read_chunk`` and submits one task per chunk to ``prefect-dask``'s ``DaskTaskRunner``:
on the cluster at ``dask_address`` (workers on other hosts, each with opsgate installed and the
documents at the same path), or on a local cluster of ``dask_workers`` processes the run starts
and stops. Each chunk is a task run of the flow run in Prefect, with its own state and logs.

A chunk whose task is lost (its worker died more often than Dask retries, the cluster went away)
does not stop the batch: ``lost`` turns it into one failed result per item, with the reason, and
the other chunks' results stand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from prefect import Task

from opsgate.settings import get_settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def _runner() -> Any:
    """The configured Dask task runner (imported only where reading is fanned out)."""
    from prefect_dask import DaskTaskRunner

    settings = get_settings()
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    workers = {"n_workers": settings.dask_workers, "threads_per_worker": 1, "processes": True}
    return DaskTaskRunner(cluster_kwargs={**workers, "dashboard_address": None})


def fan_out(
    step: Task[..., list[R]],
    items: Sequence[T],
    lost: Callable[[list[T], BaseException], list[R]],
    **fixed: Any,
) -> list[R]:
    """``step(items=chunk, **fixed)`` over the items, results in the items' order, one per item:
    one task here, or one task per chunk on the Dask cluster (see the module's docstring)."""
    settings = get_settings()
    if settings.read_runner == "local" or len(items) <= settings.read_chunk:
        return step(items=list(items), **fixed)
    size = settings.read_chunk
    chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
    logger.info("%d items in %d chunks of up to %d, on Dask", len(items), len(chunks), size)
    results: list[R] = []
    with _runner() as runner:
        futures = [runner.submit(step, parameters={"items": chunk, **fixed}) for chunk in chunks]
        for number, (chunk, future) in enumerate(zip(chunks, futures, strict=True), 1):
            try:
                done = future.result()
            except Exception as exc:  # a lost chunk fails its items, not the batch
                logger.warning("chunk %d of %d (%d items) was lost: %s", number, len(chunks), len(chunk), exc)
                done = lost(chunk, exc)
            if len(done) != len(chunk):
                raise RuntimeError(f"{step.name} returned {len(done)} results for {len(chunk)} items")
            results += done
    return results
