"""A large inbox through the gate, approved from the CLI in one answer, as an AP clerk at month end
would: the invoice flow reads and proposes every document, the gate opens its pages, one
`opsgate approvals approve RUN --as alice --all` answers them all, and the run writes every posting.

    python3 -m uv run python benchmarks/approval_at_volume.py [--documents 10000] [--database-url URL]

Generated text PDFs (the three sample layouts, each with its own number); a fresh SQLite store in a
temp folder unless --database-url names another (an empty PostgreSQL schema, say). Uses the
configured Prefect server (PREFECT_API_URL) or opsgate's local one. Prints the data size and pages,
seconds to read and propose, seconds of the approving command, proposal-to-last-write seconds (from
the first `proposed` audit event to the last `executed` one), postings written, and the Prefect task
runs of the flow run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from uuid import UUID

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.batches import generated_inbox  # noqa: E402


def _pages(workflow: str, timeout: float) -> list[Any]:
    """The run's pages, once the gate has opened them (all in one transaction)."""
    from opsgate.governance import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = requests.pending_requests(workflow)
        if pending:
            return pending
        time.sleep(0.5)
    raise SystemExit("the gate never opened: see the flow's log")


def _approve_when_open(api_url: str, clerk: dict[str, Any]) -> None:
    """An AP clerk: once the gate has opened its pages, one `opsgate approvals approve RUN --all`."""
    pages = _pages("invoice_extraction", timeout=3600)
    clerk.update(opened=time.perf_counter(), pages=pages, flow_run_id=pages[0].flow_run_id)
    approving = subprocess.run(
        [sys.executable, "-m", "opsgate", "approvals", "approve", pages[0].flow_run_id, "--as", "alice", "--all"],
        env={**os.environ, "PREFECT_API_URL": api_url},
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    clerk["approved"] = time.perf_counter()
    if approving.returncode != 0:
        print(f"the approval failed: {approving.stdout}{approving.stderr}", flush=True)


def _task_runs(flow_run_id: str) -> dict[str, int]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs: list[Any] = []
    with get_client(sync_client=True) as client:
        while page := client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])), limit=200, offset=len(runs)
        ):
            runs.extend(page)
    names: dict[str, int] = {}
    for run in runs:
        name = run.name.rsplit("-", 1)[0]
        names[name] = names.get(name, 0) + 1
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="opsgate-volume-"))
    os.environ["OPSGATE_DATABASE_URL"] = args.database_url or f"sqlite:///{scratch / 'opsgate.db'}"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"

    from sqlalchemy import func, select

    from flows.invoice_extraction import invoice_extraction
    from opsgate.orchestration.server import prefect_api
    from opsgate.store.db import transaction
    from opsgate.store.tables import AuditRow, PayableRow
    from tasks.invoice_extraction.params import InvoiceParams

    start = time.perf_counter()
    generated_inbox(scratch / "inbox", args.documents)
    print(f"inbox: documents={args.documents} generated_seconds={time.perf_counter() - start:.1f}")
    with prefect_api() as api_url:
        clerk: dict[str, Any] = {}
        approver = threading.Thread(target=_approve_when_open, args=(api_url, clerk), name="ap-clerk", daemon=True)
        started = time.perf_counter()
        approver.start()
        summary = invoice_extraction(
            InvoiceParams(inbox=scratch / "inbox")
        )  # here: Prefect's settings are this thread's
        done = time.perf_counter()
        approver.join()
        tasks = _task_runs(clerk["flow_run_id"])
    with transaction() as session:
        first = session.execute(select(func.min(AuditRow.at)).where(AuditRow.event == "proposed")).scalar_one()
        last = session.execute(select(func.max(AuditRow.at)).where(AuditRow.event == "executed")).scalar_one()
        written = session.execute(select(func.count()).select_from(PayableRow)).scalar_one()
    pages, opened, approved = clerk["pages"], clerk["opened"], clerk["approved"]
    proposals = sum(len(p.proposals) for p in pages)
    print(
        f"store={os.environ['OPSGATE_DATABASE_URL'].split('?')[0]} documents={args.documents} proposals={proposals} pages={len(pages)}"
    )
    print(f"read + propose + open the gate  seconds={opened - started:7.1f}")
    print(f"approve --all (whole command)   seconds={approved - opened:7.1f}")
    print(f"approved to run finished        seconds={done - approved:7.1f}")
    print(f"proposal to last write          seconds={(last - first).total_seconds():7.1f} written={written}")
    print(f"prefect task runs of the run    count={sum(tasks.values())} {tasks}")
    print(f"run outcome: {summary.counts}")


if __name__ == "__main__":
    main()
