"""The request-triage workflow as the platform sees it: its name, and where its flow, parameters,
commands and policy settings live (names only: the platform loads each when it is used)."""

from __future__ import annotations

from opsgate import Command, WorkflowSpec

WORKFLOW = "request_triage"

SPEC = WorkflowSpec(
    name=WORKFLOW,
    alias="triage",
    summary="Propose a queue, priority, language and entities for inbound requests, learnt from the team's routing; open the tickets that are approved.",
    flow="flows.request_triage:request_triage",
    params_model="tasks.request_triage.params:TriageParams",
    commands=(
        Command(
            "triage",
            "tasks.request_triage.commands:triage",
            "Triage requests (.eml, mbox, .txt, CSV/JSON lines): queue, priority, entities. `triage train` learns the queues.",
        ),
    ),
    settings_model="tasks.request_triage.policy:TriageSettings",
    compare_outcomes="tasks.request_triage.outcomes:compare_outcomes",
    replay="tasks.request_triage.replay:replay",
    take_up="tasks.request_triage.taking_up:take_up",
    take_up_form="tasks.request_triage.taking_up:take_up_form",
)
