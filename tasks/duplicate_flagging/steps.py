"""The duplicate-flagging workflow's steps as Prefect tasks: gather the records, propose merges,
and remember which records have been matched as they are now."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from opsgate import (
    ConfigurationError,
    InputError,
    Proposal,
    RowProblem,
    Run,
    approved_pairs,
    mark_matched,
    read_records,
    workflow_settings,
)
from tasks.duplicate_flagging.evidence import review_markdown
from tasks.duplicate_flagging.fields import Field, infer_fields, parse_fields
from tasks.duplicate_flagging.learning import learn_from_approvals
from tasks.duplicate_flagging.matching import MatchSettings, find_duplicates
from tasks.duplicate_flagging.params import DedupeParams
from tasks.duplicate_flagging.proposing import Matched, propose_merges
from tasks.duplicate_flagging.store import (
    ID_COLUMN,
    StoredModel,
    StoredRecords,
    import_records,
    latest_model,
    live_records,
    rejected_groups,
    save_model,
    unsettled_records,
)
from tasks.duplicate_flagging.workflow import SPEC

logger = logging.getLogger(__name__)


@dataclass
class Gathered:
    """The live records of one kind, what to compare, and which records this run is about."""

    kind: str
    stored: StoredRecords
    fields: list[Field]
    focus: np.ndarray | None = None  # incremental: the new or changed records; None: all of them
    model: StoredModel | None = None  # incremental: the last full run's model
    problems: list[RowProblem] = field(default_factory=list)
    source: str = ""


def _fields(params: DedupeParams, columns: list[str]) -> list[Field]:
    if params.fields:
        return parse_fields(params.fields, columns, ID_COLUMN)
    chosen, skipped = infer_fields(columns, ID_COLUMN)
    if skipped:
        logger.info("not compared (name them with --fields): %s", ", ".join(skipped))
    return chosen


@task(name="gather-records", cache_policy=NO_CACHE)
def gather_records(run: Run, params: DedupeParams) -> Gathered:
    problems: list[RowProblem] = []
    source = f"{params.kind} store"
    if params.file is not None:
        assert params.id_column is not None, "checked by DedupeParams"
        records = read_records(params.file, params.id_column, delimiter=params.delimiter, encoding=params.encoding)
        if ID_COLUMN in records.frame.columns:
            raise InputError(
                f"{params.file}: the column name {ID_COLUMN!r} is reserved for record ids; rename that column"
            )
        counts = import_records(
            params.kind,
            records.frame,
            params.id_column,
            workflow=run.workflow,
            run_id=run.id,
            actor=run.trigger,
            source=str(params.file),
        )
        logger.info(
            "%s: %d new, %d changed, %d unchanged records; %d rows not usable",
            params.file,
            counts.inserted,
            counts.updated,
            counts.unchanged,
            len(records.problems),
        )
        problems, source = records.problems, str(params.file)
    stored = live_records(params.kind)
    if len(stored.frame) == 0 and not problems:
        raise InputError(f"no live {params.kind} records in the store; load some with --file and --id-column")
    fields = _fields(params, list(stored.frame.columns)) if len(stored.frame) else []
    if len(stored.frame) and not fields:
        raise ConfigurationError(
            f"no {params.kind} column is named as a name, address, phone, e-mail, date or id; say which with --fields"
        )
    gathered = Gathered(kind=params.kind, stored=stored, fields=fields, problems=problems, source=source)
    if params.incremental:
        gathered.model = latest_model(run.workflow, params.kind, fields)
        if gathered.model is None:
            logger.warning(
                "no model from a full run on these fields yet: matching all %d records and fitting one",
                len(stored.frame),
            )
        else:
            gathered.focus = stored.changed
            logger.info(
                "incremental: %d of %d records are new or changed", int(stored.changed.sum()), len(stored.frame)
            )
    return gathered


@task(name="propose-merges", cache_policy=NO_CACHE)
def propose(run: Run, gathered: Gathered) -> list[Proposal]:
    failed = [
        Proposal(
            workflow=run.workflow,
            source=f"{gathered.source} {p.where}",
            case_type="record",
            error=p.reason,
            instruction_version=run.policy.instruction_version,
        )
        for p in gathered.problems
    ]
    frame = gathered.stored.frame
    if len(frame) < 2 or (gathered.focus is not None and not gathered.focus.any()):
        logger.info("nothing to match: %d live records, none new or changed", len(frame))
        return failed
    policy = workflow_settings(SPEC, run.policy)
    settings = MatchSettings(duplicate_at=policy.duplicate_at, review_at=policy.review_at, cohesion=policy.cohesion)
    decisions = find_duplicates(
        frame, gathered.fields, settings, focus=gathered.focus, model=gathered.model.model if gathered.model else None
    )
    used = gathered.model
    if used is None:
        confirmed = approved_pairs(gathered.kind)
        if confirmed:  # the unsupervised fit, refined by the merges people approved, decides
            model = learn_from_approvals(decisions.scored.model, gathered.fields, confirmed)
            decisions = find_duplicates(frame, gathered.fields, settings, model=model)
            logger.info("model refined by %d approved pairs", len(confirmed))
        used = save_model(run.workflow, gathered.kind, gathered.fields, decisions.scored.model, run.id, len(confirmed))
    rejected = rejected_groups(run.workflow, gathered.kind)
    matched = Matched(gathered.kind, frame, gathered.stored.updated_at, gathered.fields, used.id)
    proposed, left_out = propose_merges(matched, decisions, run.policy, policy, rejected)
    logger.info(
        "%d candidate pairs compared: %d merge proposals (%d clusters, %d possible duplicates), %d rejected earlier and left out",
        decisions.scored.candidates,
        len(proposed),
        sum(1 for p in proposed if p.proposal.case_type == "duplicate"),
        sum(1 for p in proposed if p.proposal.case_type == "review"),
        left_out,
    )
    if proposed:
        create_markdown_artifact(
            key=f"{run.workflow.replace('_', '-')}-side-by-side",
            markdown=review_markdown(gathered.kind, proposed, frame, gathered.fields, left_out),
            description="Each proposed merge's records side by side, with the merged values and the evidence",
        )
    return failed + [p.proposal for p in proposed]


@task(name="mark-matched", cache_policy=NO_CACHE)
def remember_matched(run: Run, gathered: Gathered) -> int:
    """Records this run matched, except those in proposals that ended undecided (expired,
    failed): an incremental run will look at those again."""
    frame = gathered.stored.frame
    if not len(frame):
        return 0
    unsettled = unsettled_records(run.workflow, run.id)
    matched = gathered.focus.copy() if gathered.focus is not None else np.ones(len(frame), dtype=bool)
    matched &= ~frame[ID_COLUMN].isin(unsettled).to_numpy()
    mark_matched(gathered.stored.row_ids[matched].tolist())
    return int(matched.sum())
