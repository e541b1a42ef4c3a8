"""Closing an escalated case on the review screen, in Debian's Chromium (headless, Playwright): the
case listed for a clerk whose group decides it, its file name shown as text, closed as not ours in
the signed-in name, and gone from the list. The screenshot goes to ``test-artifacts/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgate.governance import escalations, identity, runs
from opsgate.learning.governing import governing
from opsgate.models import Escalation, EscalationReason
from opsgate.store.db import transaction
from opsgate.store.tables import EscalationAnswerRow
from tests.support.batches import WORKFLOW, proposed_batch, write_inbox
from tests.support.browser import chromium, sign_in
from tests.support.review_server import review_server

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
