"""What people see on a run's page in the Prefect UI: the proposals to review, the run's outcome."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from opsgate.models import Proposal, RunSummary


def _key(workflow: str, what: str) -> str:
    """Artifact keys allow lowercase letters, digits and dashes only; stable per workflow."""
    return f"{workflow.replace('_', '-')}-{what}"


def _row(proposal: Proposal) -> dict[str, str]:
    shown = {k: "" if v is None else str(v) for k, v in (proposal.payload or {}).items() if k != "source"}
    low = sorted((f for f, c in proposal.confidence.items() if c < 0.8), key=proposal.confidence.get)
    return {"proposal": proposal.id, "source": proposal.source, "case type": proposal.case_type, **shown, "low confidence": ", ".join(low) or "-"}


def publish_proposals(workflow: str, proposals: list[Proposal]) -> None:
    create_table_artifact(
        key=_key(workflow, "proposals"),
        table=[_row(p) for p in proposals],
        description=f"{len(proposals)} proposals of {workflow} waiting for approval",
    )


def publish_summary(summary: RunSummary) -> None:
    lines = [
        f"# {summary.workflow}: run summary",
        "",
        " · ".join(f"**{count}** {status}" for status, count in sorted(summary.counts.items())),
        "",
        "| source | status | detail |",
        "|---|---|---|",
        *(f"| {o.source} | {o.status} | {o.detail.replace('|', '/')} |" for o in summary.outcomes),
    ]
    create_markdown_artifact(key=_key(summary.workflow, "summary"), markdown="\n".join(lines), description="Where every input of the run ended")
