"""The review screen as approvers meet it: Debian's Chromium (headless, driven by Playwright)
signed in with local accounts, deciding a real paused invoice run of 25 proposals from the
keyboard, four eyes across two people, an outsider refused, and a form from another site refused.

Key presses are counted on the request page: each key is one, and filling a value (a corrected
total, a reason) counts as one entry. Screenshots go to ``test-artifacts/``; how long the page
took to show with its first preview is written beside them (speed is the benchmark's business,
not an assertion here)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import select

from opsgate.governance import identity, requests
from opsgate.store.db import transaction
from opsgate.store.tables import AuditRow, PayableRow
from tests.integration.conftest import FlowInThread, wait_for_request, wait_for_the_next_request
from tests.support.batches import write_inbox
from tests.support.browser import chromium, sign_in
from tests.support.einvoices import cii_invoice
from tests.support.pdf_builder import pdf_with_attachment
from tests.support.policies import use_policy_variant
from tests.support.review_server import review_server
from tests.support.samples import DE_INVOICE, UK_INVOICE, US_INVOICE

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PASSWORD = "correct horse battery"
E_INVOICES = 22
MAX_KEYS = 30


def _e_invoice(number: int) -> bytes:
    """A Factur-X invoice (its values certain, read from the XML) whose page prints them too."""
    net = Decimal(100 + 7 * number).quantize(Decimal("0.01"))
    tax = (net * Decimal("0.19")).quantize(Decimal("0.01"))
    total = net + tax
    invoice = f"WB-2024-{number:04d}"
    lines = [
        "Werkbank Holzbau GmbH",
        "Hobelweg 7, 28195 Bremen",
        "",
        f"Rechnung {invoice}",
        "Datum 05.03.2024",
        "",
        f"Zwischensumme {net} EUR",
        f"USt 19% {tax} EUR",
        f"Gesamtbetrag {total} EUR",
    ]
    xml = cii_invoice(
        number=invoice,
        subtotal=str(net),
        tax=str(tax),
        total=str(total),
        lines=[("Workshop time", "1", str(net), str(net))],
    )
    return pdf_with_attachment(lines, "factur-x.xml", xml)


def _inbox(tmp_path: Path) -> Path:
    documents: dict[str, list[str] | bytes] = {f"e{n:02d}.pdf": _e_invoice(n) for n in range(1, E_INVOICES + 1)}
    documents |= {"de.pdf": DE_INVOICE, "uk.pdf": UK_INVOICE, "us.pdf": US_INVOICE}
    return write_inbox(tmp_path / "inbox", documents)


@pytest.fixture
def browser(flow_env: str) -> Iterator[Browser]:
    with chromium() as started:
        yield started


@pytest.fixture
def accounts(flow_env: str) -> None:
    for name in ("carol", "dana", "mallory"):  # two ap-clerks, and an account in no approver group
        identity.add_user(name, PASSWORD, by="test")


class Keys:
    """The page's keyboard, counting what the approver presses."""

    def __init__(self, page: Page) -> None:
        self.page, self.count = page, 0

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)
        self.count += 1

    def type(self, text: str) -> None:
        self.page.keyboard.insert_text(text)
        self.count += 1


def _sign_in(browser: Browser, base: str, name: str) -> Page:
    return sign_in(browser, base, name, PASSWORD)


def _events(event: str) -> list[AuditRow]:
    with transaction() as session:
        return list(session.execute(select(AuditRow).where(AuditRow.event == event).order_by(AuditRow.seq)).scalars())


def _review_link(flow_run_id: str) -> str:
    """The link artifact the paused run published (retried: it is published as the run pauses)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["invoice-extraction-review"]))
            )
            ours = [a for a in found if str(a.flow_run_id) == flow_run_id]
            if ours or time.monotonic() > deadline:
                assert ours, "no review link on the run"
                return str(ours[0].data)
            time.sleep(0.5)


def _card(page: Page, name: str) -> Any:
    return page.locator("article.card", has=page.locator(".doc-name", has_text=name))


def test_a_page_of_25_invoices_is_decided_from_the_keyboard(
    start_flow: Any, browser: Browser, accounts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with review_server(monkeypatch) as base:
        run: FlowInThread = start_flow(_inbox(tmp_path))
        request = wait_for_request(run=run)
        assert request is not None and len(request.proposals) == 25
        assert f"]({base}/runs/{request.flow_run_id})" in _review_link(request.flow_run_id), "the run links here"
        page = _sign_in(browser, base, "carol")
        row = page.get_by_role("row", name="invoice_extraction")
        assert "25" in row.inner_text()
        started = time.perf_counter()
        row.get_by_role("link").click()
        page.locator("#source .page img").first.wait_for()
        page.wait_for_function("() => document.querySelector('#source .page img').complete")
        shown_in = time.perf_counter() - started
        (ARTIFACTS / "review-page-timing.json").write_text(json.dumps({"proposals": 25, "seconds": round(shown_in, 3)}))

        keys = Keys(page)
        keys.press("Shift+A")  # every e-invoice is certain: approved at once
        assert page.locator("article.card.approved").count() == E_INVOICES
        assert page.locator("article.card.current .doc-name").inner_text() == "de.pdf", "the first undecided one"
        keys.press("a")  # de.pdf as proposed
        assert page.locator("article.card.current .doc-name").inner_text() == "uk.pdf"

        keys.press("e")  # the least sure value of uk.pdf takes the cursor; Tab on to the total
        for _ in range(15):
            if page.evaluate("document.activeElement.dataset.field") == "total":
                break
            keys.press("Tab")
        assert page.evaluate("document.activeElement.dataset.field") == "total"
        uk = page.locator("article.card.current").get_attribute("data-id")
        lit = page.locator(f'#source .source-of[data-id="{uk}"] .box.active[data-field=total]').first
        lit.wait_for()
        assert lit.is_visible(), "the total's place on the page is lit while it is corrected"
        page.screenshot(path=str(ARTIFACTS / "review-correcting-total.png"))
        keys.press("Control+a")
        keys.type("1234.56")
        keys.press("Enter")  # approve with the correction, on to us.pdf

        assert page.locator("article.card.current .doc-name").inner_text() == "us.pdf"
        keys.press("r")
        keys.type("already paid by card")
        keys.press("Enter")
        assert (
            page.locator("article.card.approved").count() == 24 and page.locator("article.card.rejected").count() == 1
        )
        page.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=False)
        keys.press("Control+Enter")
        page.wait_for_url(f"{base}/")
        assert "approved 24, rejected 1" in page.locator(".flash").inner_text()
        summary = run.finish(timeout=120)

    assert keys.count <= MAX_KEYS, f"{keys.count} key presses for 25 proposals"
    (ARTIFACTS / "review-page-keys.json").write_text(json.dumps({"proposals": 25, "keys": keys.count}))
    assert summary.counts == {"executed": 24, "rejected": 1}
    with transaction() as session:
        written = {Path(r.source).name: r for r in session.execute(select(PayableRow)).scalars()}
    assert "us.pdf" not in written and len(written) == 24
    assert written["uk.pdf"].total == Decimal("1234.56")
    (corrected,) = _events("corrected")
    assert (corrected.data["field"], corrected.data["approved"], corrected.actor) == ("total", "1234.56", "carol")
    assert {e.data["authenticated_by"] for e in _events("approved")} == {"password"}


def test_four_eyes_takes_two_signed_in_people_and_an_outsider_is_refused(
    start_flow: Any, browser: Browser, accounts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def four_eyes_and_verified(policy: dict[str, Any]) -> None:
        policy["approvals"]["four_eyes"] = [{"case_type": "invoice", "field": "total", "above": "1.00"}]
        policy["approvals"]["identity"] = "verified"

    use_policy_variant(tmp_path / "policies", monkeypatch, four_eyes_and_verified)
    run: FlowInThread = start_flow(write_inbox(tmp_path / "inbox", {"de.pdf": DE_INVOICE, "us.pdf": US_INVOICE}))
    first = wait_for_request(run=run)
    with review_server(monkeypatch) as base:
        outsider = _sign_in(browser, base, "mallory")
        assert "Nothing waits on you" in outsider.content()
        outsider.goto(f"{base}/requests/{first.id}")
        assert "does not wait on you" in outsider.locator(".problem").inner_text()

        carol = _sign_in(browser, base, "carol")
        carol.goto(f"{base}/runs/{first.flow_run_id}")  # the address notifications link to
        carol.locator("#source .source-of").wait_for()
        for _ in range(2):
            carol.keyboard.press("a")
        carol.keyboard.press("Control+Enter")
        carol.wait_for_url(f"{base}/")
        second = wait_for_the_next_request(first)
        assert second.round == 2
        carol.reload()
        assert "Nothing waits on you" in carol.content(), "the first approver is not who the second approval waits on"

        dana = _sign_in(browser, base, "dana")
        assert dana.locator("tr.second .four-eyes").count() == 1, "the queue marks a second approval"
        dana.screenshot(path=str(ARTIFACTS / "review-queue-four-eyes.png"))
        dana.goto(f"{base}/requests/{second.id}")
        dana.locator("#source .source-of").wait_for()
        for _ in range(2):
            dana.keyboard.press("a")
        dana.keyboard.press("Control+Enter")
        dana.wait_for_url(f"{base}/")
        summary = run.finish(timeout=120)

    assert summary.counts == {"executed": 2}
    approvers = [(e.data["approver"], e.data["authenticated_by"]) for e in _events("approved")]
    assert sorted(approvers) == [("carol", "password")] * 2 + [("dana", "password")] * 2


def test_a_form_posted_from_another_site_and_an_expired_session_are_refused(
    start_flow: Any, browser: Browser, accounts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run: FlowInThread = start_flow(write_inbox(tmp_path / "inbox", {"de.pdf": DE_INVOICE}))
    request = wait_for_request(run=run)
    with review_server(monkeypatch, {"OPSGATE_REVIEW_IDLE_SECONDS": "3"}) as base:
        page = _sign_in(browser, base, "carol")
        (proposal,) = request.proposals
        # a page of another origin that posts an approval into the signed-in browser (no CSRF token)
        attack = tmp_path / "attack.html"
        attack.write_text(
            f'<form id="f" method="post" action="{base}/requests/{request.id}">'
            f'<input name="batch_digest" value="{request.digest}"><input name="d.{proposal.id}" value="approve"></form>'
            '<script>document.getElementById("f").submit()</script>'
        )
        page.goto(attack.as_uri())
        page.wait_for_load_state()
        assert [r.id for r in requests.pending_requests()] == [request.id]
        assert not _events("approved"), "a form from another site decides nothing"

        page.goto(f"{base}/requests/{request.id}")
        time.sleep(4)  # longer than the idle limit
        page.keyboard.press("a")
        page.keyboard.press("Control+Enter")
        page.wait_for_url(f"{base}/login**")
        assert not _events("approved"), "an expired session decides nothing"
    assert [r.id for r in requests.pending_requests()] == [request.id] and run.thread.is_alive(), "still waiting"
    from opsgate.governance.answers import answer_for
    from opsgate.orchestration.resume import submit

    assert submit(request, answer_for(request, "carol")) == "resumed"  # the run ends here, not in a later test
    assert run.finish(timeout=120).counts == {"executed": 1}


REQUIRED = ("invoice_number", "invoice_date", "currency", "total")  # the shipped policy's missing_data fields


def test_a_run_of_five_pages_has_its_sure_pages_approved_in_one_press(
    start_flow: Any, browser: Browser, accounts: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """25 invoices on pages of five: one press on the queue approves every page whose required
    values were all read at 0.95 or more, each page carol's own decision; the others stay in the
    queue, are decided one by one, and the run writes all 25."""
    from opsgate.settings import get_settings

    monkeypatch.setenv("OPSGATE_APPROVAL_PAGE_SIZE", "5")
    get_settings.cache_clear()
    ARTIFACTS.mkdir(exist_ok=True)
    run: FlowInThread = start_flow(_inbox(tmp_path))
    first = wait_for_request(run=run)
    pages = [r for r in requests.pending_requests() if r.flow_run_id == first.flow_run_id]
    assert len(pages) == 5
    sure = {r.id for r in pages if all(p.confidence.get(f, 0) >= 0.95 for p in r.proposals for f in REQUIRED)}
    assert sure and len(sure) < 5, "the e-invoices are certain, the scanned samples are not"

    with review_server(monkeypatch) as base:
        page = _sign_in(browser, base, "carol")
        form = page.locator(f'form.approve-sure[data-run="{first.flow_run_id}"]')
        assert "5 pages, 25 proposals" in form.inner_text()
        assert form.locator("input[name=at_least]").input_value() == "0.95"
        page.screenshot(path=str(ARTIFACTS / "review-queue-sure-pages.png"), full_page=True)
        form.get_by_role("button", name="Approve the sure pages").click()
        page.wait_for_url(f"{base}/")
        flash = page.locator(".flash").inner_text()
        assert f"approved {5 * len(sure)} proposals on {len(sure)} of 5 pages" in flash, flash
        assert f"{5 - len(sure)} page" in flash and "closer look" in flash, flash
        left = {r.id for r in requests.pending_requests()}
        assert left == {r.id for r in pages} - sure, "only the sure pages were answered"
        assert page.locator("table.queue tbody tr").count() == 5 - len(sure)
        page.screenshot(path=str(ARTIFACTS / "review-queue-after-sure-pages.png"), full_page=True)

        from opsgate.governance.answers import answer_for
        from opsgate.orchestration.resume import submit

        while (waiting := requests.next_request(first.flow_run_id)) is not None:
            submit(waiting, answer_for(waiting, "dana"))
        summary = run.finish(timeout=180)

    assert summary.counts == {"executed": 25}
    approvers = {e.proposal_id: e.data["approver"] for e in _events("approved")}
    assert {approvers[p.id] for r in pages if r.id in sure for p in r.proposals} == {"carol"}
    assert {approvers[p.id] for r in pages if r.id not in sure for p in r.proposals} == {"dana"}
