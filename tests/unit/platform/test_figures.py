"""The figure check on single sentences: what counts as a stated figure and what matches a fact."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opsgate.reports.figures import figures_in, unsupported

FACTS = {
    "week": "2026-W47",
    "opened": 412,
    "closed": 398,
    "backlog_end": 131,
    "sla_breaches": 7,
    "events": 1234,
    "cycle_time_p50_hours": 18.25,
    "cycle_time_p90_hours": 70.6,
    "opened_change_pct": 12.3,
    "backlog_change": -3,
    "approval_rate": 0.9412,
    "top_category": "Tier 2 support",
    "owner": "7",
}


def stated(text: str) -> list[str]:
    return [p.written for p in unsupported(text, "headline", FACTS)]


def test_figures_are_read_with_thousands_separators_decimals_and_percent_signs() -> None:
    found = figures_in("1,234 events, 18.25 hours, 94.1 % approved, up 12 percent, 1,234,567 in all, 7pp")
    assert [(f.value, f.percent) for f in found] == [
        (Decimal("1234"), False),
        (Decimal("18.25"), False),
        (Decimal("94.1"), True),
        (Decimal("12"), True),
        (Decimal("1234567"), False),
        (Decimal("7"), True),
    ]
    assert [f.exponent for f in found] == [0, -2, -1, 0, 0, 0]


@pytest.mark.parametrize(
    "text",
    [
        "398 items closed",
        "1,234 events",
        "412 opened, 398 closed, 131 open",
        "cycle time 18 hours",
        "cycle time 18.3 hours",
        "cycle time 18.2 hours",
        "cycle time 18.25 hours",
        "cycle time 18.250 hours",
        "about 70 hours at the 90th percentile",
        "roughly 71 hours",
        "~70.6 hours",
        "about 400 opened",
        "approval rate 94%",
        "approval rate 94.1 %",
        "approval rate 94.12%",
        "0.94 of requests approved",
        "opened up 12% on the week before",
        "opened up 12.3 percent",
        "backlog down 3",
        "backlog -3 on the week",
    ],
)
def test_facts_and_their_roundings_pass(text: str) -> None:
    assert stated(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Week 2026-W47 (2026-11-16 to 2026-11-22)",
        "report run 2026-11-23T09:30:00+01:00",
        "cut-off at 09:30 on 16/11/2026",
        "meeting at 9 am",
        "closes 5pm",
        "16 November 2026",
        "from Nov 16, 2026",
        "in November 2026",
        "the 3rd week running, the 21st item",
        "the p90 cycle time, Q3, v2",
        "two risks and three actions",
        "most work was in Tier 2 support",
    ],
)
def test_dates_weeks_times_ordinals_names_and_words_are_not_figures(text: str) -> None:
    assert figures_in(text, FACTS) == []


@pytest.mark.parametrize(
    ("text", "offending"),
    [
        ("405 items opened", ["405"]),  # invented
        ("389 items closed", ["389"]),  # mistyped 398
        ("cycle time 19 hours", ["19"]),  # 18.25 mis-rounded
        ("about 19 hours", ["19"]),  # a hedge does not widen the units
        ("cycle time 18.4 hours", ["18.4"]),
        ("70 hours at the 90th percentile", ["70"]),  # 70.6 to the units is 71
        ("about 500 opened", ["500"]),  # 412 to the hundreds is 400
        ("approval rate 95%", ["95%"]),  # 0.9412 is 94%
        ("approval rate 94.2%", ["94.2%"]),
        ("approval rate 94", ["94"]),  # a plain number is not a scaled ratio
        ("opened up 12.4%", ["12.4%"]),
        ("412,398 items", ["412,398"]),  # a list without spaces is one number, not two facts
        ("7 items in Tier 5 support", ["5"]),  # only the quoted text value is a name
        ("1,243 events", ["1,243"]),
    ],
)
def test_figures_no_fact_backs_are_reported(text: str, offending: list[str]) -> None:
    assert stated(text) == offending


def test_a_text_fact_of_digits_alone_does_not_hide_a_figure() -> None:
    assert stated("owner 7 had 8 breaches") == ["8"]


def test_the_report_says_where_and_lists_the_allowed_figures() -> None:
    (problem,) = unsupported("Cycle time reached 19 hours this week.", "highlights[2].text", FACTS)
    assert (problem.where, problem.written) == ("highlights[2].text", "19")
    assert "highlights[2].text states 19" in problem.message and "Cycle time reached 19 hours" in problem.excerpt
    assert "no fact is 19 at the stated precision" in problem.message
    assert "cycle_time_p50_hours=18.25" in problem.message and "approval_rate=0.9412 (94.12%)" in problem.message


def test_a_cited_sentence_may_state_only_the_facts_it_cites() -> None:
    assert unsupported("398 items closed", "highlights[0].text", FACTS, cited=["closed"]) == []
    (swapped,) = unsupported("412 items closed", "highlights[0].text", FACTS, cited=["closed"])
    assert "none of the facts it cites is 412 (closed=398)" in swapped.message and "add the key" in swapped.message
    (invented,) = unsupported("413 items closed", "highlights[0].text", FACTS, cited=["closed"])
    assert "no fact is 413" in invented.message
