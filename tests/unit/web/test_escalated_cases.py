"""Escalated cases on the review screen: listed for the people the policy lets decide them, shown
as text, closed in the signed-in name (proven by the sign-in) with the same checks as the CLI's."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from opsgate.governance import escalations, runs
from opsgate.learning.governing import governing
from opsgate.models import Escalation, EscalationReason, Proposal
from opsgate.store.db import transaction
from opsgate.store.tables import EscalationAnswerRow, ProposalRow
from tests.support.batches import WORKFLOW, proposed_batch, write_inbox
from tests.unit.platform.conftest import StoreProbe
from tests.unit.web.conftest import csrf_of, sign_in

HOSTILE = '<img src=x onerror="alert(1)">.pdf'


def _escalated(inbox: Path, case_id: str = "case-0001-escalated") -> Proposal:
    """An invoice escalated for a missing due date, from a file whose name is markup."""
    proposal = proposed_batch(inbox).proposals[0]
    missing = Escalation(reason=EscalationReason.MISSING_DATA, field="due_date", detail="no <b>due</b> date found")
    case = proposal.model_copy(update={"id": case_id, "source": HOSTILE, "escalations": [missing]})
    runs.check_policy(runs.start_run(governing(WORKFLOW), "test"), [case])
    return case


def _close(client: TestClient, case: Proposal, **form: str) -> str:
    token = csrf_of(client.get("/").text)
    closed = client.post(f"/escalations/{case.id}/close", data={"csrf": token, **form})
    assert closed.status_code == 303 and closed.headers["location"] == "/"
    return client.get("/").text


def test_a_clerk_closes_an_escalated_case_as_not_ours_in_their_signed_in_name(
    client: TestClient, store: StoreProbe, tmp_path: Path
) -> None:
    case = _escalated(write_inbox(tmp_path / "inbox"))
    sign_in(client, "carol")
    listed = client.get("/").text
    assert "Escalated cases you may answer" in listed and case.id[:8] in listed
    assert HOSTILE not in listed and "&lt;img src=x" in listed, "a file name is shown as text, never as markup"
    assert "<b>due</b>" not in listed and "&lt;b&gt;due&lt;/b&gt;" in listed

    after = _close(client, case, reason="another company's invoice", not_ours="1", by="olga")
    assert f"case {case.id[:8]} closed (not ours) by carol" in after and case.id[:8] not in after.split("</h2>")[-1]
    answer = store.get(EscalationAnswerRow, case.id)
    assert (answer.answer, answer.answered_by) == ("not_ours", "carol"), "the form cannot say who answers"
    (event,) = store.events("closed", case.id)
    assert event.data["authenticated_by"] == "password" and event.data["reason"] == "another company's invoice"
    assert escalations.not_ours(WORKFLOW) == [case.inputs]


def test_someone_the_policy_does_not_let_decide_the_case_neither_sees_nor_closes_it(
    client: TestClient, store: StoreProbe, tmp_path: Path
) -> None:
    case = _escalated(write_inbox(tmp_path / "inbox"))
    sign_in(client, "mallory")  # an account, in no approver group
    assert case.id[:8] not in client.get("/").text and "No escalated case waits on you." in client.get("/").text
    after = _close(client, case, reason="spam", not_ours="1")
    assert "not closed: mallory may not close invoice cases" in after
    assert store.count(EscalationAnswerRow) == 0 and store.events("closed") == []


def test_a_close_without_the_forms_token_or_a_reason_closes_nothing(
    client: TestClient, store: StoreProbe, tmp_path: Path
) -> None:
    case = _escalated(write_inbox(tmp_path / "inbox"))
    sign_in(client, "carol")
    forged = client.post(f"/escalations/{case.id}/close", data={"reason": "spam"})
    assert forged.status_code == 403
    assert "not closed: closing an escalated case needs a reason" in _close(client, case, reason="   ")
    assert store.count(EscalationAnswerRow) == 0


def test_the_cases_a_person_may_close_are_counted_among_their_own(store: StoreProbe, tmp_path: Path) -> None:
    """The list's limit counts the cases the person may close: a newer one only the leads may
    decide does not push a clerk's own case off it."""
    clerks = _escalated(write_inbox(tmp_path / "first"), "case-0001-escalated")
    leads = _escalated(write_inbox(tmp_path / "second"), "case-0002-escalated")
    with transaction() as session:  # a case type the clerks' group does not decide (taking a posting back)
        session.execute(update(ProposalRow).where(ProposalRow.id == leads.id).values(case_type="undo"))
    assert [c.proposal_id for c in escalations.open_escalations(limit=1)] == [leads.id]
    assert [c.proposal_id for c in escalations.closable_by("carol", limit=1)] == [clerks.id]
    assert [c.proposal_id for c in escalations.closable_by("olga", limit=2)] == [leads.id, clerks.id]
    assert escalations.closable_by("mallory") == []
