"""A Prefect process worker and a deployment on the test's server, as a team runs opsgate: the
worker polls a work pool and starts each flow run in a process of its own, from the checkout."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect import Flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import ObjectAlreadyExists
from prefect.utilities.callables import parameter_schema

from tests.support.processes import environment

PROJECT = Path(__file__).resolve().parents[2]


@contextmanager
def process_worker(api_url: str, pool: str, log: Path, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """`prefect worker start` on a process pool (created if missing), with this test's settings,
    polling every second; stopped when the block ends. Its output goes to ``log``."""
    work_pool(pool)
    env = environment(api_url, PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5", **extra)
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield worker
        finally:
            worker.terminate()
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()


def work_pool(pool: str) -> None:
    """A process work pool of that name on the test's server, made unless it is there."""
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        except ObjectAlreadyExists:
            pass


def deploy(
    flow: Flow[Any, Any],
    entrypoint: str,
    name: str,
    pool: str,
    parameters: dict[str, Any],
    concurrency_limit: int | None = None,
) -> UUID:
    """The flow deployed on ``pool`` from the checkout (``entrypoint`` relative to it), as
    `prefect deploy` does from prefect.yaml: with these parameters, no schedule, at most
    ``concurrency_limit`` runs at work at once, and the checkout as the working directory of every run."""
    with get_client(sync_client=True) as client:
        return client.create_deployment(
            flow_id=client.create_flow(flow),
            name=name,
            entrypoint=entrypoint,
            work_pool_name=pool,
            parameters=parameters,
            concurrency_limit=concurrency_limit,
            parameter_openapi_schema=parameter_schema(flow).model_dump_for_openapi(),
            pull_steps=[{"prefect.deployments.steps.set_working_directory": {"directory": str(PROJECT)}}],
        )


def deploy_invoices(
    pool: str,
    name: str,
    inbox: Path,
    entrypoint: str = "flows/invoice_extraction.py:invoice_extraction",
    concurrency_limit: int | None = None,
) -> UUID:
    """The invoice workflow deployed on ``pool``, reading ``inbox`` unless a run is given another;
    loaded from ``entrypoint`` (``tests/support/crashing_flows.py:invoice_extraction``: with a crash
    point armed)."""
    from flows.invoice_extraction import invoice_extraction

    parameters = {"params": {"inbox": str(inbox)}}
    return deploy(invoice_extraction, entrypoint, name, pool, parameters, concurrency_limit)


def start_deployment(deployment_id: UUID, parameters: dict[str, Any] | None = None) -> str:
    """A new flow run of the deployment (with these parameters, else its own), for a worker to
    pick up; its id."""
    with get_client(sync_client=True) as client:
        return str(client.create_flow_run_from_deployment(deployment_id, parameters=parameters).id)


def wait_for_state(flow_run_id: str, *names: str, timeout: float = 240) -> FlowRun:
    """The flow run once its state's name is one of ``names``."""
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(UUID(flow_run_id))
            if run.state is not None and run.state.name in names:
                return run
            if time.monotonic() > deadline:
                raise AssertionError(f"flow run {flow_run_id} is {run.state.name if run.state else None}, not {names}")
            time.sleep(0.5)
