"""The weekly summary's facts over a large events file: `opsgate summary facts` as a whole process,
then in-process stage by stage, so the figure comes with where the time goes.

    python3 -m uv run python benchmarks/summary_facts.py [--events 1000000] [--format csv|parquet] [--tz Europe/Berlin]

Events are generated (seed 1) over 26 weeks ending with 2026-W47: arrival times with a weekly
rhythm, cycle times from a skewed distribution, 15 % still open, due times a few days after
opening, a third of the timestamps written without an offset (local time), six categories and
four priorities (local times in the hour the October clock change repeats are reported as
ambiguous and left out, as they would be in a real export). Prints the data size, seconds for the whole command, and seconds per stage:
reading the file, turning timestamps into instants, and computing the facts; then the run's draft
step on those facts: the fact sheet (the store's figures on an empty store, three charts, the
tables) and the template's narrative with the rendered report.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WEEK = "2026-W47"
HOUR = 3_600


def generate(count: int, tz: str, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    end = pd.Timestamp("2026-11-23", tz=tz).value // 10**9
    opened = end - rng.integers(0, 26 * 7 * 24 * HOUR, count)
    cycle = (rng.lognormal(mean=3.0, sigma=1.2, size=count) * HOUR).astype(np.int64)
    closed = opened + cycle
    still_open = (rng.random(count) < 0.15) | (closed >= end)
    due = opened + rng.integers(24, 120, count) * HOUR

    def text(seconds: np.ndarray, missing: np.ndarray | None = None) -> pd.Series:
        stamps = pd.to_datetime(seconds, unit="s", utc=True)
        aware = pd.Series(stamps.strftime("%Y-%m-%dT%H:%M:%SZ"))
        local = pd.Series(stamps.tz_convert(tz).strftime("%Y-%m-%dT%H:%M:%S"))
        values = aware.where(rng.random(count) < 0.66, local)
        return values.where(~missing, "") if missing is not None else values

    return pd.DataFrame(
        {
            "id": [f"T-{i:07d}" for i in range(count)],
            "opened": text(opened),
            "closed": text(closed, still_open),
            "category": rng.choice(["billing", "access", "hardware", "payroll", "vendor", "other"], count),
            "priority": rng.choice(["low", "normal", "high", "urgent"], count, p=[0.4, 0.4, 0.15, 0.05]),
            "owner": rng.choice([f"agent{i}" for i in range(40)], count),
            "due": text(due),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--tz", default="Europe/Berlin")
    args = parser.parse_args()

    from opsgate.inputs.tabular import read_records
    from tasks.weekly_summary.events import COLUMNS, read_events
    from tasks.weekly_summary.facts import week_facts
    from tasks.weekly_summary.weeks import parse_week

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"events.{args.format}"
        start = time.perf_counter()
        frame = generate(args.events, args.tz)
        frame.to_parquet(path, index=False) if args.format == "parquet" else frame.to_csv(path, index=False)
        print(
            f"events={args.events:,} format={args.format} file_mb={path.stat().st_size / 1e6:.0f} seconds_generate={time.perf_counter() - start:.1f}"
        )

        start = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "opsgate",
                "summary",
                "facts",
                "--events",
                str(path),
                "--week",
                WEEK,
                "--tz",
                args.tz,
                "--json",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        whole = time.perf_counter() - start
        print(
            f"opsgate summary facts (whole command, start-up included): events={args.events:,} seconds={whole:.2f} output_bytes={len(result.stdout)}"
        )

        zone = ZoneInfo(args.tz)
        start = time.perf_counter()
        read_records(path, "id", required=COLUMNS[1:])
        read = time.perf_counter() - start
        start = time.perf_counter()
        events = read_events(path, zone)
        loaded = time.perf_counter() - start
        start = time.perf_counter()
        facts = week_facts(events, parse_week(WEEK), zone)
        computed = time.perf_counter() - start
        print(
            f"stages: read_file={read:.2f}s timestamps={loaded - read:.2f}s facts={computed:.2f}s (this week, the week before, 8 baseline weeks, "
            f"{len(facts.by_category)} categories, {len(facts.by_priority)} priorities) opened={facts.opened:,} closed={facts.closed:,} "
            f"backlog_end={facts.backlog_end:,} sla_breaches={facts.sla_breaches:,} rows_reported={len(events.problems)}"
        )

        os.environ["OPSGATE_DATABASE_URL"] = f"sqlite:///{Path(scratch) / 'opsgate.db'}"  # an empty store of its own
        from opsgate.reports.sheets import render_html, render_markdown
        from tasks.weekly_summary.narrative import template_summary
        from tasks.weekly_summary.operations import operations_facts
        from tasks.weekly_summary.sheet import fact_sheet

        bounds = [b.to_pydatetime() for b in parse_week(WEEK).bounds(zone)]
        operations_facts(*bounds)  # creates the empty store: not part of the figure
        start = time.perf_counter()
        sheet = fact_sheet(
            "Weekly operations summary", WEEK, args.tz, facts, operations_facts(*bounds), len(events.problems)
        )
        sheeted = time.perf_counter() - start
        start = time.perf_counter()
        summary = template_summary(sheet.facts)
        page = render_html(render_markdown("Weekly operations summary", summary, sheet), "Weekly operations summary")
        print(
            f"draft: fact_sheet={sheeted:.2f}s (store figures, {len(sheet.charts)} charts, tables; {len(sheet.facts)} facts) "
            f"template_and_report={time.perf_counter() - start:.2f}s html_kb={len(page) / 1e3:.0f}"
        )


if __name__ == "__main__":
    main()
