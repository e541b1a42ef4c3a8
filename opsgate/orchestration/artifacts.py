"""What people see on a run's page in the Prefect UI: the proposals to review, the run's outcome.

Sources, details and proposed values come from documents and models, and Prefect's UI renders
Markdown artifacts and every text cell of a table artifact as Markdown (raw HTML included): each
goes through ``display.markdown_text``, so a file named ``<img src=x onerror=...>|x.pdf`` is shown
as that name and keeps the table's columns.
"""

from __future__ import annotations

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from opsgate.display import markdown_text
from opsgate.models import Proposal, RunSummary, Status


def _key(workflow: str, what: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only; stable per workflow."""
    return f"{workflow.replace('_', '-')}-{what}"


def proposal_row(proposal: Proposal) -> dict[str, str]:
    """One row of the proposals table artifact, every cell escaped for Prefect's Markdown cells."""
    shown = {k: "" if v is None else str(v) for k, v in (proposal.payload or {}).items() if k != "source"}
    low = sorted((f for f, c in proposal.confidence.items() if c < 0.8), key=proposal.confidence.get)
    row = {
        "proposal": proposal.id,
        "source": proposal.source,
        "case type": proposal.case_type,
        **shown,
        "low confidence": ", ".join(low) or "-",
    }
    return {name: markdown_text(value) for name, value in row.items()}


ROWS_SHOWN = 200  # an artifact shows at most this many rows: a 10,000-row table helps nobody and burdens the server


def _surest(proposal: Proposal) -> float:
    return min(proposal.confidence.values(), default=1.0)


def shown_proposals(proposals: list[Proposal]) -> list[Proposal]:
    """The proposals the table shows: all of a small batch; of a large one, the least surely read
    first, up to ``ROWS_SHOWN`` (every proposal is on the review screen and in `opsgate approvals show`)."""
    if len(proposals) <= ROWS_SHOWN:
        return proposals
    return sorted(proposals, key=_surest)[:ROWS_SHOWN]


def publish_proposals(workflow: str, proposals: list[Proposal]) -> None:
    shown = shown_proposals(proposals)
    more = (
        f"; the {len(shown)} least surely read are shown, all of them on the review screen"
        if len(shown) < len(proposals)
        else ""
    )
    create_table_artifact(
        key=_key(workflow, "proposals"),
        table=[proposal_row(p) for p in shown],
        description=f"{len(proposals)} proposals of {workflow} waiting for approval{more}",
    )


def publish_review_link(workflow: str, url: str, count: int) -> None:
    """The run's page in the Prefect UI links to where approvers decide with the source beside
    each proposal, rather than in the Resume dialog."""
    create_link_artifact(
        key=_key(workflow, "review"),
        link=url,
        link_text="Decide on the review screen",
        description=f"{count} proposals of {workflow} wait for approval: decide on the review screen",
    )


def summary_markdown(summary: RunSummary) -> str:
    """The run summary: counts per final state, then a table of where each input ended: every one
    of a small run; of a large one, those that did not end executed first, up to ``ROWS_SHOWN``
    (the whole run is in `opsgate runs show`)."""
    outcomes = sorted(summary.outcomes, key=lambda o: o.status == Status.EXECUTED)[:ROWS_SHOWN]
    left_out = len(summary.outcomes) - len(outcomes)
    return "\n".join(
        [
            f"# {summary.workflow}: run summary",
            "",
            " · ".join(f"**{count}** {status}" for status, count in sorted(summary.counts.items())),
            "",
            "| source | status | detail |",
            "|---|---|---|",
            *(
                f"| {markdown_text(o.source)} | {markdown_text(o.status)} | {markdown_text(o.detail)} |"
                for o in outcomes
            ),
            *(["", f"… and {left_out} more: `opsgate runs show {markdown_text(summary.run_id)}`"] if left_out else []),
        ]
    )


def publish_summary(summary: RunSummary) -> None:
    create_markdown_artifact(
        key=_key(summary.workflow, "summary"),
        markdown=summary_markdown(summary),
        description="Where every input of the run ended",
    )
