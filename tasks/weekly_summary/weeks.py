"""ISO weeks as instants: a week runs from Monday 00:00 to the next Monday 00:00 in a time zone.

Bounds are computed on local calendar dates and then converted, so a week that contains a
daylight-saving change is 167 or 169 hours long, as people in that time zone experience it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from opsgate import InputError
from tasks.weekly_summary.policy import zone

_WEEK = re.compile(r"^(\d{4})-?W(\d{2})$")


@dataclass(frozen=True)
class Week:
    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    def shifted(self, weeks: int) -> Week:
        year, number, _ = (self.monday() + timedelta(weeks=weeks)).isocalendar()
        return Week(year, number)

    def bounds(self, tz: ZoneInfo) -> tuple[pd.Timestamp, pd.Timestamp]:
        """[start, end) in UTC."""
        start = datetime.combine(self.monday(), datetime.min.time(), tzinfo=tz)
        end = datetime.combine(self.monday() + timedelta(weeks=1), datetime.min.time(), tzinfo=tz)
        return pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC")


def parse_week(text: str) -> Week:
    """'2026-W47' (or '2026W47'); week 53 only in the years that have one."""
    match = _WEEK.match(text.strip().upper())
    if not match:
        raise InputError(f"week {text!r} is not an ISO week like 2026-W47")
    year, number = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, number, 1)
    except ValueError:
        raise InputError(
            f"week {text!r} does not exist: {year} has {date(year, 12, 28).isocalendar()[1]} ISO weeks"
        ) from None
    return Week(year, number)


def time_zone(name: str) -> ZoneInfo:
    try:
        return zone(name)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def last_full_week(tz: ZoneInfo, now: datetime | None = None) -> Week:
    """The week before the current one in ``tz``: what a Monday-morning run reports on."""
    today = (now or datetime.now(tz)).astimezone(tz).date()
    year, number, _ = (today - timedelta(weeks=1)).isocalendar()
    return Week(year, number)
