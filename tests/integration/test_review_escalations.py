"""Answering an escalated case on the review screen, in Debian's Chromium (headless, Playwright).

Closed: the case listed for a clerk whose group decides it, its file name shown as text, closed as
not ours in the signed-in name, and gone from the list. Taken up: a request that fit no queue is
given one by a desk lead on its page; a Prefect worker runs the take-up deployment, which waits at
the gate (its process let go, as a long wait's is), and once a dispatcher approves, is started
again and opens the ticket. The screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from opsgate.governance import escalations, identity, runs
from opsgate.governance.answers import answer_for
from opsgate.learning.governing import governing
from opsgate.models import Escalation, EscalationReason
from opsgate.orchestration.resume import submit
from opsgate.orchestration.take_up import take_up_case
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, EscalationAnswerRow, TakeUpRequestRow, TicketRow
from tests.integration.conftest import wait_for_request
from tests.support.batches import WORKFLOW, proposed_batch, write_inbox
from tests.support.browser import chromium, sign_in
from tests.support.escalated import out_of_scope_request
from tests.support.review_server import review_server
from tests.support.workers import deploy, process_worker, wait_for_state

pytestmark = [pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery"
MARKUP = '<img src=x onerror="document.title=1">.pdf'


def test_a_clerk_closes_an_escalated_case_as_not_ours_on_the_review_screen(
    opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proposed = proposed_batch(write_inbox(tmp_path / "inbox")).proposals
    missing = Escalation(reason=EscalationReason.MISSING_DATA, field="due_date", detail="no due date found")
    cases = [
        p.model_copy(update={"id": f"case-{n}-escalated", "source": name, "escalations": [missing]})
        for n, (p, name) in enumerate(zip(proposed, ("granite-supplies.pdf", MARKUP), strict=False))
    ]
    runs.check_policy(runs.start_run(governing(WORKFLOW), "test"), cases)
    identity.add_user("carol", PASSWORD, by="test")

    with chromium() as browser, review_server(monkeypatch) as base:
        page = sign_in(browser, base, "carol", PASSWORD)
        table = page.locator("table.escalated")
        assert table.locator("tbody tr").count() == 2
        assert table.get_by_text(MARKUP).count() == 1 and page.title() != "1", "a file name is text, never markup"
        row = table.locator("tbody tr", has_text="granite-supplies.pdf")
        row.get_by_label("reason").fill("a supplier of the sister company: their AP pays it")
        row.get_by_label("not ours").check()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-escalated-cases.png"), full_page=True)
        row.get_by_role("button", name="Close").click()
        page.wait_for_url(f"{base}/")
        assert "closed (not ours) by carol" in page.locator(".flash").inner_text()
        assert table.locator("tbody tr").count() == 1 and table.get_by_text("granite-supplies.pdf").count() == 0
        page.screenshot(path=str(ARTIFACTS / "review-escalated-case-closed.png"), full_page=True)

    with transaction() as session:
        answer = session.get(EscalationAnswerRow, cases[0].id)
        assert (answer.answer, answer.answered_by) == ("not_ours", "carol")
    assert [c.proposal_id for c in escalations.open_escalations(WORKFLOW)] == [cases[1].id]


def test_a_desk_lead_takes_a_request_up_on_the_review_screen_and_a_worker_runs_it_to_a_ticket(
    flow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    triage = "request_triage"
    case = out_of_scope_request("mail/9.eml", "<q9@x>", "Order 5512", MARKUP)
    identity.add_user("lena", PASSWORD, by="test")
    pool, name = f"opsgate-test-{uuid.uuid4().hex[:8]}", f"take-up-{uuid.uuid4().hex[:8]}"

    with (
        process_worker(flow_env, pool, tmp_path / "worker.log"),
        chromium() as browser,
        review_server(monkeypatch, {"OPSGATE_TAKE_UP_DEPLOYMENT": f"take-up/{name}"}) as base,
    ):
        deploy(take_up_case, "opsgate/orchestration/take_up.py:take_up_case", name, pool, {})
        page = sign_in(browser, base, "lena", PASSWORD)
        page.get_by_label(f"open case {case.id[:8]}").click()
        page.wait_for_url(f"{base}/escalations/{case.id}")
        assert page.get_by_text(MARKUP).count() == 1 and page.title() != "1", "the request's words are text"
        page.get_by_label("queue").select_option("orders")
        page.get_by_label("note").fill("a customer after all: order 5512")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "review-take-up.png"), full_page=True)
        page.get_by_role("button", name="Take up").click()
        page.wait_for_url(f"{base}/")
        assert f"case {case.id[:8]} taken up by lena" in page.locator(".flash").inner_text()

        request = wait_for_request(triage, timeout=180)
        (proposed,) = request.proposals
        assert (proposed.payload["queue"], proposed.payload["assignee_group"]) == ("orders", "order-desk")
        assert proposed.payload["note"] == "a customer after all: order 5512"
        wait_for_state(request.flow_run_id, "Suspended")
        submit(request, answer_for(request, "carol"))  # a dispatcher approves: the worker starts the run again
        wait_for_state(request.flow_run_id, "Completed")

    with transaction() as session:
        (ticket,) = session.execute(select(TicketRow)).scalars()
        assert (ticket.request, ticket.queue, ticket.assignee_group) == ("<q9@x>", "orders", "order-desk")
        answer = session.get(EscalationAnswerRow, case.id)
        assert (answer.answer, answer.answered_by, answer.taken_up_as) == ("taken_up", "lena", proposed.id)
        (asked,) = session.execute(select(TakeUpRequestRow)).scalars()
        assert asked.run_id == request.flow_run_id
        (taken,) = session.execute(select(AuditRow).where(AuditRow.event == "taken_up")).scalars()
        assert (taken.actor, taken.data["authenticated_by"]) == ("lena", "password"), "proven by her sign-in"
    assert escalations.open_escalations(triage) == []
