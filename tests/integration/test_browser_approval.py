"""The approval form as an approver meets it: a Prefect server with its UI, the invoice flow paused
at its gate, and Debian's Chromium (headless, driven by Playwright) opening the run's page, pressing
Resume and deciding per proposal: approve one invoice, correct another's PO number, reject the third.

Prefect's schema form does not tie its labels to its inputs (a label's ``for`` names no element), so
inputs cannot be found by accessible name. They are found by the titles our form's schema gives
them, inside the wrapper Prefect's form puts around every property (``.schema-form-property``), and
reviews by the document their Source input holds, never by position alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from sqlalchemy import select

from opsgate.orchestration.resume import wait_until_resumable
from opsgate.orchestration.server import ui_url
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, PayableRow
from tests.integration.conftest import FlowInThread, wait_for_request
from tests.support.batches import write_inbox
from tests.support.browser import prefect_server_with_ui, require_browser

if TYPE_CHECKING:  # the package may be missing: then the test skips (or fails under OPSGATE_REQUIRE_BROWSER=1)
    from playwright.sync_api import Browser, Locator, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "approval-form.png"
APPROVER = "carol"  # an ap-clerk in policies/invoice_extraction.yaml
NEW_PO = "PO-77120"
REASON = "already paid by card; do not post"


@pytest.fixture
def chromium() -> Path:
    return require_browser()


@pytest.fixture
def ui_server(chromium: Path, opsgate_env: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with prefect_server_with_ui(monkeypatch) as api_url:
        yield api_url


def _property(scope: Page | Locator, title: str) -> Locator:
    """The form property whose label starts with ``title`` (labels may add "(Optional)" or a doubt)."""
    label = scope.locator(".schema-form-property__label", has_text=re.compile(rf"^{re.escape(title)}\b")).first
    return label.locator(
        "xpath=ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' schema-form-property ')][1]"
    )


def _text_input(scope: Page | Locator, title: str) -> Locator:
    return _property(scope, title).locator("textarea").first


def _review(dialog: Locator, document: str) -> Locator:
    """The review whose Source input holds the path of ``document``."""
    items = dialog.locator(".p-draggable-list__item")
    found = [
        items.nth(i)
        for i in range(items.count())
        if _text_input(items.nth(i), "Source").input_value().endswith(f"/{document}")
    ]
    assert len(found) == 1, f"one review for {document}, found {len(found)}"
    return found[0]


def _decide(page: Page, review: Locator, decision: str) -> None:
    """Pick the decision from Prefect's select, opened from the keyboard as a keyboard user does:
    in headless Chromium a click on it leaves its pop-over closed."""
    _decision(review).press("ArrowDown")
    page.get_by_role("option", name=decision, exact=True).click()
    assert _decision(review).inner_text().strip() == decision


def _decision(review: Locator) -> Locator:
    return _property(review, "Decision").locator(".p-label__body").get_by_role("button")


def _resume_dialog(browser: Browser, ui_server: str, flow_run_id: str) -> tuple[Page, Locator]:
    """The run's page in the Prefect UI with its Resume dialog open on the three sample invoices."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(ui_url(ui_server, flow_run_id))
    page.get_by_role("button", name="Resume").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("heading", name="3 proposals of invoice_extraction to review").wait_for()
    return page, dialog


def _screenshot_whole_dialog(page: Page, dialog: Locator) -> None:
    """Prefect's dialog scrolls its body and squeezes the description when the form is long: make
    the window tall enough for all of it, so the picture shows the filled form and its table."""
    body = dialog.locator(".p-modal__body")
    height = body.evaluate("e => e.scrollHeight") + body.locator("article").first.evaluate("e => e.scrollHeight")
    page.set_viewport_size({"width": 1400, "height": height + 200})
    body.evaluate("e => e.scrollTo(0, 0)")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def _submit(page: Page, dialog: Locator) -> None:
    """Press Submit and wait for the dialog to close: that is how the UI says the server took the
    answer (it keeps a refused form open). If it stays open, fail with what the page said (its
    toasts and message, the resume call and its reply, the console), so a refusal can be told from
    a lost click or a slow server."""
    from playwright.sync_api import Response
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    console: list[str] = []
    resumes: list[Response] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("response", lambda response: resumes.append(response) if "/resume" in response.url else None)
    dialog.get_by_role("button", name="Submit").click()
    try:
        dialog.wait_for(state="hidden", timeout=60_000)
    except PlaywrightTimeout:
        shown = page.locator("[class*='toast'], .p-message, [class*='error']").all_inner_texts()
        replies = [f"{r.request.method} {r.url} -> {r.status} {r.text()[:500]}" for r in resumes]
        page.screenshot(path=str(SCREENSHOT.with_name("approval-form-still-open.png")), full_page=True)
        pytest.fail(f"the dialog stayed open after Submit; shown: {shown}; resume calls: {replies}; console: {console}")


def _events(event: str) -> list[AuditRow]:
    with transaction() as session:
        return list(session.execute(select(AuditRow).where(AuditRow.event == event).order_by(AuditRow.seq)).scalars())


def test_an_approver_decides_per_proposal_in_the_prefect_ui(ui_server: str, chromium: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from flows.invoice_extraction import invoice_extraction
    from tasks.invoice_extraction.params import InvoiceParams

    run = FlowInThread(invoice_extraction, InvoiceParams(inbox=write_inbox(tmp_path / "inbox")))
    request = wait_for_request(run=run)
    wait_until_resumable(request)
    order = [Path(p.source).name for p in request.proposals]
    assert order == ["de.pdf", "uk.pdf", "us.pdf"], "a request lists its proposals by source"
    unsure = [
        name
        for name, score in request.proposals[1].confidence.items()
        if score < 0.8 and name in request.proposals[1].payload
    ]
    assert unsure, "the sample invoices leave the rules reader unsure of some values"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium))
        try:
            page, dialog = _resume_dialog(browser, ui_server, request.flow_run_id)
            assert dialog.get_by_role("table").get_by_role("row").count() == 1 + len(order), (
                "a header and one row per proposal"
            )

            _text_input(dialog, "Approver").fill(APPROVER)
            approve, edit, reject = (_review(dialog, name) for name in order)
            for number, review in enumerate((approve, edit, reject), start=1):
                assert f"Proposal {number}:" in _property(review, "Source").inner_text(), (
                    "each review opens with its number in the table"
                )
            assert all("agent unsure" in _property(edit, name).inner_text() for name in unsure), (
                "doubts are marked at the value"
            )
            assert _decision(approve).inner_text().strip() == "approve", "approving is what the form proposes"
            _decide(page, edit, "edit")
            _text_input(edit, "po_number").fill(NEW_PO)
            _decide(page, reject, "reject")
            _text_input(reject, "Reason").fill(REASON)
            _screenshot_whole_dialog(page, dialog)
            _submit(page, dialog)
            summary = run.finish(timeout=120)
        finally:
            browser.close()

    assert summary.counts == {"executed": 2, "rejected": 1}
    with transaction() as session:
        written = {Path(r.source).name: r for r in session.execute(select(PayableRow)).scalars()}
    assert sorted(written) == ["de.pdf", "uk.pdf"], "the rejected invoice is not written"
    assert written["uk.pdf"].po_number == NEW_PO and written["de.pdf"].po_number is None
    corrected = _events("corrected")
    assert [(e.data["field"], e.data["proposed"], e.data["approved"], e.actor) for e in corrected] == [
        ("po_number", None, NEW_PO, APPROVER)
    ]
    rejected = _events("rejected")
    assert [(Path(e.data["source"]).name, e.data["reason"], e.actor) for e in rejected] == [
        ("us.pdf", REASON, APPROVER)
    ]
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(request.flow_run_id)).state
    assert state is not None and state.is_completed()


def test_under_verified_identity_an_answer_from_the_prefect_ui_is_refused(
    ui_server: str, chromium: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Prefect UI's form can only type a name: under `identity: verified` the same check every
    answer meets refuses it, audits why, and the run waits again for a proven approver."""
    from playwright.sync_api import sync_playwright

    from flows.invoice_extraction import invoice_extraction
    from tasks.invoice_extraction.params import InvoiceParams
    from tests.integration.conftest import wait_for_the_next_request
    from tests.support.policies import use_policy_variant

    use_policy_variant(
        tmp_path / "policies", monkeypatch, lambda policy: policy["approvals"].update(identity="verified")
    )
    run = FlowInThread(invoice_extraction, InvoiceParams(inbox=write_inbox(tmp_path / "inbox")))
    request = wait_for_request(run=run)
    wait_until_resumable(request)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium))
        try:
            page, dialog = _resume_dialog(browser, ui_server, request.flow_run_id)
            _text_input(dialog, "Approver").fill(APPROVER)
            dialog.get_by_role("button", name="Submit").click()
            again = wait_for_the_next_request(request)
        finally:
            browser.close()
    (refused,) = _events("approval_refused")
    assert refused.actor == APPROVER and "requires a verified approver" in " ".join(refused.data["problems"])
    assert not _events("approved") and again.proposals == request.proposals, "the run waits again, nothing decided"

    from opsgate.governance import identity
    from opsgate.governance.answers import answer_for
    from opsgate.orchestration.resume import submit

    identity.add_user(APPROVER, "correct horse battery", by="test")
    proven = answer_for(again, APPROVER, authenticated_by=identity.verify_password(APPROVER, "correct horse battery"))
    assert submit(again, proven) == "resumed"
    assert run.finish(timeout=120).counts == {"executed": 3}, "a proven approver's answer decides"
