"""The approval form an approver sees on a paused run in the Prefect UI (and the CLI fills in):
a ``RunInput`` pre-filled from the proposals, with a Markdown description of the batch."""

from __future__ import annotations

from prefect.input import RunInput

from opsgate.approvals import ApprovalAnswer, PendingRequest, Review


class ApprovalForm(RunInput, ApprovalAnswer):
    """The form an approver fills in (UI) or the CLI sends: approver, batch digest, reviews."""


def _description(request: PendingRequest) -> str:
    lines = [
        f"### {len(request.proposals)} proposals of `{request.workflow}` to review",
        f"Decide by **{request.deadline:%Y-%m-%d %H:%M} UTC**. Enter your name, then for each proposal keep "
        "`approve`, or set `reject` with a reason, or change a value in `fields` to correct it.",
        "",
        "| source | summary | escalations |",
        "|---|---|---|",
        *(f"| {p.source} | {p.summary} | {', '.join(e.reason for e in p.escalations) or '-'} |" for p in request.proposals),
    ]
    return "\n".join(lines)


def approval_form(request: PendingRequest) -> type[ApprovalForm]:
    reviews = [Review(proposal_id=p.id, source=p.source, fields=p.payload or {}) for p in request.proposals]
    return ApprovalForm.with_initial_data(description=_description(request), batch_digest=request.digest, reviews=reviews)
