"""Running the real invoice flow against the session's Prefect server, in a thread of this
process (the run) while the test plays the approver, as a second terminal would."""

from __future__ import annotations

import contextvars
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from opsgate.governance import requests
from opsgate.models import RunSummary
from opsgate.store.db import transaction
from opsgate.store.tables import PayableRow


class FlowInThread:
    """The flow run, started in a thread that carries this test's Prefect settings context."""

    def __init__(self, flow: Any, params: Any) -> None:
        self.result: RunSummary | None = None
        self.error: BaseException | None = None
        context = contextvars.copy_context()
        self.thread = threading.Thread(target=context.run, args=(self._run, flow, params), daemon=True)
        self.thread.start()

    def _run(self, flow: Any, params: Any) -> None:
        try:
            self.result = flow(params)
        except BaseException as exc:  # handed back to the test thread by finish()
            self.error = exc

    def finish(self, timeout: float = 120) -> RunSummary:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the flow run did not finish"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def wait_for_request(
    workflow: str = "invoice_extraction",
    timeout: float = 60,
    exclude: set[int] | None = None,
    run: FlowInThread | None = None,
) -> Any:
    """The newest pending request of ``workflow``; given the ``run``, None if it ends without one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [r for r in requests.pending_requests(workflow) if r.id not in (exclude or set())]
        if pending:
            return pending[-1]
        if run is not None and not run.thread.is_alive():
            return None
        time.sleep(0.2)
    raise AssertionError("no approval request appeared")


def wait_for_the_next_request(request: Any, timeout: float = 60) -> Any:
    """The request the run of ``request`` waits on once it has taken in the answer to ``request``
    (a refused answer pauses it again, a second approver or the next page is a new pause)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = requests.request_for_run(request.flow_run_id)
        if current is not None and (current.id, current.pause_key) != (request.id, request.pause_key):
            return current
        time.sleep(0.2)
    raise AssertionError(f"after {timeout:.0f} s the run still waits on {request.pause_key}")


@contextmanager
def cli_process(args: list[str], api_url: str) -> Iterator[subprocess.Popen[str]]:
    """`opsgate ARGS` in a process of its own on the session's Prefect server, as in a second
    terminal; its output is read with ``communicate``, and it is killed on the way out."""
    process = subprocess.Popen(
        [sys.executable, "-m", "opsgate", *args],
        env={**os.environ, "PREFECT_API_URL": api_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    finally:
        process.kill()


def undo_from_the_cli(
    api_url: str,
    workflow: str,
    proposal_id: str,
    requester: str,
    approver: str,
    reason: str,
    earlier: set[int],
    while_waiting: Any,
) -> str:
    """`opsgate undo` waiting at the gate in one terminal, `opsgate approvals approve` answering
    from another; ``while_waiting`` looks at the pending undo before it is approved. Returns what
    the undo printed."""
    with cli_process(["undo", proposal_id, "--as", requester, "--reason", reason], api_url) as undo:
        pending = wait_for_request(workflow, exclude=earlier, timeout=120)
        while_waiting(pending)
        with cli_process(["approvals", "approve", pending.flow_run_id, "--as", approver], api_url) as approve:
            approved, _ = approve.communicate(timeout=120)
        assert approve.returncode == 0, approved
        output, _ = undo.communicate(timeout=120)
    assert undo.returncode == 0, output
    return output


def payables_count() -> int:
    with transaction() as session:
        return session.execute(select(func.count()).select_from(PayableRow)).scalar_one()


@pytest.fixture
def flow_env(opsgate_env: str, prefect_server: str) -> Iterator[str]:
    """The store of this test and the session's Prefect server."""
    yield prefect_server


@pytest.fixture
def start_flow(flow_env: str) -> Iterator[Any]:
    started: list[FlowInThread] = []

    def start(inbox: Path, trigger: str = "test") -> FlowInThread:
        """The flow in a thread, started by ``trigger`` (``cli:bob``: as bob from the CLI)."""
        from flows.invoice_extraction import invoice_extraction
        from opsgate.orchestration.steps import started_by
        from tasks.invoice_extraction.params import InvoiceParams

        with started_by(trigger):
            run = FlowInThread(invoice_extraction, InvoiceParams(inbox=inbox))
        started.append(run)
        return run

    yield start
    for run in started:
        run.thread.join(5)


@pytest.fixture
def start_dedupe(flow_env: str) -> Iterator[Any]:
    """Start the duplicate-flagging flow with the given parameters (a DedupeParams' fields)."""
    started: list[FlowInThread] = []

    def start(**params: Any) -> FlowInThread:
        from flows.duplicate_flagging import duplicate_flagging
        from opsgate.orchestration.steps import started_by
        from tasks.duplicate_flagging.params import DedupeParams

        with started_by("test"):
            run = FlowInThread(duplicate_flagging, DedupeParams(**params))
        started.append(run)
        return run

    yield start
    for run in started:
        run.thread.join(5)
