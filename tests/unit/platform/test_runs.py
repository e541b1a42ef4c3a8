"""A run's bookkeeping: shadow mode, repeated failures, and the final state of every input."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgate.governance import runs
from opsgate.models import Route, Status
from opsgate.store.tables import ProposalRow, RunRow
from tests.support.batches import proposed_batch, write_inbox
from tests.support.policies import use_policy_variant
from tests.unit.platform.conftest import StoreProbe


def test_shadow_records_the_proposal_and_never_routes_it_to_a_writer(
    store: StoreProbe, inbox: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, lambda policy: policy["autonomy"].update(invoice="shadow"))
    batch = proposed_batch(inbox)
    assert {v.route for v in batch.verdicts} == {Route.SHADOW}
    assert {row.status for row in store.rows(ProposalRow)} == {Status.SHADOWED}
    assert len(store.events("shadowed")) == 3 and len(store.events("proposed")) == 3


def test_a_source_that_keeps_failing_goes_to_the_owner(store: StoreProbe, tmp_path: Path) -> None:
    """The shipped policy escalates a source after 3 failed runs."""
    inbox = write_inbox(tmp_path / "inbox", {"broken.pdf": b"%PDF-1.4 truncated"})
    routes = [proposed_batch(inbox).verdicts[0] for _ in range(3)]
    assert [v.route for v in routes] == [Route.FAIL, Route.FAIL, Route.ESCALATE]
    assert routes[2].escalations[0].reason == "repeated_failure"
    assert "failed in 3 runs" in routes[2].escalations[0].detail
    (escalated,) = store.events("escalated")
    assert escalated.data["to"] == "Accounts payable lead <ap-lead@example.com>"


def test_finish_counts_every_input_and_closes_the_run(store: StoreProbe, tmp_path: Path) -> None:
    inbox = write_inbox(tmp_path / "inbox")
    (inbox / "empty.txt").write_bytes(b"")
    batch = proposed_batch(inbox)
    summary = runs.finish_run(batch.run)

    assert summary.counts == {"proposed": 3, "failed": 1}
    assert store.get(RunRow, batch.run.id).status == "incomplete", "proposals still open make the run incomplete"
    (completed,) = store.events("completed")
    assert sorted(Path(source).name for source in completed.data["open"]) == ["de.pdf", "uk.pdf", "us.pdf"]
