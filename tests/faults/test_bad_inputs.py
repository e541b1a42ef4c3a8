"""Hostile and broken documents end alone, with their reason, and cost neither the batch nor the machine.

A FlateDecode bomb (about 3 MB on disk, 400 MB of text operators inflated: pdfium alone grew to
23.6 GB on it), a PDF nested 200,000 levels deep and a good invoice, through `opsgate extract` as a
real process and through the real invoice flow on a Prefect server, on both stores. Each extract
run happens under a 3 GB address-space cap set from outside, so a regression fails the test instead
of taking the machine; the peak memory asserted is the process tree's, from the kernel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from opsgate.governance.answers import answer_for
from opsgate.inputs.quarantine import FOLDER
from opsgate.models import Status
from opsgate.orchestration.resume import submit
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, PayableRow, RunRow
from tests.integration.conftest import wait_for_request
from tests.support.batches import write_inbox
from tests.support.pdf_builder import deeply_nested_pdf, flate_bomb_pdf
from tests.support.samples import DE_INVOICE, US_INVOICE

REPO = Path(__file__).resolve().parents[2]
GB = 1024**3
# Runs `opsgate extract` under an address-space cap and prints its output, then the peak RSS (KB) of
# the process and every reader process it waited for.
MEASURED = """
import resource, subprocess, sys
cap = int(sys.argv[1])
result = subprocess.run([sys.executable, "-m", "opsgate", "extract", *sys.argv[2:], "--json"], capture_output=True, text=True,
                        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (cap, cap)))
sys.stdout.write(result.stdout)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(result.returncode)
"""


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return flate_bomb_pdf(400)


def _extract(paths: list[Path], env: dict[str, str] | None = None) -> tuple[list[dict], int]:
    """The JSON objects `opsgate extract` printed and the peak RSS in bytes of its process tree."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURED, str(3 * GB), *map(str, paths)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    *lines, peak = done.stdout.splitlines()
    return [json.loads(line) for line in lines], int(peak) * 1024


def test_extract_refuses_the_bomb_before_reading_it_and_reads_the_good_invoice(tmp_path: Path, bomb: bytes) -> None:
    inbox = write_inbox(
        tmp_path / "inbox", {"bomb.pdf": bomb, "us.pdf": US_INVOICE, "deep.pdf": deeply_nested_pdf(US_INVOICE, 200_000)}
    )
    assert (inbox / "bomb.pdf").stat().st_size < 4 * 1024 * 1024

    results, peak = _extract([inbox / "bomb.pdf", inbox / "us.pdf", inbox / "deep.pdf"])

    assert [r["source"] for r in results] == [str(inbox / n) for n in ("bomb.pdf", "us.pdf", "deep.pdf")]
    assert [r["status"] for r in results] == ["error", "ok", "error"]
    assert "too_large_when_expanded" in results[0]["error"]
    assert results[1]["fields"]["invoice_number"] == "BOS-24-0317" and results[1]["fields"]["total"] == "1222.56"
    assert "corrupt: dictionaries and arrays nested more than 256 deep" in results[2]["error"]
    assert peak < 1 * GB, f"peak RSS {peak / GB:.2f} GB"


def test_past_the_pre_check_the_reader_limits_hold(tmp_path: Path, bomb: bytes) -> None:
    """The pre-check's budget out of the way: pdfium meets the bomb in a reader process capped at
    512 MB over its size, that process dies, the bomb fails with how, the invoice after it is read."""
    inbox = write_inbox(tmp_path / "inbox", {"bomb.pdf": bomb, "de.pdf": DE_INVOICE})

    results, peak = _extract(
        [inbox / "bomb.pdf", inbox / "de.pdf"],
        {"OPSGATE_READER_MAX_EXPANDED_MB": "100000", "OPSGATE_READER_MEMORY_MB": "512"},
    )

    assert [r["status"] for r in results] == ["error", "ok"]
    assert "bomb.pdf: reader_crashed: the reader process was killed by SIGABRT" in results[0]["error"]
    assert results[1]["fields"]["total"] is not None
    assert peak < 1 * GB, f"peak RSS {peak / GB:.2f} GB"


def _quarantined() -> dict[str, dict]:
    with transaction() as session:
        rows = session.execute(select(AuditRow).where(AuditRow.event == "quarantined")).scalars()
        return {Path(row.data["source"]).name: row.data for row in rows}


def test_the_flow_finishes_posts_the_good_invoice_and_quarantines_what_keeps_failing(
    start_flow, tmp_path: Path, bomb: bytes
) -> None:
    inbox = write_inbox(
        tmp_path / "inbox", {"us.pdf": US_INVOICE, "bomb.pdf": bomb, "deep.pdf": deeply_nested_pdf(US_INVOICE, 200_000)}
    )

    run = start_flow(inbox)
    request = wait_for_request(run=run)
    assert [Path(p.source).name for p in request.proposals] == ["us.pdf"]
    submit(request, answer_for(request, "alice"))
    summary = run.finish()

    by_file = {Path(o.source).name: o for o in summary.outcomes}
    assert by_file["us.pdf"].status == Status.EXECUTED
    assert by_file["bomb.pdf"].status == Status.FAILED and "too_large_when_expanded" in by_file["bomb.pdf"].detail
    assert by_file["deep.pdf"].status == Status.FAILED and "corrupt" in by_file["deep.pdf"].detail
    with transaction() as session:
        assert session.execute(select(PayableRow.invoice_number)).scalars().all() == ["BOS-24-0317"]
        assert session.get(RunRow, summary.run_id).status == "completed"

    (inbox / "us.pdf").unlink()  # posted: AP files it away
    for _ in range(2):  # two more runs meet the same two files; the third failure is escalated as repeated
        summary = start_flow(inbox).finish()
        assert {Path(o.source).name for o in summary.outcomes} == {"bomb.pdf", "deep.pdf"}
    assert _quarantined() == {}

    summary = start_flow(inbox).finish()

    assert summary.outcomes == [], "the files that failed three times are not read again"
    quarantined = _quarantined()
    assert sorted(quarantined) == ["bomb.pdf", "deep.pdf"]
    assert (
        quarantined["bomb.pdf"]["failures"] == 3 and "too_large_when_expanded" in quarantined["bomb.pdf"]["last_error"]
    )
    assert (inbox / FOLDER / "bomb.pdf").read_bytes() == bomb and not (inbox / "bomb.pdf").exists()
    assert start_flow(inbox).finish().outcomes == [], "a later run does not meet them"
