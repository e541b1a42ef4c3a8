"""`opsgate dedupe --json`: the output contract scripts rely on (DESIGN.md), on planted duplicates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsgate.cli.app import app
from tests.support.records import company_records, write_csv

SHARED = Path(__file__).resolve().parents[5] / "shared"


def test_planted_duplicates_are_found_with_their_reasons(tmp_path: Path) -> None:
    rows, truth = company_records()
    path = write_csv(tmp_path / "companies.csv", rows)
    result = CliRunner().invoke(app, ["dedupe", str(path), "--id-column", "id", "--json"])
    assert result.exit_code == 0, result.output
    pairs = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(p) == {"a", "b", "score", "decision", "reasons"} for p in pairs)
    assert all(0.0 <= p["score"] <= 1.0 and p["decision"] in ("duplicate", "review") for p in pairs)
    flagged = {frozenset((p["a"], p["b"])) for p in pairs if p["decision"] == "duplicate"}
    assert flagged == truth
    for p in pairs:
        assert set(p["reasons"]) <= {"company_name", "address", "city", "postcode", "phone", "email"}
        assert all(0.0 <= v <= 1.0 for v in p["reasons"].values())
    no_postcode = next(p for p in pairs if {p["a"], p["b"]} == {"c040", "d3"})
    assert "postcode" not in no_postcode["reasons"]  # missing on one side: no evidence, not a mismatch


def test_fields_option_limits_the_comparison(tmp_path: Path) -> None:
    rows, _ = company_records()
    path = write_csv(tmp_path / "companies.csv", rows)
    result = CliRunner().invoke(
        app, ["dedupe", str(path), "--id-column", "id", "--fields", "company_name:organisation,phone", "--json"]
    )
    assert result.exit_code == 0, result.output
    pairs = [json.loads(line) for line in result.stdout.splitlines()]
    assert pairs and all(set(p["reasons"]) <= {"company_name", "phone"} for p in pairs)


def test_bad_rows_are_reported_on_stderr_and_the_rest_is_processed(tmp_path: Path) -> None:
    rows, truth = company_records()
    path = write_csv(tmp_path / "companies.csv", rows)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("broken,row\n" + "c001,Twice Ltd,1 Other Road,Leeds,LS1 4AP,+44 20 0000 0000,x@y.z\n")
    result = CliRunner().invoke(app, ["dedupe", str(path), "--id-column", "id", "--json"])
    assert result.exit_code == 0, result.output
    assert (
        "2 fields where the header has 7" in result.stderr and "'c001' is used by more than one record" in result.stderr
    )
    flagged = {
        frozenset((p["a"], p["b"])) for p in map(json.loads, result.stdout.splitlines()) if p["decision"] == "duplicate"
    }
    assert flagged == truth


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id-column", "nope"], "no id column 'nope'"),
        (["--id-column", "id", "--fields", "colour"], "no column 'colour'"),
        (["--id-column", "id", "--duplicate-at", "0.4", "--review-at", "0.6"], "must not be above"),
    ],
)
def test_unusable_input_exits_2_with_one_clear_message(tmp_path: Path, args: list[str], message: str) -> None:
    rows, _ = company_records()
    path = write_csv(tmp_path / "companies.csv", rows)
    result = CliRunner().invoke(app, ["dedupe", str(path), *args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


@pytest.mark.skipif(
    not (SHARED / "data/records/febrl3.csv").exists(),
    reason="the shared FEBRL3 record set is not next to the repository",
)
def test_febrl3_accuracy_through_the_shared_scorer(tmp_path: Path) -> None:
    data = SHARED / "data/records"
    predictions = tmp_path / "pairs.jsonl"
    result = CliRunner().invoke(app, ["dedupe", str(data / "febrl3.csv"), "--id-column", "rec_id", "--json"])
    assert result.exit_code == 0, result.output
    predictions.write_text(result.stdout)
    scored = subprocess.run(
        [sys.executable, str(SHARED / "bench/score_pairs.py"), str(data / "febrl3_true_pairs.csv"), str(predictions)],
        capture_output=True,
        text=True,
        check=True,
    )
    f1 = float(scored.stdout.strip().splitlines()[-1].removeprefix("f1="))
    assert f1 >= 0.995, scored.stdout


def test_lines_written_in_slices_are_every_line_once_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks.duplicate_flagging import commands

    rows, _ = company_records()
    path = write_csv(tmp_path / "companies.csv", rows)
    whole = CliRunner().invoke(app, ["dedupe", str(path), "--id-column", "id", "--json"])
    monkeypatch.setattr(commands, "LINES_AT_ONCE", 2)  # every slice boundary, and a last slice of one
    sliced = CliRunner().invoke(app, ["dedupe", str(path), "--id-column", "id", "--json"])
    assert whole.exit_code == sliced.exit_code == 0
    assert len(whole.stdout.splitlines()) == 3  # two slices: one of two lines, one of one
    assert sliced.stdout == whole.stdout
