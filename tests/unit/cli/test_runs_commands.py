"""`opsgate runs`: finding a run afterwards and seeing where each input ended."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.governance import runs
from tests.support.batches import proposed_batch, write_inbox

runner = CliRunner()


def test_list_and_show_a_finished_run(opsgate_env: str, tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox")
    (inbox / "empty.pdf").write_bytes(b"")
    batch = proposed_batch(inbox, trigger="cli:test")
    runs.finish_run(batch.run)

    listed = json.loads(runner.invoke(app, ["runs", "list", "--json"]).stdout)
    assert [(r["id"], r["trigger"], r["counts"]) for r in listed] == [
        (batch.run.id, "cli:test", {"proposed": 3, "failed": 1})
    ]

    shown = runner.invoke(app, ["runs", "show", batch.run.id[:8], "--json"])
    assert shown.exit_code == 0, shown.output
    cases = {Path(c["source"]).name: c for c in json.loads(shown.stdout)["cases"]}
    assert cases["empty.pdf"]["status"] == "failed" and "empty" in cases["empty.pdf"]["detail"]
    assert {cases[name]["status"] for name in ("us.pdf", "de.pdf", "uk.pdf")} == {"proposed"}

    missing = runner.invoke(app, ["runs", "show", "nope"])
    assert missing.exit_code == 2 and "no single run" in missing.output
