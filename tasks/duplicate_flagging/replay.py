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

from typing import TYPE_CHECKING, Any

from opsgate.errors import ConfigurationError

if TYPE_CHECKING:
    from opsgate.models import Proposal
    from opsgate.policy.schema import Policy
    from opsgate.replay import PastCase, Unavailable
    from tasks.duplicate_flagging.proposing import Proposed

WORKFLOW = "duplicate_flagging"


def _chosen(found: list[Proposed], survivor: str | None) -> Proposed:
    """Of the merges the new version proposes for one case's records, the one to compare with the
    case: the one keeping the case's survivor, else the largest."""
    keeping = [p for p in found if survivor in (p.survivor, *p.proposal.payload["duplicates"])]  # type: ignore[index]
    return max(keeping or found, key=lambda p: len(p.case.members))


def _no_merge(case: PastCase, version: str) -> Proposal:
    from opsgate.models import Proposal

    return Proposal(
        workflow=WORKFLOW, source=case.source, case_type=case.case_type, instruction_version=version,
        summary="no merge: under this version none of these records are duplicates or possible duplicates",
    )


def _replay_one(case: PastCase, version: str, policy: Policy, models: dict[int, Any]) -> Proposal | Unavailable:
    import pandas as pd

    from opsgate.replay import Unavailable
    from tasks.duplicate_flagging.matching import MatchSettings, rematch
    from tasks.duplicate_flagging.proposing import Matched, propose_merges
    from tasks.duplicate_flagging.store import ID_COLUMN, stored_model
    from tasks.duplicate_flagging.workflow import SPEC

    inputs = case.inputs
    if not inputs.get("records"):
        return Unavailable(source=case.source, reason="the case kept no records to match again (a row that could not be read, or a case from before cases kept their inputs)")
    model_id = int(inputs["model"])
    if model_id not in models:
        models[model_id] = stored_model(model_id)
    stored = models[model_id]
    if stored is None:
        return Unavailable(source=case.source, reason=f"the model that scored the case (match model {model_id}) is no longer in the store")
    records = inputs["records"]
    frame = pd.DataFrame([{ID_COLUMN: r["id"], **{c: r["data"].get(c, "") for c in inputs["columns"]}} for r in records])
    for f in stored.fields:  # a column the case's records all left blank
        if f.column not in frame.columns:
            frame[f.column] = ""
    settings = SPEC.settings(policy)
    decisions = rematch(frame, stored.fields, MatchSettings(duplicate_at=settings.duplicate_at, review_at=settings.review_at, cohesion=settings.cohesion), stored.model)
    matched = Matched(inputs["kind"], frame, [pd.Timestamp(r["updated_at"]) for r in records], stored.fields, model_id)
    found, _ = propose_merges(matched, decisions, policy, settings, rejected=[])
    if not found:
        return _no_merge(case, version)
    chosen = _chosen(found, (case.final_action or case.payload or {}).get("survivor"))
    chosen.proposal.source = case.source
    if len(found) > 1:
        chosen.proposal.summary += f" · these records now split into {len(found)} merges"
    return chosen.proposal


def replay(cases: list[PastCase], version: str, policy: Policy) -> list[Proposal | Unavailable]:
    """One new proposal per past case, in order: the merge the version proposes for the case's
    records, a proposal of no action when it finds none, or why the records cannot be matched again."""
    if version != policy.instruction_version:
        raise ConfigurationError(
            f"instruction version {version!r} cannot be replayed with this policy, which is version {policy.instruction_version!r} of the matching rules; "
            "give the candidate policy file that names it (instruction_version) with --policy FILE",
        )
    models: dict[int, Any] = {}  # each stored model read once
    return [_replay_one(case, version, policy, models) for case in cases]
