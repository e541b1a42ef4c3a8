"""Survivorship: which record survives a merge and which values the merged record keeps."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tasks.duplicate_flagging.policy import DedupePolicy, SurvivorRule, Survivorship, ValueRule
from tasks.duplicate_flagging.survivorship import Candidate, merge_values, source_rank

OLD, NEW = 1_600_000_000.0, 1_700_000_000.0


def _candidates() -> list[Candidate]:
    return [
        Candidate(
            "crm-1",
            {"name": "Acme", "email": "", "phone": "", "city": "Leeds"},
            recency=OLD,
            source_rank=source_rank("CRM", ["crm", "billing"]),
        ),
        Candidate(
            "bill-7",
            {"name": "Acme Widgets Ltd", "email": "ap@acme.com", "phone": "0113 496 0000", "city": ""},
            recency=NEW,
            source_rank=source_rank("billing", ["crm", "billing"]),
        ),
        Candidate(
            "web-3",
            {"name": "Acme", "email": "", "phone": "", "city": "Leeds"},
            recency=OLD - 1,
            source_rank=source_rank("webshop", ["crm", "billing"]),
        ),
    ]


def test_most_complete_survives_and_blanks_are_filled_from_the_others() -> None:
    survivor, values = merge_values(_candidates(), Survivorship(survivor=[SurvivorRule.MOST_COMPLETE]))
    assert survivor.external_id == "bill-7"  # three values against two
    assert values == {"name": "Acme Widgets Ltd", "email": "ap@acme.com", "phone": "0113 496 0000", "city": "Leeds"}


def test_source_priority_survives_and_per_column_rules_pick_their_value() -> None:
    rules = Survivorship(
        survivor=[SurvivorRule.SOURCE_PRIORITY],
        source_column="source",
        source_priority=["crm", "billing"],
        values={"email": ValueRule.MOST_RECENT, "name": ValueRule.MOST_COMPLETE, "city": ValueRule.MOST_COMMON},
    )
    crm, *others = _candidates()
    crm = Candidate(crm.external_id, {**crm.values, "email": "old@acme.com"}, crm.recency, crm.source_rank)
    survivor, values = merge_values([crm, *others], rules)
    assert survivor.external_id == "crm-1"
    assert values["email"] == "ap@acme.com"  # the newer record's, although the survivor has one
    assert values["name"] == "Acme Widgets Ltd"
    assert values["city"] == "Leeds"
    assert values["phone"] == "0113 496 0000"  # the survivor has none: filled, never left blank


def test_most_recent_survivor_and_ties_keep_load_order() -> None:
    survivor, _ = merge_values(_candidates(), Survivorship(survivor=[SurvivorRule.MOST_RECENT]))
    assert survivor.external_id == "bill-7"
    twins = [Candidate("a", {"name": "X"}, OLD, 0), Candidate("b", {"name": "Y"}, OLD, 0)]
    assert merge_values(twins, Survivorship())[0].external_id == "a"
    assert merge_values(list(reversed(twins)), Survivorship())[0].external_id == "b"


def test_unlisted_sources_rank_after_listed_ones() -> None:
    assert source_rank(" Billing ", ["crm", "billing"]) == 1
    assert source_rank("fax", ["crm", "billing"]) == 2


def test_source_rules_need_their_source_column() -> None:
    with pytest.raises(ValidationError, match="source_column"):
        Survivorship(survivor=[SurvivorRule.SOURCE_PRIORITY])
    with pytest.raises(ValidationError, match="review_at"):
        DedupePolicy(duplicate_at=0.5, review_at=0.9)
