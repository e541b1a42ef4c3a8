"""Duplicate flagging: find records that are one customer, vendor or person, propose merges, and
merge what is approved.

Trigger: the `duplicate-flagging` deployment's schedule (prefect.yaml), `opsgate run dedupe
--kind customers [--file F --id-column COL] [--incremental]`, or a run started in the Prefect UI
(its spec: tasks/duplicate_flagging/workflow.py). Proposes: `records.merge` per cluster of
duplicates and per possible duplicate, with the survivor, the merged values and the per-field
evidence. May write: the records store, through the executor, after approval (a merge marks
records as merged into the survivor and is undone with `opsgate undo`). Policy:
policies/duplicate_flagging.yaml (thresholds and survivorship under `settings`).
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from opsgate import RunSummary, check_policy, execute, finish_run, gate, start_run
from tasks.duplicate_flagging.params import DedupeParams
from tasks.duplicate_flagging.steps import gather_records, propose, remember_matched
from tasks.duplicate_flagging.workflow import WORKFLOW


@flow(name="duplicate-flagging")
def duplicate_flagging(params: DedupeParams) -> State[RunSummary]:
    """Gather the records, propose merges, wait for approval, merge, and record every step."""
    run = start_run(WORKFLOW, params.model_dump(mode="json"))
    gathered = gather_records(run, params)
    proposals = propose(run, gathered)
    verdicts = check_policy(run, proposals)
    decisions = gate(run, proposals, verdicts)
    execute(run, decisions)
    remember_matched(run, gathered)
    return finish_run(run)
