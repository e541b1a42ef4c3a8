"""Operations events (tickets, requests) from CSV or Parquet, with their timestamps as UTC instants.

A timestamp with an offset (`2026-11-16T09:30:00+01:00`, `...Z`) is that instant; one without is
local time in the summary's time zone, as exports from ticketing tools usually are. A row whose
`opened` is missing or unreadable, whose `closed` or `due` is unreadable, or that closes before
it opens is reported and left out: one bad row must not move every figure of the week.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from opsgate import RowProblem, read_records

COLUMNS = ["id", "opened", "closed", "category", "priority", "owner", "due"]
TIMES = ["opened", "closed", "due"]
_OFFSET = r"(?i)(z|[+-]\d{2}(:?\d{2})?)$"


@dataclass
class Events:
    """One row per usable event: the text columns as read, the times as int64 UTC nanoseconds
    (``NAT`` where empty), which is what the week arithmetic needs at a million rows."""

    frame: pd.DataFrame
    opened: np.ndarray
    closed: np.ndarray
    due: np.ndarray
    problems: list[RowProblem] = field(default_factory=list)


NAT = np.iinfo(np.int64).min  # numpy's own NaT as an int64: compares below every real instant


def instants(values: pd.Series, tz: ZoneInfo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTC nanoseconds per value, and two masks: values that are not timestamps at all, and local
    times a daylight-saving change makes ambiguous or skips (they need an offset to mean anything)."""
    text = values.str.strip()
    empty = (text == "").to_numpy()
    has_offset = pc.match_substring_regex(pa.array(text, type=pa.string()), _OFFSET).to_numpy(zero_copy_only=False)
    result = np.full(len(text), NAT, dtype=np.int64)
    unreadable = np.zeros(len(text), dtype=bool)
    aware = has_offset & ~empty
    naive = ~has_offset & ~empty
    if aware.any():
        parsed = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
        result[aware] = parsed.to_numpy(dtype="datetime64[ns]").view(np.int64)
        unreadable[aware] = parsed.isna().to_numpy()
    if naive.any():
        parsed = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        unreadable[naive] = parsed.isna().to_numpy()
        local = parsed.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
        result[naive] = local.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view(np.int64)
    return result, unreadable, (result == NAT) & ~empty & ~unreadable


def read_events(path: Path, tz: ZoneInfo, *, delimiter: str | None = None, encoding: str = "utf-8") -> Events:
    records = read_records(path, "id", delimiter=delimiter, encoding=encoding, required=COLUMNS[1:])
    frame = records.frame
    times = {}
    reasons = pd.Series("", index=frame.index, dtype=object)
    for column in TIMES:
        values, unreadable, unclear = instants(frame[column], tz)
        times[column] = values
        reasons[unreadable & (reasons == "").to_numpy()] = f"{column} {{}} is not an ISO 8601 timestamp"
        reasons[unclear & (reasons == "").to_numpy()] = (
            f"{column} {{}} is ambiguous or does not exist in {tz.key} (a daylight-saving change); give it an offset"
        )
    no_open = times["opened"] == NAT
    reasons[no_open & (reasons == "").to_numpy()] = "no opened time"
    backwards = (times["closed"] != NAT) & ~no_open & (times["closed"] < times["opened"])
    reasons[backwards & (reasons == "").to_numpy()] = "closed before it was opened"
    bad = (reasons != "").to_numpy()
    problems = list(records.problems)
    for position in np.flatnonzero(bad):
        reason = reasons.iat[position]
        column = reason.split(" ", 1)[0]
        detail = reason.format(repr(frame[column].iat[position])) if "{}" in reason else reason
        problems.append(RowProblem(f"event {frame['id'].iat[position]!r}", detail))
    keep = ~bad
    return Events(
        frame=frame[keep].reset_index(drop=True),
        opened=times["opened"][keep],
        closed=times["closed"][keep],
        due=times["due"][keep],
        problems=problems,
    )
