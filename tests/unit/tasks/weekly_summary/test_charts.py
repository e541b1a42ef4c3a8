"""The charts are real PNG images of the figures they are given."""

from __future__ import annotations

import io
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib.image as mpimg

from opsgate.learning.metrics import AgentMetrics
from tasks.weekly_summary.charts import agent_chart, sla_chart, volume_chart
from tasks.weekly_summary.events import read_events
from tasks.weekly_summary.facts import week_facts
from tasks.weekly_summary.weeks import parse_week
from tests.unit.tasks.weekly_summary.test_facts import EVENTS, HEADER

UTC = ZoneInfo("UTC")


def _facts(tmp_path: Path, rows: list[str]):  # noqa: ANN202
    path = tmp_path / f"events{len(rows)}.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return week_facts(read_events(path, UTC), parse_week("2026-W47"), UTC)


def _image(png: bytes):  # noqa: ANN202
    return mpimg.imread(io.BytesIO(png), format="png")


def test_history_ends_with_this_week_and_the_week_before(tmp_path: Path) -> None:
    facts = _facts(tmp_path, EVENTS)
    assert [p.week for p in facts.history][-3:] == ["2026-W45", "2026-W46", "2026-W47"] and len(facts.history) == 10
    assert (facts.history[-1].opened, facts.history[-2].opened) == (facts.opened, facts.previous.opened)


def test_charts_are_png_images_that_change_with_the_figures(tmp_path: Path) -> None:
    facts, fewer = (
        _facts(tmp_path, EVENTS),
        _facts(tmp_path, [e for e in EVENTS if not e.startswith("e3,")]),
    )  # one opened, one breach less
    for chart in (volume_chart, sla_chart):
        png = chart(facts)
        assert png.startswith(b"\x89PNG") and _image(png).shape[0] > 100
        assert chart(fewer) != png
    row = AgentMetrics(
        workflow="invoice_extraction",
        case_type="invoice",
        instruction_version="rules-v1",
        cases=10,
        completed=10,
        executed=8,
        approved=8,
        rejected=2,
        corrected=1,
        escalated=0,
        tool_errors=0,
        completion_rate=1.0,
        approval_rate=0.8,
        correction_rate=0.125,
        escalation_rate=0.0,
        tool_error_rate=0.0,
        time_saved_minutes=48.0,
    )
    assert _image(agent_chart([row])).shape[1] > 100
