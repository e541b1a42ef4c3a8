"""The week's facts against figures worked out by hand on a small table (see each event's comment),
in UTC and in Europe/Berlin, across a year boundary and a daylight-saving change, and bad input."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.errors import InputError
from opsgate.reports.summaries import check_figures
from tasks.weekly_summary.events import read_events
from tasks.weekly_summary.facts import flat, week_facts
from tasks.weekly_summary.narrative import template_summary
from tasks.weekly_summary.weeks import Week, parse_week

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
HEADER = "id,opened,closed,category,priority,owner,due"
# Week 2026-W47 runs 2026-11-16T00:00Z to 2026-11-23T00:00Z in UTC.
EVENTS = [
    "e1,2026-11-10T09:00:00Z,2026-11-17T09:00:00Z,billing,high,ana,2026-11-16T12:00:00Z",  # closed in week (168 h), due in week, late: breach
    "e2,2026-11-16T00:00:00Z,2026-11-16T06:00:00Z,billing,low,ben,2026-11-18T00:00:00Z",  # opened at the start (counts), closed (6 h), on time
    "e3,2026-11-18T10:00:00Z,,access,high,ana,2026-11-20T10:00:00Z",  # opened, still open: backlog; due in week and open: breach
    # opened; closed at the end: not in week, backlog; due at the end: not in week
    "e4,2026-11-22T23:59:59Z,2026-11-23T00:00:00Z,access,low,ben,2026-11-23T00:00:00Z",
    "e5,2026-11-23T00:00:00Z,,access,low,ben,",  # opened at the end: next week's
    "e6,2026-11-01T00:00:00Z,2026-11-15T23:59:59Z,billing,low,cy,",  # closed the second before the week
    "e7,2026-11-12T08:00:00Z,2026-11-20T08:00:00Z,billing,high,cy,2026-11-20T08:00:00Z",  # closed in week (192 h) exactly at its due time: no breach
    "e8,2026-11-16T12:00:00Z,2026-11-19T00:00:00Z,access,low,ana,",  # opened and closed in week (60 h), no due time
]


def _write(tmp_path: Path, rows: list[str], name: str = "events.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_each_figure_matches_the_hand_count(tmp_path: Path) -> None:
    facts = week_facts(read_events(_write(tmp_path, EVENTS), UTC), parse_week("2026-W47"), UTC)
    assert (facts.opened, facts.closed, facts.backlog_end, facts.sla_breaches) == (4, 4, 2, 2)
    # cycle times 6, 60, 168, 192 h: p50 halfway between 60 and 168, p90 at 0.7 between 168 and 192
    assert facts.cycle_time_p50_hours == 114.0 and facts.cycle_time_p90_hours == pytest.approx(184.8)
    # the week before (W46): e1 and e7 opened; e6 closed after 359.9997 h; e1, e7 still open at its end
    before = facts.previous
    assert (before.opened, before.closed, before.backlog_end, before.sla_breaches) == (2, 1, 2, 0)
    assert before.cycle_time_p50_hours == before.cycle_time_p90_hours == 360.0
    assert facts.changes["opened"] == 2 and facts.changes["closed"] == 3
    assert facts.by_category["billing"].closed == 3 and facts.by_category["access"].opened == 3
    assert facts.by_priority["high"].sla_breaches == 2


def test_bounds_follow_the_time_zone(tmp_path: Path) -> None:
    # In Berlin the week starts 2026-11-15T23:00Z and ends 2026-11-22T23:00Z: e6 closes inside it, e4 opens after it.
    facts = week_facts(read_events(_write(tmp_path, EVENTS), BERLIN), parse_week("2026-W47"), BERLIN)
    assert (facts.opened, facts.closed) == (3, 5)
    assert facts.start.isoformat() == "2026-11-15T23:00:00+00:00"


def test_timestamps_without_offset_are_local_time(tmp_path: Path) -> None:
    rows = ["n1,2026-11-16T00:30:00,,x,low,a,", "n2,2026-11-15T23:30:00,,x,low,a,"]
    berlin = week_facts(read_events(_write(tmp_path, rows), BERLIN), parse_week("2026-W47"), BERLIN)
    assert berlin.opened == 1, "00:30 Berlin time on Monday is in the week, 23:30 on Sunday is not"
    assert berlin.backlog_end == 2


def test_weeks_across_the_year_boundary_and_a_clock_change() -> None:
    first = parse_week("2026-W01")
    assert first.monday().isoformat() == "2025-12-29" and first.shifted(-1) == Week(2025, 52)
    assert parse_week("2026-W53").shifted(1) == Week(2027, 1)  # 2026 starts on a Thursday: 53 weeks
    with pytest.raises(InputError, match="2025 has 52 ISO weeks"):
        parse_week("2025-W53")
    start, end = parse_week("2026-W43").bounds(BERLIN)  # clocks go back on Sunday 2026-10-25
    assert (end - start) == pd.Timedelta(hours=169)


def test_a_week_that_starts_in_december_counts_its_events(tmp_path: Path) -> None:
    rows = [
        "y1,2025-12-29T00:00:00Z,2026-01-02T12:00:00Z,x,low,a,2025-12-31T00:00:00Z",
        "y2,2025-12-28T23:59:00Z,,x,low,a,",
    ]
    facts = week_facts(read_events(_write(tmp_path, rows), UTC), parse_week("2026-W01"), UTC)
    assert (facts.opened, facts.closed, facts.backlog_end, facts.sla_breaches) == (1, 1, 1, 1)
    assert facts.cycle_time_p50_hours == 108.0


def test_bad_rows_are_reported_and_the_rest_is_used(tmp_path: Path) -> None:
    rows = [
        *EVENTS,
        "b1,yesterday,,x,low,a,",
        "b2,2026-11-17T10:00:00Z,2026-11-17T09:00:00Z,x,low,a,",
        "b3,2026-11-17T10:00:00Z,,x,low,a,soon",
        "b4,,,x,low,a,",
        "b5,2026-11-17T10:00:00Z,,x,low",
    ]
    events = read_events(_write(tmp_path, rows), UTC)
    reasons = {p.where: p.reason for p in events.problems}
    assert "opened 'yesterday' is not an ISO 8601 timestamp" in reasons["event 'b1'"]
    assert reasons["event 'b2'"] == "closed before it was opened"
    assert "due 'soon'" in reasons["event 'b3'"]
    assert reasons["event 'b4'"] == "no opened time"
    berlin = read_events(
        _write(tmp_path, ["d1,2026-10-25T02:30:00,,x,low,a,", "d2,2026-10-25T02:30:00+01:00,,x,low,a,"], "dst.csv"),
        BERLIN,
    )
    assert [p.where for p in berlin.problems] == [
        "event 'd1'"
    ] and "ambiguous or does not exist in Europe/Berlin" in berlin.problems[0].reason
    assert any("fields where the header has" in p.reason for p in events.problems)
    assert week_facts(events, parse_week("2026-W47"), UTC).opened == 4, "the bad rows change no figure"


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("id,opened,category\ne1,2026-11-16T00:00:00Z,x\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"missing column\(s\) 'closed', 'priority', 'owner', 'due'"):
        read_events(path, UTC)


def test_cli_prints_the_contract_keys_as_one_json_object(tmp_path: Path) -> None:
    path = _write(tmp_path, [*EVENTS, "b1,yesterday,,x,low,a,"])
    result = CliRunner().invoke(app, ["summary", "facts", "--events", str(path), "--week", "2026-W47", "--json"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1
    facts = json.loads(lines[0])
    assert {k: facts[k] for k in ("opened", "closed", "backlog_end", "sla_breaches", "cycle_time_p50_hours")} == {
        "opened": 4,
        "closed": 4,
        "backlog_end": 2,
        "sla_breaches": 2,
        "cycle_time_p50_hours": 114.0,
    }
    assert facts["week"] == "2026-W47" and "b1" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--week", "2026-47"], "not an ISO week"),
        (["--week", "2026-W47", "--tz", "Mars/Base"], "time zone 'Mars/Base' is unknown"),
    ],
)
def test_cli_bad_options_exit_2_with_a_message(tmp_path: Path, options: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["summary", "facts", "--events", str(_write(tmp_path, EVENTS)), *options])
    assert result.exit_code == 2 and message in result.stderr


def test_the_template_narrative_states_only_the_computed_facts(tmp_path: Path) -> None:
    facts = flat(week_facts(read_events(_write(tmp_path, EVENTS), UTC), parse_week("2026-W47"), UTC))
    assert facts["opened_change"] == 2 and facts["opened_change_pct"] == 100.0 and facts["closed_change_pct"] == 300.0
    summary = template_summary(facts)
    assert check_figures(summary, facts) == []
    assert "4" in " ".join(h.text for h in summary.highlights), "the template phrases this week's figures"


def test_an_unusual_week_is_a_fact_and_the_template_names_it_as_a_risk(tmp_path: Path) -> None:
    # Eight baseline weeks (W38..W45) alternate 1 and 2 openings: mean 1.5, sample std sqrt(2/7) = 0.5345.
    # The week before (W46) has 2, this week 10: z = (10 - 1.5) / 0.5345 = 15.90.
    rows, counts = [], {38: 1, 39: 2, 40: 1, 41: 2, 42: 1, 43: 2, 44: 1, 45: 2, 46: 2, 47: 10}
    for number, count in counts.items():
        tuesday = Week(2026, number).monday() + pd.Timedelta(days=1)
        rows += [f"w{number}-{i},{tuesday}T09:00:00Z,{tuesday}T10:00:00Z,billing,low,ana," for i in range(count)]
    facts = week_facts(read_events(_write(tmp_path, rows), UTC), parse_week("2026-W47"), UTC)
    (anomaly,) = [a for a in facts.anomalies if a.figure == "opened"]
    assert (anomaly.value, anomaly.baseline_mean, anomaly.baseline_std, anomaly.z) == (10, 1.5, 0.53, 15.9)
    values = flat(facts)
    assert (values["opened_baseline_mean"], values["opened_baseline_z"]) == (1.5, 15.9)
    summary = template_summary(values)
    (risk,) = [r for r in summary.risks if "opened_baseline_mean" in r.facts]
    assert "10 against 1.5" in risk.text and check_figures(summary, values) == []
