"""The duplicate-flagging workflow as the platform sees it: its name, and where its flow, parameters,
commands, policy settings and hooks live (names only: the platform loads each when it is used)."""

from __future__ import annotations

from opsgate import Command, WorkflowSpec

WORKFLOW = "duplicate_flagging"

SPEC = WorkflowSpec(
    name=WORKFLOW,
    alias="dedupe",
    summary="Flag duplicate customer, vendor or person records, with the evidence for each pair; merge what is approved.",
    flow="flows.duplicate_flagging:duplicate_flagging",
    params_model="tasks.duplicate_flagging.params:DedupeParams",
    commands=(
        Command(
            "dedupe",
            "tasks.duplicate_flagging.commands:dedupe",
            "Flag duplicate records in a file, with the per-field evidence for each pair. No writes.",
        ),
    ),
    settings_model="tasks.duplicate_flagging.policy:DedupePolicy",
    compare_outcomes="tasks.duplicate_flagging.outcomes:compare_outcomes",
    replay="tasks.duplicate_flagging.replay:replay",
)
