"""The weekly-summary workflow as the platform sees it: its name, and where its flow, parameters,
commands, policy settings and hooks live (names only: the platform loads each when it is used)."""

from __future__ import annotations

from opsgate import Command, WorkflowSpec

WORKFLOW = "weekly_summary"

SPEC = WorkflowSpec(
    name=WORKFLOW,
    alias="summary",
    summary="The weekly operations summary: figures computed from the events and the store, phrased without inventing one, published after approval.",
    flow="flows.weekly_summary:weekly_summary",
    params_model="tasks.weekly_summary.params:SummaryParams",
    commands=(
        Command(
            "summary",
            "tasks.weekly_summary.commands:summary",
            "The weekly operations summary: its facts, computed from the events.",
        ),
    ),
    settings_model="tasks.weekly_summary.policy:SummarySettings",
    compare_outcomes="tasks.weekly_summary.outcomes:compare_outcomes",
    replay="tasks.weekly_summary.replay:replay",
)
