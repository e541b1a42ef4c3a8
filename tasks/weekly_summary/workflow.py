"""The weekly-summary workflow as the platform sees it (no Prefect import here). Its governed flow
(draft, approve, publish) is not built yet, so it offers its read-only command only."""

from __future__ import annotations

from opsgate.workflows import WorkflowSpec
from tasks.weekly_summary.commands import summary

WORKFLOW = "weekly_summary"

SPEC = WorkflowSpec(
    name=WORKFLOW,
    alias="summary",
    summary="The weekly operations summary: figures computed from the events, never invented.",
    commands=[summary],
)
