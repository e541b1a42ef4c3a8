"""`opsgate approvals list` says how long each waiting page has left before it expires, in words a
person reads at a glance and, for scripts, in seconds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.cli.approvals import time_left
from tests.support.batches import open_request, proposed_batch, write_inbox

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("left", "shown"),
    [
        (timedelta(days=2, hours=3, minutes=59), "2d 3h"),
        (timedelta(hours=3, minutes=5, seconds=30), "3h 05m"),
        (timedelta(minutes=12, seconds=59), "12m"),
        (timedelta(seconds=20), "1m"),
        (timedelta(0), "overdue"),
        (timedelta(minutes=-5), "overdue"),
    ],
)
def test_the_time_left_reads_at_a_glance(left: timedelta, shown: str) -> None:
    assert time_left(NOW + left, NOW) == shown


def test_the_list_shows_each_waiting_page_with_its_deadline_and_time_left(opsgate_env: str, tmp_path: Path) -> None:
    request = open_request(proposed_batch(write_inbox(tmp_path / "inbox")))  # a deadline an hour from now
    listed = json.loads(CliRunner().invoke(app, ["approvals", "list", "--json"]).stdout)
    (entry,) = listed
    assert entry["id"] == request.flow_run_id and entry["proposals"] == 3
    assert 3500 < entry["seconds_left"] <= 3600
    table = CliRunner().invoke(app, ["approvals", "list"], env={"COLUMNS": "300"}).stdout
    (row,) = [line for line in table.splitlines() if request.flow_run_id in line]
    assert "59m" in row or "1h 00m" in row, row
