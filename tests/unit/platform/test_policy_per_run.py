"""One policy per run: the policy a run started under governs every decision taken for it,
whichever process takes it (the gate, the CLI, recovery), and the run's `triggered` audit event
records its digest. The file as it is now can only take the right to decide away: an approver
removed from a group while the run waits decides nothing more, and one added since is not an
approver of this run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from opsgate.errors import ApprovalRejected
from opsgate.governance import runs
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.store.db import transaction
from opsgate.store.tables import ApprovalRow, RunRow
from tests.support.batches import Batch, open_request
from tests.support.policies import use_policy_variant
from tests.unit.platform.conftest import StoreProbe

WORKFLOW = "invoice_extraction"


def _clerks(*members: str) -> Any:
    def change(policy: dict[str, Any]) -> None:
        policy["approvals"]["groups"]["ap-clerks"]["members"] = list(members)

    return change


def test_every_process_reads_the_policy_the_run_started_under(store: StoreProbe, batch: Batch) -> None:
    kept = runs.run_policy(batch.run.id, WORKFLOW)
    assert kept.model_dump(mode="json") == batch.run.policy.model_dump(mode="json")
    (triggered,) = [e for e in store.events("triggered") if e.run_id == batch.run.id]
    assert triggered.data["policy_digest"]


def test_a_rule_added_to_the_file_while_the_run_waits_does_not_change_its_decisions(
    store: StoreProbe, batch: Batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = open_request(batch)
    every_invoice = [{"case_type": "invoice", "field": "total", "above": "1.00"}]
    use_policy_variant(tmp_path / "policies", monkeypatch, lambda p: p["approvals"].update(four_eyes=every_invoice))
    decisions = decide(request.id, answer_for(request, "alice"))
    assert len(decisions) == 3, "the run started without four eyes on these amounts"


def test_an_approver_removed_from_the_file_while_the_run_waits_may_not_approve(
    store: StoreProbe, batch: Batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = open_request(batch)
    use_policy_variant(tmp_path / "policies", monkeypatch, _clerks("bob"))
    no_longer = "alice may no longer decide on invoice cases .* the policy file as it is now does not let them"
    with pytest.raises(ApprovalRejected, match=no_longer):
        decide(request.id, answer_for(request, "alice"))
    assert store.rows(ApprovalRow) == [] and len(store.events("approval_refused")) == 1
    assert len(decide(request.id, answer_for(request, "bob"))) == 3, "in both the run's policy and the file"


def test_an_approver_added_to_the_file_while_the_run_waits_is_not_an_approver_of_the_run(
    store: StoreProbe, batch: Batch, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = open_request(batch)
    use_policy_variant(tmp_path / "policies", monkeypatch, _clerks("alice", "mallory"))
    with pytest.raises(ApprovalRejected, match=r"mallory may not decide on invoice cases .*\(the policy lets"):
        decide(request.id, answer_for(request, "mallory"))


def test_a_run_policy_rewritten_in_the_store_decides_nothing(store: StoreProbe, batch: Batch) -> None:
    """Whoever can write the runs table cannot put themselves into the run's approver groups."""
    request = open_request(batch)
    loosened = batch.run.policy.model_copy(deep=True)
    loosened.approvals.groups["ap-clerks"].members.append("mallory")
    with transaction() as session:
        session.execute(update(RunRow).where(RunRow.id == batch.run.id).values(policy=loosened.model_dump_json()))
    for approver in ("mallory", "alice"):
        with pytest.raises(ApprovalRejected, match="not the one its triggered audit event recorded"):
            decide(request.id, answer_for(request, approver))
    assert store.rows(ApprovalRow) == []
