"""Going live on real stores: a version the policy has not released proposes in shadow only; its
release is proposed only from a replay that meets the policy's rule, decided by the people the
policy names for `release` cases, and undone by withdrawing it.

The version under test is the rules' own (rules-v1): a policy variant lists only `einvoice-xml`,
as if the rules had just been rewritten, after three invoices the rules read were approved under
the shipped policy (that lists rules-v1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opsgate.errors import ApprovalRejected, ConfigurationError, PolicyDenied, PolicyError
from opsgate.governance import executor, requests, runs
from opsgate.governance.answers import answer_for
from opsgate.learning import releases
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.models import Route, Status
from opsgate.policy.loader import load_policy, load_policy_file
from opsgate.settings import PROJECT_ROOT
from opsgate.store.tables import InstructionReleaseRow, ProposalRow
from opsgate.workflows import by_name
from tasks.invoice_extraction.backends import RULES_VERSION
from tasks.invoice_extraction.extracting import XML_VERSION
from tasks.invoice_extraction.llm_extraction import current_prompt as invoice_prompt
from tasks.invoice_extraction.memory import MEMORY_RELEASE
from tasks.weekly_summary.narrative import TEMPLATE_VERSION
from tasks.weekly_summary.narrative import current_prompt as summary_prompt
from tests.support.batches import Batch, open_request, proposed_batch, write_inbox
from tests.support.policies import use_policy_variant
from tests.support.samples import renumbered
from tests.support.undo import undo_through_gate
from tests.unit.platform.conftest import StoreProbe

WORKFLOW = "invoice_extraction"


def _approved(batch: Batch, edits: dict[str, dict[str, str]] | None = None) -> None:
    request = open_request(batch)
    for decision in decide(request.id, answer_for(request, "alice", edits=edits)):
        executor.execute_one(batch.run.policy, decision.proposal_id)


def _without_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def change(policy: dict[str, Any]) -> None:
        policy["go_live"]["released"] = [XML_VERSION]

    use_policy_variant(tmp_path / "policies", monkeypatch, change)


def test_a_version_not_released_is_shadowed_and_cannot_be_written(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_rules(tmp_path, monkeypatch)
    batch = proposed_batch(write_inbox(tmp_path / "inbox"))

    assert [v.route for v in batch.verdicts] == [Route.SHADOW] * 3
    assert {store.get(ProposalRow, p.id).status for p in batch.proposals} == {Status.SHADOWED}
    assert {e.data["why"] for e in store.events("shadowed")} == {
        f"instruction version {RULES_VERSION} is not released (go_live): its cases are shadowed until a release is approved"
    }
    assert open_request(batch).proposals == [], "nothing goes to the gate"
    with pytest.raises(PolicyDenied, match="shadowed, not approved"):
        executor.execute_one(batch.run.policy, batch.proposals[0].id)


def _release_proposed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edits: dict[str, dict[str, str]] | None = None
) -> tuple[runs.Run, Any]:
    """Three invoices approved under the shipped policy (with ``edits``), then the variant without
    the rules and a release of rules-v1 proposed from their replay."""
    batch = proposed_batch(write_inbox(tmp_path / "first"))
    _approved(batch, {batch.proposals[0].id: edits} if edits else None)
    _without_rules(tmp_path, monkeypatch)
    run = runs.start_run(governing(WORKFLOW), "cli:lena")
    proposal, report = releases.propose_release(by_name(WORKFLOW), run.policy, RULES_VERSION)
    return run, (proposal, report)


def test_a_release_rests_on_its_replay_and_goes_to_the_people_the_policy_names(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, (proposal, report) = _release_proposed(tmp_path, monkeypatch)
    assert report.ready and (report.fields_agreed, report.fields_compared) == (36, 36)
    assert proposal.payload["version"] == RULES_VERSION and proposal.payload["evidence"]["agreement"] == 1.0
    (verdict,) = runs.check_policy(run, [proposal])
    assert verdict.route is Route.APPROVE, "a release is always a person's decision"

    request = requests.open_request(WORKFLOW, run.id, "release-run", "release-1", [proposal], requests.deadline_in(600))
    with pytest.raises(ApprovalRejected, match="alice may not decide on release cases"):
        decide(request.id, answer_for(request, "alice"))
    assert releases.releases_in_force(WORKFLOW) == [], "nothing is released before the decision"
    (decision,) = decide(request.id, answer_for(request, "olga"))
    assert executor.execute_one(run.policy, decision.proposal_id).status is Status.EXECUTED
    (row,) = store.rows(InstructionReleaseRow)
    assert (row.version, row.status, row.proposal_id) == (RULES_VERSION, "in_force", proposal.id)

    released = proposed_batch(write_inbox(tmp_path / "second", renumbered("2")))
    assert [v.route for v in released.verdicts] == [Route.APPROVE] * 3, "released: its cases go to the gate"
    (triggered,) = [e for e in store.events("triggered") if e.run_id == released.run.id]
    assert triggered.data["released"] == [RULES_VERSION] and "+released:" in triggered.data["policy_version"]

    assert undo_through_gate(proposal.id, "olga", "prompt regressions in production").status is Status.EXECUTED
    assert store.rows(InstructionReleaseRow)[0].status == "withdrawn"
    withdrawn = proposed_batch(write_inbox(tmp_path / "third", renumbered("3")))
    assert [v.route for v in withdrawn.verdicts] == [Route.SHADOW] * 3, "withdrawn: shadowed again"


def test_a_version_below_the_rule_is_not_proposed(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One of 36 approved fields was corrected: 35/36 = 97.2%, below the policy's 98%."""
    run, (proposal, report) = _release_proposed(tmp_path, monkeypatch, edits={"po_number": "PO-00000"})
    assert (report.fields_agreed, report.fields_compared, report.min_agreement, report.ready) == (35, 36, 0.98, False)
    assert proposal.tool is None and proposal.error.startswith("not released: not ready: 35/36 fields")
    (verdict,) = runs.check_policy(run, [proposal])
    assert verdict.route is Route.FAIL and store.get(ProposalRow, proposal.id).status == Status.FAILED
    with pytest.raises(ConfigurationError, match="einvoice-xml is already released"):
        releases.propose_release(by_name(WORKFLOW), run.policy, XML_VERSION)


def test_go_live_needs_the_release_write(tmp_path: Path) -> None:
    text = (PROJECT_ROOT / "policies" / f"{WORKFLOW}.yaml").read_text(encoding="utf-8")
    path = tmp_path / f"{WORKFLOW}.yaml"
    path.write_text(
        text.replace(
            "approval: always\n    undo: instructions.withdraw",
            "approval: by_autonomy\n    undo: instructions.withdraw",
        ),
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match="go_live: releasing a version is a write the owner approves"):
        load_policy_file(path)


def test_the_shipped_policies_release_the_versions_this_installation_proposes_with() -> None:
    """A prompt edited without a release is shadowed; the shipped files release the shipped prompts."""
    invoice = invoice_prompt().ident
    assert set(load_policy(WORKFLOW).go_live.released) == {
        RULES_VERSION,
        XML_VERSION,
        invoice,
        f"{RULES_VERSION}+{invoice}",
        MEMORY_RELEASE,
    }
    assert set(load_policy("weekly_summary").go_live.released) == {TEMPLATE_VERSION, summary_prompt().ident}
    dedupe = load_policy("duplicate_flagging")
    assert dedupe.go_live.released == [dedupe.instruction_version]
