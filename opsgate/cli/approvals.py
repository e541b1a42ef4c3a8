"""`opsgate approvals`: list what waits for a decision, show it, approve or reject it.

A decision typed here goes through the same checks as one made in the Prefect UI, and is recorded
in the store before the paused run is woken: a decision accepted here is never lost, even when the
run's process is gone (`opsgate recover` executes it then). What documents and models put in a
proposal is shown with ``display.terminal_text`` / ``terminal_json``: never as rich markup.

An approver who has a local account (`opsgate users`), or any approver when the policy says
``approvals.identity: verified``, is asked for the account's password (a hidden prompt, or the
``OPSGATE_APPROVER_PASSWORD`` environment variable for scripts). A right password records the answer
as authenticated by ``password``; a wrong one is refused before anything is recorded.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import track
from rich.table import Table
from rich.text import Text

from opsgate.cli.errors import exits_cleanly
from opsgate.display import terminal_json, terminal_text
from opsgate.errors import ConfigurationError
from opsgate.governance import identity, requests, review
from opsgate.governance.answers import Authentication, answer_for
from opsgate.governance.requests import PendingRequest
from opsgate.governance.runs import process_state
from opsgate.governance.waiting import sure_pages

if TYPE_CHECKING:  # Prefect is imported only by the commands that wake a run
    from opsgate.orchestration.resume import Answered

app = typer.Typer(help="Review and decide the proposals waiting at a gate.", no_args_is_help=True)

AS = Annotated[
    str,
    typer.Option(
        "--as",
        help="Your name, recorded as the approver. With a local account you are asked for its password "
        f"(or set {identity.PASSWORD_ENV}).",
    ),
]


def run_pages(run_id: str) -> list[PendingRequest]:
    """The pending pages of one run, by its flow run id or an unambiguous prefix of it, oldest
    first: the first is the page the run waits on."""
    matches = [r for r in requests.pending_requests() if r.flow_run_id.startswith(run_id)]
    runs = {r.flow_run_id for r in matches}
    if len(runs) != 1:
        problem = "no pending approval" if not runs else f"pending approvals of {len(runs)} runs"
        raise ConfigurationError(f"{problem} for run {run_id!r}; see `opsgate approvals list`")
    return sorted(matches, key=lambda r: r.id)


def find_request(run_id: str) -> PendingRequest:
    """The page a run waits on: its oldest pending request."""
    return run_pages(run_id)[0]


def authenticate(approver: str, verified_required: bool) -> Authentication:
    """How this person is authenticated for what they answer: by the account's password when they
    have one or the policy requires it (a wrong password raises ``ApprovalRejected`` before anything
    is recorded), else ``typed``."""
    if not identity.has_account(approver) and not verified_required:
        return "typed"
    password = os.environ.get(identity.PASSWORD_ENV)
    if password is None:
        password = typer.prompt(f"password for {approver}", hide_input=True)
    return identity.verify_password(approver, password)


def proposals_table(request: PendingRequest) -> Table:
    table = Table("proposal", "source", "type", "action", "low confidence")
    for p in request.proposals:
        low = ", ".join(f for f, c in sorted(p.confidence.items()) if c < 0.8) or "-"
        table.add_row(*map(terminal_text, (p.id[:8], Path(p.source).name, p.case_type, p.summary, low)))
    return table


def time_left(deadline: datetime, now: datetime) -> str:
    """What is left until a deadline, as a person reads it at a glance: `2d 3h`, `3h 05m`, `12m`, `overdue`."""
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return "overdue"
    days, rest = divmod(seconds, 86400)
    hours, minutes = rest // 3600, rest % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {minutes:02d}m" if hours else f"{max(minutes, 1)}m"


@app.command("list")
@exits_cleanly
def list_(as_json: Annotated[bool, typer.Option("--json", help="A JSON array of pending approvals.")] = False) -> None:
    """Runs paused for approval, oldest first, with their Prefect state when the server answers and
    whether the run's process is still there (a decision for a run whose process is gone is kept and
    written by `opsgate recover`)."""
    from opsgate.orchestration.resume import run_states
    from opsgate.orchestration.server import reachable_api_url

    waiting = requests.pending_requests()
    now = datetime.now(timezone.utc)
    states: dict[str, str] = {}
    api_url = reachable_api_url()
    if api_url and waiting:
        states = run_states([r.flow_run_id for r in waiting], api_url)
    process = {r.flow_run_id: process_state(r.flow_run_id) for r in waiting}
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "id": r.flow_run_id,
                        "workflow": r.workflow,
                        "proposals": len(r.proposals),
                        "state": states.get(r.flow_run_id),
                        "process": process[r.flow_run_id],
                        "requested_at": r.requested_at.isoformat(),
                        "deadline": r.deadline.isoformat(),
                        "seconds_left": max(0, int((r.deadline - now).total_seconds())),
                        "pause_key": r.pause_key,
                    }
                    for r in waiting
                ],
                indent=2,
            )
        )
        return
    table = Table(
        "id (flow run)", "workflow", "page", "proposals", "state", "process", "requested", "deadline", "time left"
    )
    for r in waiting:
        cells = (
            r.flow_run_id,
            r.workflow,
            str(r.page or 1),
            str(len(r.proposals)),
            states.get(r.flow_run_id, "?"),
            process[r.flow_run_id],
            f"{r.requested_at:%Y-%m-%d %H:%M}",
            f"{r.deadline:%Y-%m-%d %H:%M}",
            time_left(r.deadline, now),
        )
        table.add_row(*map(terminal_text, cells))
    Console().print(table if waiting else "nothing waits for approval")


@app.command()
@exits_cleanly
def show(run_id: Annotated[str, typer.Argument(help="Flow run id (or a unique prefix).")]) -> None:
    """The proposals of one paused run, with their full actions."""
    request = find_request(run_id)
    console = Console()
    heading = f" run {request.flow_run_id}: {len(request.proposals)} proposals, decide by {request.deadline:%Y-%m-%d %H:%M} UTC"
    console.print(Text.assemble(terminal_text(request.workflow, "bold"), terminal_text(heading)))
    console.print(proposals_table(request))
    for p in request.proposals:
        console.print(Text.assemble("\n", terminal_text(p.id, "bold"), " ", terminal_text(p.source)))
        console.print(terminal_json(p.payload or {}))


def _parse_pairs(values: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, rest = value.partition(":")
        if not sep or not key or not rest:
            raise ConfigurationError(
                f"--{what} takes PROPOSAL:{'FIELD=VALUE' if what == 'edit' else 'REASON'}, got {value!r}"
            )
        pairs[key] = rest
    return pairs


def _resolve(pages: list[PendingRequest], prefix: str) -> str:
    ids = [p.id for page in pages for p in page.proposals if p.id.startswith(prefix)]
    if len(ids) != 1:
        raise ConfigurationError(f"{prefix!r} matches {len(ids)} proposals of the pages answered")
    return ids[0]


@app.command()
@exits_cleanly
def approve(
    run_id: Annotated[str, typer.Argument(help="Flow run id (or a unique prefix).")],
    approver: AS,
    reject: Annotated[list[str], typer.Option(help="PROPOSAL:REASON — reject this one, approve the rest.")] = [],  # noqa: B006
    edit: Annotated[
        list[str], typer.Option(help="PROPOSAL:FIELD=VALUE — approve this one with a corrected value.")
    ] = [],  # noqa: B006
    every_page: Annotated[
        bool, typer.Option("--all", help="Answer every pending page of the run, not only the one it waits on.")
    ] = False,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Answer only the pages whose proposals' required fields (the policy's missing_data) were "
            "all read with at least this confidence; the others stay pending for a closer look.",
        ),
    ] = None,
) -> None:
    """Approve the run's proposals (all, or all but the rejected ones), with any corrections: the page
    the run waits on, or with --all every page, each recorded as its own decision."""
    pending = run_pages(run_id)
    pages = pending if every_page else pending[:1]
    if min_confidence is not None:
        pages = sure_pages(pages, min_confidence)
    if not pages:
        Console().print(
            terminal_text(
                f"no page of run {pending[0].flow_run_id} is read with confidence {min_confidence} or more; nothing answered"
            )
        )
        return
    rejections = {_resolve(pages, k): v for k, v in _parse_pairs(reject, "reject").items()}
    edits: dict[str, dict[str, Any]] = {}
    for value in edit:
        key, _, assignment = value.partition(":")
        field, sep, new = assignment.partition("=")
        if not sep or not field:
            raise ConfigurationError(f"--edit takes PROPOSAL:FIELD=VALUE, got {value!r}")
        edits.setdefault(_resolve(pages, key), {})[field] = new
    authenticated_by = authenticate(approver, review.verified_required(pages[0]))
    answers = [(page, answer_for(page, approver, rejections, edits, authenticated_by)) for page in pages]
    proposals = sum(len(page.proposals) for page in pages)
    what = f"approved {proposals - len(rejections)}, rejected {len(rejections)}" + (
        f" on {len(pages)} pages" if len(pages) > 1 else ""
    )
    _submit(answers, what)


def _recording(later: list[Answered]) -> Iterable[Answered]:
    return track(later, description="recording pages", disable=len(later) < 2, transient=True)


def _submit(answers: list[Answered], what: str) -> None:
    """Record the pages and wake the run, saying what became of it."""
    from opsgate.orchestration.resume import RESUMED, submit_pages
    from opsgate.orchestration.server import prefect_api, ui_url

    with prefect_api() as api:
        woken = submit_pages(answers, _recording)
        flow_run_id = answers[0][0].flow_run_id
        if woken is None:
            waits_on = requests.next_request(flow_run_id)
            page = f"page {waits_on.page or 1}" if waits_on else "nothing"
            Console().print(terminal_text(f"{what}, recorded; the run still waits on {page}"))
        elif woken == RESUMED:
            Console().print(terminal_text(f"{what}; run resumes: {ui_url(api, flow_run_id)}"))
        else:
            Console().print(terminal_text(f"{what}, recorded; {woken}"))


@app.command("reject")
@exits_cleanly
def reject_all(
    run_id: Annotated[str, typer.Argument(help="Flow run id (or a unique prefix).")],
    approver: AS,
    reason: Annotated[str, typer.Option(help="Why: recorded in the audit log.")],
) -> None:
    """Reject every proposal of the run, on every pending page; nothing is written."""
    pages = run_pages(run_id)
    authenticated_by = authenticate(approver, review.verified_required(pages[0]))
    answers = [
        (page, answer_for(page, approver, {p.id: reason for p in page.proposals}, None, authenticated_by))
        for page in pages
    ]
    _submit(answers, f"rejected {sum(len(page.proposals) for page in pages)} proposals")
