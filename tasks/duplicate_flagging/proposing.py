"""From matched records to merge proposals a person can judge: one per cluster of duplicates,
one per possible duplicate, each with the survivor, the merged values and the evidence.

A cluster people rejected before is not proposed again while its records stand as they were;
a cluster larger than the policy allows goes to the owner instead (it usually means a shared
placeholder value, a switchboard number or a head-office address, not one record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from opsgate import Escalation, EscalationReason, Policy, Proposal, RecordMerge, RecordsMerge
from tasks.duplicate_flagging.clustering import components
from tasks.duplicate_flagging.fields import Field, Kind
from tasks.duplicate_flagging.matching import Decisions
from tasks.duplicate_flagging.policy import DedupePolicy, Survivorship
from tasks.duplicate_flagging.store import ID_COLUMN
from tasks.duplicate_flagging.survivorship import Candidate, merge_values, source_rank

TOOLS_USED = ["records.read"]
DUPLICATE, REVIEW = "duplicate", "review"
SHOWN_IDS = 5
IDENTIFYING = (Kind.EMAIL, Kind.PHONE, Kind.IDENTIFIER)  # an exact match on one of these is strong evidence on its own


@dataclass
class MergeCase:
    """Records that may be one, with the scored pairs that say so."""

    case_type: str
    members: np.ndarray  # frame positions
    pairs: np.ndarray  # rows of the decisions that link the members


@dataclass
class Proposed:
    proposal: Proposal
    case: MergeCase
    survivor: str
    values: dict[str, str]


def _groups(labels: np.ndarray) -> dict[int, np.ndarray]:
    """Members of every cluster with more than one record, without a pass over all records per cluster."""
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    ends = np.r_[starts[1:], len(order)]
    return {int(sorted_labels[s]): order[s:e] for s, e in zip(starts, ends) if e - s > 1}


def merge_cases(decisions: Decisions) -> list[MergeCase]:
    """Clusters of duplicates, then possible duplicates. Possible-duplicate links join whole
    clusters (or single records), and clusters linked through each other form one case: approving
    it merges everything it implies, and no two review cases overlap."""
    labels = decisions.labels
    groups = _groups(labels)
    rows = np.arange(len(decisions.a))
    cases = []
    by_cluster: dict[int, list[int]] = {}
    for row in rows[decisions.duplicate]:
        by_cluster.setdefault(int(labels[decisions.a[row]]), []).append(int(row))
    for label, linked in by_cluster.items():
        cases.append(MergeCase(DUPLICATE, groups[label], np.array(linked)))
    review = rows[~decisions.duplicate]
    if len(review):
        ends = np.concatenate([labels[decisions.a[review]], labels[decisions.b[review]]])
        linked_labels, index = np.unique(ends, return_inverse=True)
        half = len(review)
        component = components(len(linked_labels), index[:half], index[half:])
        alone = {
            int(labels[r]): np.array([r]) for r in np.concatenate([decisions.a[review], decisions.b[review]])
        }  # records in no cluster
        for c in np.unique(component):
            members = [groups.get(int(label), alone.get(int(label))) for label in linked_labels[component == c]]
            cases.append(MergeCase(REVIEW, np.unique(np.concatenate(members)), review[component[index[:half]] == c]))
    return cases


def recency(frame: pd.DataFrame, updated_at: list, rules: Survivorship) -> np.ndarray:
    """Seconds since the epoch per record: the policy's date column, else when the store last
    changed the record. An unreadable date ranks as oldest, never as now."""
    if rules.recency_column and rules.recency_column in frame.columns:
        parsed = pd.to_datetime(
            frame[rules.recency_column].replace("", None), errors="coerce", format="mixed", utc=True
        )
        seconds = parsed.astype("int64").to_numpy(dtype=np.float64) / 1e9
        return np.where(parsed.isna().to_numpy(), -np.inf, seconds)
    return np.array([pd.Timestamp(t).timestamp() for t in updated_at], dtype=np.float64)


def _reasons(case: MergeCase, decisions: Decisions, fields: list[Field]) -> dict[str, float]:
    """Per field, the weakest similarity among the pairs that link the case (NaN fields left out)."""
    similarities = decisions.similarities[case.pairs]
    found = {}
    for i, f in enumerate(fields):
        column = similarities[:, i]
        if not np.isnan(column).all():
            found[f.column] = round(float(np.nanmin(column)), 3)
    return found


def _ids(ids: list[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


@dataclass
class Matched:
    """Records of one kind as matched: the frame, when the store last changed each, what was
    compared and with which stored model. What a case keeps of it is what replay reads again."""

    kind: str
    frame: pd.DataFrame
    updated_at: list
    fields: list[Field]
    model_id: int

    def inputs(self, members: np.ndarray) -> dict[str, Any]:
        """The case's records as they are now (blank values left out), and the model that scored them."""
        columns = [c for c in self.frame.columns if c != ID_COLUMN]
        records = [
            {
                "id": str(self.frame.iat[i, 0]),
                "updated_at": pd.Timestamp(self.updated_at[i]).isoformat(),
                "data": {c: v for c, v in zip(columns, self.frame.iloc[i, 1:]) if v != ""},
            }
            for i in members
        ]
        return {"kind": self.kind, "model": self.model_id, "columns": columns, "records": records}


def _context(case: MergeCase, fields: list[Field], reasons: dict[str, float]) -> dict[str, Any]:
    """Facts a policy's case types may test: how many records, and whether an identifying field
    (e-mail, phone, an id) agrees exactly on every pair that links them."""
    identifying = [f.column for f in fields if f.kind in IDENTIFYING and f.column in reasons]
    return {"records": len(case.members), "shared_identifier": any(reasons[c] >= 1.0 for c in identifying)}


def propose_merges(
    matched: Matched,
    decisions: Decisions,
    policy: Policy,
    settings: DedupePolicy,
    rejected: list[frozenset[str]],
) -> tuple[list[Proposed], int]:
    """One merge proposal per case not rejected before; returns them and how many were left out as rejected."""
    kind, frame, fields = matched.kind, matched.frame, matched.fields
    ids = frame[ID_COLUMN].to_numpy(dtype=object)
    data_columns = [c for c in frame.columns if c != ID_COLUMN]
    rules = settings.survivorship
    seconds = recency(frame, matched.updated_at, rules)
    sources = frame[rules.source_column].to_numpy(dtype=object) if rules.source_column in frame.columns else None
    proposed, left_out = [], 0
    for case in merge_cases(decisions):
        members = [str(ids[i]) for i in case.members]
        if any(frozenset(members) <= group for group in rejected):
            left_out += 1
            continue
        candidates = [
            Candidate(
                external_id=str(ids[i]),
                values={c: str(frame.iat[i, frame.columns.get_loc(c)]) for c in data_columns},
                recency=float(seconds[i]),
                source_rank=source_rank(str(sources[i]), rules.source_priority) if sources is not None else 0,
            )
            for i in case.members
        ]
        survivor, values = merge_values(candidates, rules)
        duplicates = [c.external_id for c in candidates if c.external_id != survivor.external_id]
        reasons = _reasons(case, decisions, fields)
        match = round(float(decisions.probability[case.pairs].min()), 4)
        escalations = []
        if len(members) > settings.max_cluster_size:
            escalations.append(
                Escalation(
                    reason=EscalationReason.OUT_OF_POLICY,
                    field="cluster",
                    detail=f"{len(members)} records in one cluster; the policy proposes merges of up to {settings.max_cluster_size}",
                )
            )
        payload = RecordMerge(kind=kind, survivor=survivor.external_id, duplicates=duplicates, values=values)
        summary = (
            f"keep {survivor.external_id} ({_label(survivor, fields)}), merge {_ids(duplicates)} · match {match:.3f} · "
            + ", ".join(f"{column} {value:.2f}" for column, value in reasons.items())
        )
        proposal = Proposal(
            workflow=policy.workflow,
            source=f"{kind}: {_ids(sorted(members))}",
            case_type=case.case_type,
            tool=RecordsMerge.tool,
            payload=payload.model_dump(mode="json"),
            summary=summary,
            confidence={"match": match, **reasons},
            escalations=escalations,
            instruction_version=policy.instruction_version,
            tools_used=TOOLS_USED,
            context=_context(case, fields, reasons),
            inputs=matched.inputs(case.members),
        )
        proposed.append(Proposed(proposal, case, survivor.external_id, values))
    return proposed, left_out


def _label(candidate: Candidate, fields: list[Field]) -> str:
    """The record's compared values in short: what a reviewer recognises it by."""
    shown = [candidate.values.get(f.column, "") for f in fields[:2]]
    return " ".join(v for v in shown if v) or candidate.external_id
