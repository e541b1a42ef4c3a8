"""The week's figures, computed from the events and nothing else: what the summary may state.

Definitions (the CLI contract; [start, end) is the ISO week in the summary's time zone):
- opened: start <= opened < end; closed: start <= closed < end
- backlog_end: opened < end and not closed before end (open, or closed at or after end)
- sla_breaches: start <= due < end and not closed by the due time (open, or closed after due)
- cycle_time_p50_hours / p90: closed - opened in hours over the events closed in the week,
  linear interpolation between closest ranks (pandas' default quantile); null with none closed.
Each figure is also given for the week before (deltas) and checked against the mean and spread of
the eight weeks before that (anomalies), overall and per category and priority.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from tasks.weekly_summary.events import NAT, Events
from tasks.weekly_summary.weeks import Week

HOUR_NS = 3_600 * 10**9
BASELINE_WEEKS = 8
ANOMALY_Z = 2.0  # how many standard deviations from the baseline make a figure unusual
COUNTS = ("opened", "closed", "backlog_end", "sla_breaches")


class Figures(BaseModel):
    opened: int
    closed: int
    backlog_end: int
    sla_breaches: int
    cycle_time_p50_hours: float | None
    cycle_time_p90_hours: float | None


class Anomaly(BaseModel):
    """A figure far from its recent normal: the reviewer's first question, answered up front."""

    figure: str
    value: float
    baseline_mean: float
    baseline_std: float
    z: float


class WeekPoint(BaseModel):
    """One week of the trend the charts draw."""

    week: str
    opened: int
    closed: int
    backlog_end: int
    sla_breaches: int


class WeekFacts(Figures):
    """The contract's keys at the top level, then context: bounds, the week before, changes,
    breakdowns and anomalies. Stored with the run; the narrative may state only these."""

    week: str
    timezone: str
    start: datetime
    end: datetime
    events: int = Field(description="Events used; rows reported as unusable are not counted.")
    previous: Figures
    changes: dict[str, float | None] = Field(description="This week minus the week before, per figure.")
    by_category: dict[str, Figures]
    by_priority: dict[str, Figures]
    anomalies: list[Anomaly]
    history: list[WeekPoint] = Field(description="The baseline weeks, the week before and this week, oldest first.")


def _quantiles(hours: np.ndarray) -> tuple[float | None, float | None]:
    if not len(hours):
        return None, None
    p50, p90 = pd.Series(hours).quantile([0.5, 0.9]).tolist()
    return round(float(p50), 2), round(float(p90), 2)


def figures(events: Events, start: pd.Timestamp, end: pd.Timestamp, rows: np.ndarray | None = None) -> Figures:
    """The week's figures over all events, or over ``rows`` (a boolean mask) of them."""
    opened, closed, due = events.opened, events.closed, events.due
    if rows is not None:
        opened, closed, due = opened[rows], closed[rows], due[rows]
    s, e = start.value, end.value
    is_open = closed == NAT
    closed_in = ~is_open & (closed >= s) & (closed < e)
    p50, p90 = _quantiles((closed[closed_in] - opened[closed_in]) / HOUR_NS)
    return Figures(
        opened=int(((opened >= s) & (opened < e)).sum()),
        closed=int(closed_in.sum()),
        backlog_end=int(((opened < e) & (is_open | (closed >= e))).sum()),
        sla_breaches=int(((due != NAT) & (due >= s) & (due < e) & (is_open | (closed > due))).sum()),
        cycle_time_p50_hours=p50,
        cycle_time_p90_hours=p90,
    )


def _changes(now: Figures, before: Figures) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    for name, value in now.model_dump().items():
        previous = getattr(before, name)
        found[name] = None if value is None or previous is None else round(value - previous, 2)
    return found


def _anomalies(baseline: list[WeekPoint], now: Figures) -> list[Anomaly]:
    found = []
    for name in COUNTS:
        values = np.array([getattr(point, name) for point in baseline], dtype=float)
        mean, std = float(values.mean()), float(values.std(ddof=1))
        value = float(getattr(now, name))
        z = (value - mean) / std if std > 0 else 0.0
        if abs(z) >= ANOMALY_Z:
            found.append(
                Anomaly(
                    figure=name, value=value, baseline_mean=round(mean, 2), baseline_std=round(std, 2), z=round(z, 2)
                )
            )
    return found


def _point(week: Week, figures_of_week: Figures) -> WeekPoint:
    return WeekPoint(week=week.label, **figures_of_week.model_dump(include=set(COUNTS)))


def _breakdown(events: Events, column: str, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, Figures]:
    values = events.frame[column].str.strip().replace("", "(none)").to_numpy(dtype=object)
    return {str(v): figures(events, start, end, values == v) for v in sorted(set(values))}


def week_facts(events: Events, week: Week, tz: ZoneInfo) -> WeekFacts:
    start, end = week.bounds(tz)
    now = figures(events, start, end)
    before = figures(events, *week.shifted(-1).bounds(tz))
    weeks = [week.shifted(-k) for k in range(BASELINE_WEEKS + 1, 1, -1)]
    baseline = [_point(w, figures(events, *w.bounds(tz))) for w in weeks]
    return WeekFacts(
        **now.model_dump(),
        week=week.label,
        timezone=str(tz.key),
        start=start.to_pydatetime(),
        end=end.to_pydatetime(),
        events=len(events.opened),
        previous=before,
        changes=_changes(now, before),
        by_category=_breakdown(events, "category", start, end),
        by_priority=_breakdown(events, "priority", start, end),
        anomalies=_anomalies(baseline, now),
        history=[*baseline, _point(week.shifted(-1), before), _point(week, now)],
    )


def flat(facts: WeekFacts) -> dict[str, int | float | str | None]:
    """The facts a narrative may state, one key per figure: this week's, the week before's
    (``previous_<figure>``), the change (``<figure>_change``) and the relative change in percent
    (``<figure>_change_pct``, none when the week before had zero); for an unusual figure, the mean
    of its baseline weeks and how many standard deviations away it is (``<figure>_baseline_mean``,
    ``<figure>_baseline_z``)."""
    found: dict[str, int | float | str | None] = {
        "week": facts.week,
        "timezone": facts.timezone,
        "events": facts.events,
    }
    for name, value in Figures.model_validate(facts.model_dump()).model_dump().items():
        before = getattr(facts.previous, name)
        found[name] = value
        found[f"previous_{name}"] = before
        found[f"{name}_change"] = facts.changes.get(name)
        found[f"{name}_change_pct"] = (
            round(100 * (value - before) / before, 1) if value is not None and before else None
        )
    for anomaly in facts.anomalies:
        found[f"{anomaly.figure}_baseline_mean"] = anomaly.baseline_mean
        found[f"{anomaly.figure}_baseline_z"] = anomaly.z
    return found
