"""A Dask scheduler and workers on the loopback, each a process of its own started as a team starts
them (`python -m distributed.cli.dask_scheduler`, `python -m distributed.cli.dask_worker ADDRESS`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import free_port, stop

PROJECT = Path(__file__).resolve().parents[2]


@contextmanager
def dask_cluster(env: dict[str, str], log: Path, workers: int = 2) -> Iterator[str]:
    """The scheduler's address once ``workers`` single-threaded workers have joined; all stopped after."""
    from distributed import Client

    port = str(free_port())
    address = f"tcp://127.0.0.1:{port}"
    logs = log.open("wb")

    def start(*args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", *args], cwd=PROJECT, env=env, stdout=logs, stderr=logs)

    processes = [start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", port, "--no-dashboard")]
    worker = ("distributed.cli.dask_worker", address, "--nthreads", "1", "--no-dashboard", "--no-nanny")
    processes += [start(*worker, "--name", f"worker-{n}") for n in range(workers)]
    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            stop(process)
        logs.close()
