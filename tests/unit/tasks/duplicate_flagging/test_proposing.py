"""From scored pairs to merge cases: a cluster per group of duplicates, and a possible duplicate
that links two clusters proposes merging both, so approving it leaves nothing half merged."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd

from opsgate.models import Route
from opsgate.policy.engine import route
from opsgate.policy.loader import load_policy
from opsgate.policy.runtime import Policy
from opsgate.writers.records import RecordMerge
from tasks.duplicate_flagging.fields import Field, Kind
from tasks.duplicate_flagging.matching import Decisions
from tasks.duplicate_flagging.policy import DedupePolicy
from tasks.duplicate_flagging.proposing import DUPLICATE, REVIEW, Matched, merge_cases, propose_merges
from tasks.duplicate_flagging.store import ID_COLUMN


def _decisions(pairs: list[tuple[int, int, float, bool]], labels: list[int], fields: int = 2) -> Decisions:
    a, b, p, dup = (np.array(column) for column in zip(*pairs))
    return Decisions(
        a=a,
        b=b,
        probability=p.astype(float),
        duplicate=dup.astype(bool),
        similarities=np.ones((len(pairs), fields), dtype=np.float32),
        labels=np.array(labels),
        scored=None,  # type: ignore[arg-type]  # not read when forming cases
    )


def test_clusters_and_review_pairs_become_cases() -> None:
    # records 0-1-2 are one cluster, 3-4 another, 5 and 6 alone, 7-8 a third cluster;
    # 2~3 and 3~5 link clusters 0 and 1 and record 5 into one review case; 6~7 another
    decisions = _decisions(
        [
            (0, 1, 0.999, True),
            (1, 2, 0.995, True),
            (3, 4, 0.998, True),
            (7, 8, 0.999, True),
            (2, 3, 0.7, False),
            (4, 5, 0.6, False),
            (3, 5, 0.8, False),
            (6, 7, 0.55, False),
        ],
        labels=[0, 0, 0, 1, 1, 2, 3, 4, 4],
    )
    cases = merge_cases(decisions)
    found = {(c.case_type, tuple(sorted(c.members.tolist()))): sorted(c.pairs.tolist()) for c in cases}
    assert found == {
        (DUPLICATE, (0, 1, 2)): [0, 1],
        (DUPLICATE, (3, 4)): [2],
        (DUPLICATE, (7, 8)): [3],
        (REVIEW, (0, 1, 2, 3, 4, 5)): [4, 5, 6],  # approving it merges everything its links imply
        (REVIEW, (6, 7, 8)): [7],
    }


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            ID_COLUMN: ["r1", "r2", "r3", "r4", "r5", "r6"],
            "company_name": ["Acme Ltd", "ACME Limited", "Acme", "Birch Foods", "Birch Foods Ltd", "Zenith"],
            "phone": ["020 7946 0000", "", "020 7946 0000", "0113 496 0000", "0113 496 0000", ""],
        }
    )


def _proposals(settings: dict, rejected: list[frozenset[str]] | None = None) -> tuple[list, int]:
    policy = load_policy("duplicate_flagging")
    rules = DedupePolicy.model_validate({**policy.settings, **settings})
    decisions = _decisions([(0, 1, 0.999, True), (1, 2, 0.995, True), (3, 4, 0.998, True)], labels=[0, 0, 0, 1, 1, 2])
    fields = [Field(column="company_name", kind=Kind.ORGANISATION), Field(column="phone", kind=Kind.PHONE)]
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)] * 6
    proposed, left_out = propose_merges(
        Matched("customers", _frame(), now, fields, model_id=1), decisions, policy, rules, rejected or []
    )
    return [p.proposal for p in proposed], left_out


def test_a_cluster_larger_than_the_policy_allows_goes_to_the_owner() -> None:
    proposals, _ = _proposals({"max_cluster_size": 2})
    policy = load_policy("duplicate_flagging")
    routes = {frozenset([p.payload["survivor"], *p.payload["duplicates"]]): route(policy, p).route for p in proposals}
    assert routes == {frozenset({"r1", "r2", "r3"}): Route.ESCALATE, frozenset({"r4", "r5"}): Route.APPROVE}


def test_groups_rejected_before_are_left_out_and_the_payload_is_a_valid_merge() -> None:
    proposals, left_out = _proposals({}, rejected=[frozenset({"r4", "r5", "r6"})])
    assert left_out == 1 and len(proposals) == 1
    merge = RecordMerge.model_validate(proposals[0].payload)
    assert merge.survivor == "r1"  # most complete (name and phone), first loaded among equals
    assert sorted(merge.duplicates) == ["r2", "r3"]
    assert merge.values == {"company_name": "Acme Ltd", "phone": "020 7946 0000"}


def test_case_types_by_record_value_and_stated_facts() -> None:
    """Facts a merge states: how many records, and whether an identifying field agrees on every
    linking pair. The phone similarity of the 0-1-2 cluster's weakest pair is set to 0.8 here, so
    only the 3-4 pair shares an identifier. A case type may test a merged value (credit limit)."""
    policy = load_policy("duplicate_flagging")
    data = {
        **policy.model_dump(mode="json"),
        "case_types": {
            "large_account": {"refines": "duplicate", "above": {"field": "values.credit_limit", "amount": "10000"}},
            "exact_pair": {"refines": "duplicate", "context": {"records": 2, "shared_identifier": True}},
        },
        "autonomy": {**policy.model_dump(mode="json")["autonomy"], "large_account": "reviewed", "exact_pair": "auto"},
    }
    variant = Policy.model_validate(data)
    rules = DedupePolicy.model_validate(policy.settings)
    frame = _frame().assign(credit_limit=["25000", "", "", "900", "1200", ""])
    decisions = _decisions([(0, 1, 0.999, True), (1, 2, 0.995, True), (3, 4, 0.998, True)], labels=[0, 0, 0, 1, 1, 2])
    decisions.similarities[1, 1] = 0.8
    fields = [Field(column="company_name", kind=Kind.ORGANISATION), Field(column="phone", kind=Kind.PHONE)]
    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)] * 6
    proposed, _ = propose_merges(Matched("customers", frame, now, fields, model_id=1), decisions, variant, rules, [])

    facts = {p.survivor: p.proposal.context for p in proposed}
    assert facts == {"r1": {"records": 3, "shared_identifier": False}, "r4": {"records": 2, "shared_identifier": True}}
    kinds = {
        p.survivor: variant.case_type_of(
            p.proposal.case_type, p.proposal.payload, p.proposal.confidence, p.proposal.context
        )
        for p in proposed
    }
    assert kinds == {"r1": "large_account", "r4": "exact_pair"}
