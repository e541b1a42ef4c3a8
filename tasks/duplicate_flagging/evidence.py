"""The reviewer's view of merge proposals: each cluster's records side by side, column by column,
with the merged value and how similar the compared fields are.

People judge a merge by looking at the records next to each other, not by reading a score; the
score and per-field similarities say why the engine thinks so. Ids, column names and values come
from the imported files: every one is escaped for Markdown (``display.markdown_text``).
"""

from __future__ import annotations

import pandas as pd

from opsgate import markdown_text
from tasks.duplicate_flagging.fields import Field
from tasks.duplicate_flagging.proposing import Proposed
from tasks.duplicate_flagging.store import ID_COLUMN

SHOWN_CASES = 50
SHOWN_RECORDS = 8


def _cell(value: object) -> str:
    return markdown_text("" if value is None else str(value)) or "·"


def side_by_side(proposed: Proposed, frame: pd.DataFrame, fields: list[Field]) -> str:
    """One proposal as a Markdown table: a row per column, a column per record, survivor first."""
    p = proposed.proposal
    members = frame.iloc[proposed.case.members]
    order = sorted(range(len(members)), key=lambda i: members[ID_COLUMN].iat[i] != proposed.survivor)[:SHOWN_RECORDS]
    ids = [str(members[ID_COLUMN].iat[i]) for i in order]
    compared = {f.column for f in fields}
    reasons = {k: v for k, v in p.confidence.items() if k != "match"}
    columns = [c for c in frame.columns if c != ID_COLUMN]
    escalated = (
        f" · **escalated**: {markdown_text('; '.join(e.describe() for e in p.escalations))}" if p.escalations else ""
    )
    lines = [
        f"### {markdown_text(p.case_type)}: keep {_cell(proposed.survivor)}, merge {len(members) - 1} · match {p.confidence['match']:.3f}{escalated}",
        "",
        "| column | "
        + " | ".join(f"**{_cell(i)}** (keeps)" if i == proposed.survivor else _cell(i) for i in ids)
        + " | merged | similarity |",
        "|---|" + "---|" * (len(ids) + 2),
    ]
    for column in columns:
        values = [members[column].iat[i] for i in order]
        if not any(str(v).strip() for v in values):
            continue
        name = f"**{_cell(column)}**" if column in compared else _cell(column)
        similarity = f"{reasons[column]:.2f}" if column in reasons else ("-" if column not in compared else "missing")
        lines.append(
            f"| {name} | "
            + " | ".join(_cell(v) for v in values)
            + f" | {_cell(proposed.values.get(column))} | {similarity} |"
        )
    return "\n".join(lines)


def review_markdown(
    kind: str, proposed: list[Proposed], frame: pd.DataFrame, fields: list[Field], left_out: int
) -> str:
    """The whole batch for the run's page: counts first, then each case side by side."""
    duplicates = sum(1 for p in proposed if p.proposal.case_type == "duplicate")
    head = [
        f"# Merge proposals for {markdown_text(kind)}",
        "",
        f"**{duplicates}** clusters of duplicates and **{len(proposed) - duplicates}** possible duplicates to review"
        + (f"; {left_out} rejected earlier and not proposed again" if left_out else "")
        + ". Bold columns are compared; similarity is the weakest over the cluster's linking pairs (1 = identical).",
    ]
    shown = [side_by_side(p, frame, fields) for p in proposed[:SHOWN_CASES]]
    tail = (
        [f"... and {len(proposed) - SHOWN_CASES} more: `opsgate approvals show RUN` lists them all."]
        if len(proposed) > SHOWN_CASES
        else []
    )
    return "\n\n".join(["\n".join(head), *shown, *tail])
