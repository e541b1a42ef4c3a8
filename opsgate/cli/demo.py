"""`opsgate demo`: the whole governed path on shipped sample invoices, in one terminal.

The run happens in a second process, as it would in production (a worker or another terminal);
this process plays the approver: it shows the proposals and the UI link, asks, resumes the run
through the same path as `opsgate approvals approve`, then shows what was written and the trail.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from opsgate.cli.approvals import proposals_table
from opsgate.cli.audit import trail_table
from opsgate.cli.errors import exits_cleanly
from opsgate.cli.runs import cases_table
from opsgate.display import terminal_text
from opsgate.errors import ConfigurationError
from opsgate.governance import requests
from opsgate.governance.answers import answer_for
from opsgate.governance.requests import PendingRequest
from opsgate.governance.runs import run_record
from opsgate.settings import get_settings
from opsgate.store import audit as audit_log
from opsgate.store.db import transaction
from opsgate.store.tables import PayableRow, RunRow
from opsgate.workflows import WorkflowSpec, load, workflows

console = Console()


def _demo_spec() -> WorkflowSpec:
    for spec in workflows().values():
        if spec.demo_params is not None:
            return spec
    raise ConfigurationError("no installed workflow has demo inputs")


def _wait_for_request(
    started: datetime, process: subprocess.Popen[bytes], workflow: str, log: str
) -> PendingRequest | None:
    with console.status("running the workflow: reading, extracting, proposing…"):
        while process.poll() is None:
            for request in requests.pending_requests(workflow):
                if request.requested_at.replace(tzinfo=request.requested_at.tzinfo or timezone.utc) >= started:
                    return request
            time.sleep(0.5)
    if process.returncode != 0:
        raise ConfigurationError(f"the demo run failed (exit {process.returncode}); its log: {log}")
    return None


@exits_cleanly
def demo(
    yes: Annotated[bool, typer.Option("--yes", help="Approve without asking, as the approver 'demo'.")] = False,
) -> None:
    """Run the invoice workflow on the sample invoices and walk through the approval."""
    from opsgate.orchestration.resume import submit
    from opsgate.orchestration.server import configured_api_url, ensure_local_server, prefect_api, ui_url

    spec = _demo_spec()
    settings = get_settings()
    scratch = settings.data_dir / "demo" / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    params = load(spec.demo_params)(scratch)  # type: ignore[arg-type]
    log_path = scratch / "run.log"
    if not configured_api_url():
        with console.status("starting the local Prefect server (once; later runs reuse it)…"):
            ensure_local_server()
    with prefect_api() as api:
        console.print(
            f"opsgate demo · Prefect server {api.removesuffix('/api')} · store {settings.store_url}", highlight=False
        )
        started = datetime.now(timezone.utc)
        options = [
            f"--{name.replace('_', '-')}={value}"
            for name, value in params.model_dump(mode="json").items()
            if value is not None
        ]
        with log_path.open("wb") as log:
            env = {
                **os.environ,
                "OPSGATE_APPROVAL_POLL_INTERVAL": os.environ.get("OPSGATE_APPROVAL_POLL_INTERVAL", "1"),
            }
            process = subprocess.Popen(
                [sys.executable, "-m", "opsgate", "run", spec.alias, *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        request = _wait_for_request(started, process, spec.name, str(log_path))
        if request is None:
            console.print("the run finished without anything to approve")
        else:
            record = run_record(request.flow_run_id)
            if record is not None:
                console.print(cases_table(record))
            console.print(proposals_table(request))
            console.print(
                f"\nThe run is paused for approval. In the Prefect UI: [link]{ui_url(api, request.flow_run_id)}[/]"
            )
            console.print(
                f"or from another terminal: opsgate approvals approve {request.flow_run_id} --as YOUR_NAME\n",
                highlight=False,
            )
            approver = "demo" if yes else typer.prompt("Your name, recorded as the approver", default="demo")
            if yes or typer.confirm(f"Approve all {len(request.proposals)} proposals as {approver!r}?", default=True):
                answer = answer_for(request, approver)
            else:
                reason = typer.prompt("Reason for rejecting them", default="rejected in the demo")
                answer = answer_for(request, approver, {p.id: reason for p in request.proposals})
            submit(request, answer)
        with console.status("executing the approved actions…"):
            process.wait()
        if process.returncode != 0:
            raise ConfigurationError(f"the demo run failed (exit {process.returncode}); its log: {log_path}")
    _report(request)


def _report(request: PendingRequest | None) -> None:
    with transaction() as session:
        ids = [p.id for p in request.proposals] if request else []
        payables = (
            session.execute(select(PayableRow).where(PayableRow.proposal_id.in_(ids)).order_by(PayableRow.id))
            .scalars()
            .all()
        )
        run_id = session.execute(
            select(RunRow.id).where(RunRow.flow_run_id == (request.flow_run_id if request else ""))
        ).scalar_one_or_none()
        trail = [
            r for r in audit_log.export_rows(session) if run_id and r["run_id"] == run_id or r["proposal_id"] in ids
        ]
        verified = audit_log.verify(session)
    written = Table("payable", "vendor", "invoice", "date", "currency", "total", title="written to the payables ledger")
    for p in payables:
        written.add_row(
            *map(
                terminal_text,
                (str(p.id), p.vendor_name or "", p.invoice_number, str(p.invoice_date), p.currency, str(p.total)),
            )
        )
    console.print(written)
    console.print(trail_table(trail))
    state = "[green]intact[/]" if verified.ok else f"[red]broken[/]: {verified.problem}"
    console.print(f"audit chain: {verified.rows} rows, {state} · export it with `opsgate audit export --format csv`")
