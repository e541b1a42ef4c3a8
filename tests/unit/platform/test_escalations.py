"""A person's answer to an escalated case: taken up, it goes to a person whatever its case type
earned, with the policy's checks on the values they chose; a case is answered once, however the
second answer tries to get in; closed as not ours, it is what a workflow may learn from; nothing a
proposal says makes it a taken-up case unless the case was escalated, open and the same."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from opsgate.errors import InputError
from opsgate.governance import escalations, requests, runs
from opsgate.governance.answers import answer_for
from opsgate.learning.decisions import decide
from opsgate.learning.governing import governing
from opsgate.models import Escalation, EscalationReason, Proposal, Route, Status, TakeUp
from opsgate.policy.loader import load_policy
from opsgate.store import audit
from opsgate.store.db import transaction
from opsgate.store.tables import EscalationAnswerRow, ProposalRow
from tests.support.batches import WORKFLOW, proposed_batch, write_inbox
from tests.support.policies import use_policy_variant
from tests.unit.platform.conftest import StoreProbe


def _escalated(inbox: Path) -> list[Proposal]:
    """The inbox's invoices, each escalated as if its due date had not been read."""
    proposed = proposed_batch(inbox).proposals
    run = runs.start_run(governing(WORKFLOW), "test")
    missing = Escalation(reason=EscalationReason.MISSING_DATA, field="due_date", detail="no due date found")
    again = [
        p.model_copy(update={"id": f"{p.id[:30]}-esc", "escalations": [missing], "source": f"{p.source}#late"})
        for p in proposed
    ]
    assert {v.route for v in runs.check_policy(run, again)} == {Route.ESCALATE}
    return again


def _taken_up(proposal_id: str, by: str = "olga", **fields: str) -> tuple[Proposal, Route, str | None]:
    run = runs.start_run(governing(WORKFLOW), "test")
    made = escalations.take_up(proposal_id, fields, by, run.policy)
    (verdict,) = runs.check_policy(run, [made])
    return made, verdict.route, made.error


def test_a_case_taken_up_waits_for_a_person_even_where_its_case_type_runs_auto(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy_variant(tmp_path / "policies", monkeypatch, lambda p: p["autonomy"].update(invoice="auto"))
    first, *_ = _escalated(write_inbox(tmp_path / "inbox"))
    assert [c.proposal_id for c in escalations.open_escalations(WORKFLOW)].count(first.id) == 1

    made, route, error = _taken_up(first.id, due_date="2026-12-31")
    assert error is None and route is Route.APPROVE, "a person's values are approved by a person, never auto"
    assert made.payload is not None and made.payload["due_date"] == "2026-12-31"
    assert made.instruction_version == escalations.TAKEN_UP_VERSION and made.confidence == {}
    assert store.get(ProposalRow, made.id).taken_up_from == first.id
    answer = store.get(EscalationAnswerRow, first.id)
    assert (answer.answer, answer.answered_by, answer.taken_up_as) == ("taken_up", "olga", made.id)
    (event,) = store.events("taken_up", first.id)
    assert event.actor == "olga" and event.data["as"] == made.id
    assert store.get(ProposalRow, first.id).status == Status.ESCALATED, "the escalation's own record stays as it was"
    assert first.id not in {c.proposal_id for c in escalations.open_escalations(WORKFLOW)}
    with transaction() as session:
        assert audit.verify(session).ok, "the answer is the one its event recorded"


def test_a_case_is_answered_once_however_the_second_answer_comes(store: StoreProbe, tmp_path: Path) -> None:
    first, second, _ = _escalated(write_inbox(tmp_path / "inbox"))
    made, route, _ = _taken_up(first.id)
    assert route is Route.APPROVE
    with pytest.raises(InputError, match="already answered: taken_up by olga"):
        escalations.take_up(first.id, {}, "bob", load_policy(WORKFLOW))
    with pytest.raises(InputError, match="already answered"):
        escalations.close(first.id, "bob", "phoned them")

    # A proposal made by hand, claiming the case the platform already gave out, fails and claims nothing.
    forged = made.model_copy(update={"id": "forged-1", "taken_up": TakeUp(case=first.id, by="mallory")})
    run = runs.start_run(governing(WORKFLOW), "test")
    (verdict,) = runs.check_policy(run, [forged])
    assert verdict.route is Route.FAIL and "already answered" in (forged.error or "")
    assert store.get(EscalationAnswerRow, first.id).answered_by == "olga"

    escalations.close(second.id, "bob", "paid by phone")
    with pytest.raises(InputError, match="already answered: closed by bob"):
        escalations.take_up(second.id, {}, "olga", load_policy(WORKFLOW))
    assert store.count(EscalationAnswerRow) == 2


@pytest.mark.parametrize("target", ["awaiting", "another source", "unknown"])
def test_only_an_open_escalated_case_of_the_same_source_can_be_taken_up(
    store: StoreProbe, tmp_path: Path, target: str
) -> None:
    """A proposal cannot make itself a taken-up case (and so skip its case type's autonomy and the
    release check) by naming a case that was never escalated, another request's, or none."""
    inbox = write_inbox(tmp_path / "inbox")
    pending = proposed_batch(inbox).proposals[0]
    escalated = _escalated(inbox)[0]
    case, source = {
        "awaiting": (pending.id, pending.source),
        "another source": (escalated.id, "somewhere-else.pdf"),
        "unknown": ("no-such-case", escalated.source),
    }[target]
    forged = pending.model_copy(
        update={"id": "forged-2", "source": source, "taken_up": TakeUp(case=case, by="mallory")}
    )
    run = runs.start_run(governing(WORKFLOW), "test")
    (verdict,) = runs.check_policy(run, [forged])
    assert verdict.route is Route.FAIL and forged.error
    assert store.count(EscalationAnswerRow) == 0 and store.events("taken_up") == []


def test_closed_as_not_ours_is_learnt_closed_otherwise_is_not(store: StoreProbe, tmp_path: Path) -> None:
    first, second, third = _escalated(write_inbox(tmp_path / "inbox"))
    with pytest.raises(InputError, match="needs a reason"):
        escalations.close(first.id, "bob", "  ")
    with pytest.raises(InputError, match="needs the name"):
        escalations.close(first.id, " ", "spam")
    assert escalations.close(first.id, "bob", "another company's invoice", not_ours=True) == "not_ours"
    assert escalations.close(second.id, "bob", "paid by phone") == "closed"
    assert escalations.not_ours(WORKFLOW) == [first.inputs]
    assert escalations.not_ours("request_triage") == []
    assert [c.proposal_id for c in escalations.open_escalations(WORKFLOW)] == [third.id]
    (event,) = store.events("closed", first.id)
    assert event.actor == "bob" and event.data["answer"] == "not_ours"


def test_a_case_escalated_with_no_action_cannot_be_taken_up_without_the_workflow_s_help(
    store: StoreProbe, tmp_path: Path
) -> None:
    run = runs.start_run(governing(WORKFLOW), "test")
    unreadable = Proposal(
        workflow=WORKFLOW,
        source="scan.pdf",
        case_type="invoice",
        instruction_version=run.policy.instruction_version,
        escalations=[Escalation(reason=EscalationReason.NEEDS_OCR, detail="no text")],
    )
    runs.check_policy(run, [unreadable])
    with pytest.raises(InputError, match="proposed no action for scan.pdf"):
        escalations.take_up(unreadable.id, {"total": "10"}, "olga", run.policy)
    made = _escalated(write_inbox(tmp_path / "inbox"))[0]
    with pytest.raises(InputError, match="has no field colour"):
        escalations.take_up(made.id, {"colour": "red"}, "olga", run.policy)
    assert store.count(EscalationAnswerRow) == 0


def test_the_policy_s_checks_hold_for_a_person_s_values(store: StoreProbe, tmp_path: Path) -> None:
    """Taking a case up is no way around the policy: a total above its high-value line (typed by the
    person who took the case up) is escalated again, and the case stays answered, not reopened."""
    first, *_ = _escalated(write_inbox(tmp_path / "inbox"))
    made, route, error = _taken_up(first.id, total="999999.00")
    assert error is None and route is Route.ESCALATE
    row = store.get(ProposalRow, made.id)
    assert row.status == Status.ESCALATED and "high_value" in row.detail
    assert store.get(EscalationAnswerRow, first.id).taken_up_as == made.id
    assert [c.proposal_id for c in escalations.open_escalations(WORKFLOW)].count(made.id) == 1, (
        "the new escalation is open in its turn"
    )


@pytest.mark.parametrize("tampering", ["forged", "changed"])
def test_an_answer_written_or_changed_in_the_database_is_caught_by_audit_verify(
    store: StoreProbe, tmp_path: Path, tampering: str
) -> None:
    """A database hand who makes a closed case "not ours" (or adds a not-ours answer with no event)
    would teach triage what is not its business; the answers are held against their audit events."""
    first, second, _ = _escalated(write_inbox(tmp_path / "inbox"))
    escalations.close(first.id, "bob", "paid by phone")
    with transaction() as session:
        assert audit.verify(session).ok
        if tampering == "changed":
            session.get(EscalationAnswerRow, first.id).answer = "not_ours"
        else:
            session.add(
                EscalationAnswerRow(
                    proposal_id=second.id, workflow=WORKFLOW, answer="not_ours", answered_by="bob", reason="x"
                )
            )
    with transaction() as session:
        result = audit.verify(session)
    assert not result.ok and "is not the one its audit event recorded" in result.problem


def test_a_case_taken_up_that_expired_at_the_gate_is_open_again(store: StoreProbe, tmp_path: Path) -> None:
    """Nobody decided the taken-up case before its deadline: taking it up answered nothing, so the
    escalation is listed again and can be answered, and the log still verifies."""
    first, *_ = _escalated(write_inbox(tmp_path / "inbox"))
    made, route, _ = _taken_up(first.id)
    assert route is Route.APPROVE and first.id not in {c.proposal_id for c in escalations.open_escalations()}
    run_id = store.get(ProposalRow, made.id).run_id
    pending = requests.open_request(WORKFLOW, run_id, "no-flow-run", "k-1", [made], requests.deadline_in(3600))
    assert requests.expire(pending.id, "the owner") == 1
    assert first.id in {c.proposal_id for c in escalations.open_escalations()}
    assert escalations.close(first.id, "bob", "paid by phone") == "closed"
    assert store.get(EscalationAnswerRow, first.id).answer == "closed"
    with pytest.raises(InputError, match="already answered: closed by bob"):
        escalations.take_up(first.id, {}, "olga", load_policy(WORKFLOW))
    with transaction() as session:
        assert audit.verify(session).ok


def test_a_case_taken_up_whose_values_the_approver_rejected_is_open_again(store: StoreProbe, tmp_path: Path) -> None:
    """The approver refused the person's values: nothing was done, so the case is not answered."""
    first, *_ = _escalated(write_inbox(tmp_path / "inbox"))
    made, route, _ = _taken_up(first.id, due_date="2026-12-31")
    run_id = store.get(ProposalRow, made.id).run_id
    pending = requests.open_request(WORKFLOW, run_id, "no-flow-run", "k-1", [made], requests.deadline_in(3600))
    decide(pending.id, answer_for(pending, "alice", rejections={made.id: "wrong due date"}))
    assert store.get(ProposalRow, made.id).status == Status.REJECTED
    assert first.id in {c.proposal_id for c in escalations.open_escalations()}
    made_again, route, error = _taken_up(first.id, by="lena", due_date="2027-01-15")
    assert error is None and route is Route.APPROVE
    assert store.get(EscalationAnswerRow, first.id).taken_up_as == made_again.id
    with transaction() as session:
        assert audit.verify(session).ok


def test_only_someone_the_policy_lets_decide_a_case_may_close_it(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closing leaves nothing for an approver to look at: a name outside the case type's approver
    groups cannot make a case disappear, and where the policy wants proven people a typed name
    cannot either."""
    first, second, _ = _escalated(write_inbox(tmp_path / "inbox"))
    with pytest.raises(InputError, match="mallory may not close invoice cases .* lets ap-clerks, ap-leads decide"):
        escalations.close(first.id, "mallory", "spam", not_ours=True)
    assert store.count(EscalationAnswerRow) == 0 and store.events("closed") == []

    use_policy_variant(
        tmp_path / "policies", monkeypatch, lambda policy: policy["approvals"].update(identity="verified")
    )
    assert escalations.verified_required(WORKFLOW)
    with pytest.raises(InputError, match="requires a verified person, and bob's name was only typed"):
        escalations.close(first.id, "bob", "paid by phone")
    assert store.count(EscalationAnswerRow) == 0
    assert escalations.close(second.id, "bob", "paid by phone", authenticated_by="password") == "closed"
    (event,) = store.events("closed", second.id)
    assert event.actor == "bob" and event.data["authenticated_by"] == "password"


@pytest.mark.parametrize("second", ["close", "take up"])
def test_two_people_answering_one_case_at_the_same_moment_give_one_answer(
    store: StoreProbe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, second: str
) -> None:
    """The second answer arrives while the first one's transaction is still open (held there just
    after its claim): it waits for it, then is refused with a reason, never written beside it, and
    the first commits whole."""
    first, *_ = _escalated(write_inbox(tmp_path / "inbox"))
    claimed, release = threading.Event(), threading.Event()
    claim = escalations.claim

    def claim_then_hold(*args: object, **kwargs: object) -> str | None:
        reason = claim(*args, **kwargs)  # type: ignore[arg-type]
        if threading.current_thread().name == "olga":
            claimed.set()
            assert release.wait(30), "the test lets the first answer commit"
        return reason

    monkeypatch.setattr(escalations, "claim", claim_then_hold)
    outcome: dict[str, object] = {}

    def olga() -> None:
        outcome["olga"] = _taken_up(first.id, by="olga", due_date="2026-12-31")

    def bob() -> None:
        try:
            if second == "close":
                escalations.close(first.id, "bob", "paid by phone")
                outcome["bob"] = "closed"
            else:
                run = runs.start_run(governing(WORKFLOW), "test")
                made = escalations.take_up(first.id, {"due_date": "2027-01-31"}, "bob", run.policy)
                (verdict,) = runs.check_policy(run, [made])
                outcome["bob"] = (verdict.route, made.error)
        except Exception as exc:  # noqa: BLE001 - what the second person is told is the point
            outcome["bob"] = exc

    first_answer = threading.Thread(target=olga, name="olga")
    first_answer.start()
    assert claimed.wait(30), "the first answer reached its claim"
    second_answer = threading.Thread(target=bob, name="bob")
    second_answer.start()
    second_answer.join(0.5)  # long enough to reach the store and wait on the first transaction
    release.set()
    first_answer.join(30)
    second_answer.join(30)

    made, route, error = outcome["olga"]  # type: ignore[misc]
    assert error is None and route is Route.APPROVE, "the first answer commits whole"
    told = outcome["bob"]  # refused before its run starts, or its new case fails at the claim
    refusal = str(told) if isinstance(told, InputError) else told[1] if told[0] is Route.FAIL else None  # type: ignore[index]
    assert refusal and "already answered: taken_up by olga" in refusal, told
    answer = store.get(EscalationAnswerRow, first.id)
    assert (answer.answer, answer.answered_by, answer.taken_up_as) == ("taken_up", "olga", made.id)
    assert store.count(EscalationAnswerRow) == 1 and len(store.events("taken_up", first.id)) == 1
    assert store.events("closed", first.id) == []
    with transaction() as session:
        assert audit.verify(session).ok
