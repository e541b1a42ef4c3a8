"""The duplicate-flagging workflow as the platform sees it (no Prefect import here)."""

from __future__ import annotations

from opsgate.workflows import WorkflowSpec
from tasks.duplicate_flagging.commands import dedupe

WORKFLOW = "duplicate_flagging"

SPEC = WorkflowSpec(
    name=WORKFLOW,
    alias="dedupe",
    summary="Flag duplicate customer, vendor or person records, with the evidence for each pair.",
    commands=[dedupe],
)
