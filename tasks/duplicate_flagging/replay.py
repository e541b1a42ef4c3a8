"""Duplicate flagging's replay: match the records of past cases again under another version of the
matching rules, to compare with the merges people approved or rejected.

A case's input is its records as they were when it was proposed (kept with the case: the records
store has changed since, merges included) and the model that scored them then. The version is the
policy's ``instruction_version``: the rules it names are the policy's matching settings
(thresholds, cohesion, cluster size, survivorship), so another version comes as a candidate policy
file (``opsgate replay dedupe --version V --policy FILE``). The records are matched again, every
pair of them, with the same model under the version's settings, and proposed as a live run would.

Only past cases are judged: records the new version would bring together that no past case held
are not seen here (a shadow run with the candidate policy shows those).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from opsgate import ConfigurationError, Proposal, Unavailable, workflow_settings
from tasks.duplicate_flagging.matching import MatchSettings, rematch
from tasks.duplicate_flagging.proposing import Matched, propose_merges
from tasks.duplicate_flagging.store import ID_COLUMN, stored_model
from tasks.duplicate_flagging.workflow import SPEC

if TYPE_CHECKING:
    from opsgate import PastCase, Policy
    from tasks.duplicate_flagging.proposing import Proposed
    from tasks.duplicate_flagging.store import StoredModel


WORKFLOW = "duplicate_flagging"


def _chosen(found: list[Proposed], survivor: str | None) -> Proposed:
    """Of the merges the new version proposes for one case's records, the one to compare with the
    case: the one keeping the case's survivor, else the largest."""
    keeping = [p for p in found if survivor in (p.survivor, *p.proposal.payload["duplicates"])]  # type: ignore[index]
    return max(keeping or found, key=lambda p: len(p.case.members))


def _answer(case: PastCase, version: str, found: list[Proposed]) -> Proposal:
    """The new version's answer for one case: the merge to compare, or a proposal of no action."""

    if not found:
        return Proposal(
            workflow=WORKFLOW,
            source=case.source,
            case_type=case.case_type,
            instruction_version=version,
            summary="no merge: under this version none of these records are duplicates or possible duplicates",
        )
    chosen = _chosen(found, (case.final_action or case.payload or {}).get("survivor"))
    chosen.proposal.source = case.source
    if len(found) > 1:
        chosen.proposal.summary += f" · these records now split into {len(found)} merges"
    return chosen.proposal


def _matched_again(cases: list[PastCase], version: str, policy: Policy, stored: StoredModel) -> list[Proposal]:
    """The cases' records (one kind, the same columns, scored by the same model) matched again in
    one pass, each case a group of its own, and proposed as a live run would."""

    columns = cases[0].inputs["columns"]
    records = [r for case in cases for r in case.inputs["records"]]
    frame = pd.DataFrame(
        [{ID_COLUMN: r["id"], **{c: r["data"].get(c, "") for c in columns}} for r in records],
        columns=[ID_COLUMN, *columns],
    )
    for f in stored.fields:  # a column every record left blank when the case was proposed
        if f.column not in frame.columns:
            frame[f.column] = ""
    groups = np.repeat(np.arange(len(cases)), [len(case.inputs["records"]) for case in cases])
    settings = workflow_settings(SPEC, policy)
    thresholds = MatchSettings(
        duplicate_at=settings.duplicate_at, review_at=settings.review_at, cohesion=settings.cohesion
    )
    decisions = rematch(frame, stored.fields, thresholds, stored.model, groups)
    matched = Matched(
        cases[0].inputs["kind"], frame, [pd.Timestamp(r["updated_at"]) for r in records], stored.fields, stored.id
    )
    found, _ = propose_merges(matched, decisions, policy, settings, rejected=[])
    by_case: dict[int, list[Proposed]] = {}
    for proposed in found:
        by_case.setdefault(int(groups[proposed.case.members[0]]), []).append(
            proposed
        )  # a merge never spans two groups: no pair does
    return [_answer(case, version, by_case.get(i, [])) for i, case in enumerate(cases)]


def replay(cases: list[PastCase], version: str, policy: Policy) -> list[Proposal | Unavailable]:
    """One new proposal per past case, in order: the merge the version proposes for the case's
    records, a proposal of no action when it finds none, or why the records cannot be matched again.
    Cases scored by the same model are matched again together, which is what makes it fast."""

    if version != policy.instruction_version:
        raise ConfigurationError(
            f"instruction version {version!r} cannot be replayed with this policy, which is version {policy.instruction_version!r} of the matching rules; "
            "give the candidate policy file that names it (instruction_version) with --policy FILE",
        )
    answers: dict[int, Proposal | Unavailable] = {}
    batches: dict[tuple[int, str, tuple[str, ...]], list[int]] = {}
    for i, case in enumerate(cases):
        if not case.inputs.get("records"):
            answers[i] = Unavailable(
                source=case.source,
                reason="the case kept no records to match again (a row that could not be read, or a case from before cases kept their inputs)",
            )
        else:
            batches.setdefault(
                (int(case.inputs["model"]), case.inputs["kind"], tuple(case.inputs["columns"])), []
            ).append(i)
    for (model_id, _, _), members in batches.items():
        stored = stored_model(model_id)
        if stored is None:
            gone = (
                f"the model that scored the case (match model {model_id}) is no longer in "
                "the store, or was fitted on other comparison levels than the rules have now"
            )
            answers.update({i: Unavailable(source=cases[i].source, reason=gone) for i in members})
            continue
        answers.update(zip(members, _matched_again([cases[i] for i in members], version, policy, stored), strict=True))
    return [answers[i] for i in range(len(cases))]
