"""The review screen without a browser: who may sign in and how, what waits on whom, and that an
answer made on the page goes through the one check every answer goes through."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from opsgate.governance import requests, signins
from opsgate.store.tables import ApprovalRow, ReviewSessionRow
from opsgate.web.rendering import safe_next
from tests.support.batches import proposed_batch, write_inbox
from tests.unit.platform.conftest import StoreProbe
from tests.unit.web.conftest import PASSWORD, csrf_of, sign_in


def _decisions(request: requests.PendingRequest, decision: str = "approve") -> dict[str, str]:
    return {f"d.{p.id}": decision for p in request.proposals}


def _answer(client: TestClient, request: requests.PendingRequest, form: dict[str, str]):  # noqa: ANN202
    page = client.get(f"/requests/{request.id}")
    assert page.status_code == 200, page.text
    return client.post(
        f"/requests/{request.id}", data={"csrf": csrf_of(page.text), "batch_digest": request.digest, **form}
    )


def test_nothing_is_shown_to_someone_not_signed_in(client: TestClient, pending: requests.PendingRequest) -> None:
    assert client.get("/").headers["location"] == "/login?next=/"
    assert client.get(f"/requests/{pending.id}").headers["location"] == f"/login?next=/requests/{pending.id}"
    assert client.get("/api/queue").status_code == 401
    refused = client.post(f"/requests/{pending.id}", data=_decisions(pending))
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")


def test_a_wrong_password_is_refused_and_audited(client: TestClient, store: StoreProbe) -> None:
    sign_in(client, "alice")
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    refused = client.post("/login", data={"username": "alice", "password": "not the password", "csrf": token})
    assert refused.status_code == 401 and "do not match" in refused.text
    assert client.get("/").status_code == 303, "still signed out"
    (failed,) = store.events("sign_in_failed")
    assert failed.data["name"] == "alice" and failed.data["client"]
    assert [e.data["authenticated_by"] for e in store.events("signed_in")] == ["password"]


def test_sign_in_without_the_forms_token_is_refused(client: TestClient) -> None:
    from opsgate.governance import identity

    identity.add_user("alice", PASSWORD, by="test")
    client.get("/login")
    refused = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": "forged"})
    assert refused.status_code == 403
    assert client.get("/").status_code == 303


def test_repeated_failures_lock_the_name_out_even_for_the_right_password(client: TestClient, store: StoreProbe) -> None:
    from opsgate.governance import identity

    identity.add_user("alice", PASSWORD, by="test")
    token = csrf_of(client.get("/login").text)
    for _ in range(5):
        assert client.post("/login", data={"username": "alice", "password": "guess", "csrf": token}).status_code == 401
    locked = client.post("/login", data={"username": "alice", "password": PASSWORD, "csrf": token})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert len(store.events("sign_in_failed")) == 6 and not store.events("signed_in")


def test_the_queue_lists_what_waits_on_the_signed_in_approver(
    client: TestClient, pending: requests.PendingRequest
) -> None:
    sign_in(client, "carol")
    queue = client.get("/api/queue").json()
    assert [(q["request"], q["proposals"], q["second_approval"]) for q in queue] == [(pending.id, 3, False)]
    assert f'href="/requests/{pending.id}"' in client.get("/").text


def test_an_answer_on_the_page_is_recorded_in_the_signed_in_name(
    client: TestClient, store: StoreProbe, pending: requests.PendingRequest
) -> None:
    sign_in(client, "carol")
    first, second, third = pending.proposals
    form = {
        **_decisions(pending),
        f"d.{third.id}": "reject",
        f"r.{third.id}": "paid by card already",
        f"f.{second.id}.po_number": "PO-77120",
        "approver": "olga",  # a form cannot say who answers
    }
    done = _answer(client, pending, form)
    assert done.status_code == 303, done.text
    approvals = {a.proposal_id: a for a in store.rows(ApprovalRow)}
    assert {a.approver for a in approvals.values()} == {"carol"}
    assert approvals[third.id].decision == "rejected" and approvals[third.id].reason == "paid by card already"
    assert approvals[second.id].action_payload["po_number"] == "PO-77120"
    assert {e.data["authenticated_by"] for e in store.events("approved")} == {"password"}
    assert "approved 2, rejected 1" in client.get("/").text


def test_an_outsider_sees_nothing_and_their_answer_is_refused_by_the_check(
    client: TestClient, store: StoreProbe, pending: requests.PendingRequest
) -> None:
    sign_in(client, "mallory")  # an account, but in no approver group
    assert client.get("/api/queue").json() == []
    assert client.get(f"/requests/{pending.id}").status_code == 403
    token = csrf_of(client.get("/").text)
    refused = client.post(
        f"/requests/{pending.id}", data={"csrf": token, "batch_digest": pending.digest, **_decisions(pending)}
    )
    assert refused.status_code == 409 and "mallory may not decide on invoice cases" in refused.text
    assert not store.rows(ApprovalRow)
    (event,) = store.events("approval_refused")
    assert event.actor == "mallory"


def test_an_answer_without_the_forms_token_is_refused(
    client: TestClient, store: StoreProbe, pending: requests.PendingRequest
) -> None:
    sign_in(client, "carol")
    refused = client.post(f"/requests/{pending.id}", data={"batch_digest": pending.digest, **_decisions(pending)})
    assert refused.status_code == 403 and not store.rows(ApprovalRow)


def test_an_undecided_proposal_is_named_and_nothing_is_recorded(
    client: TestClient, store: StoreProbe, pending: requests.PendingRequest
) -> None:
    sign_in(client, "carol")
    form = _decisions(pending)
    del form[f"d.{pending.proposals[0].id}"]
    refused = _answer(client, pending, form)
    assert refused.status_code == 409 and "not decided" in refused.text and pending.proposals[0].id in refused.text
    assert not store.rows(ApprovalRow)
    assert re.search(rf'name="d.{pending.proposals[1].id}" value="approve"\s+checked', refused.text), "entries kept"


def test_a_session_ends_when_idle_and_after_its_lifetime(
    client: TestClient, pending: requests.PendingRequest, monkeypatch: pytest.MonkeyPatch, store: StoreProbe
) -> None:
    start = datetime.now(timezone.utc)
    sign_in(client, "carol")
    for minutes in (10, 35, 60, 85, 110):  # used every 25 minutes: never idle for 30
        monkeypatch.setattr(signins, "_now", lambda m=minutes: start + timedelta(minutes=m))
        assert client.get("/").status_code == 200
    monkeypatch.setattr(signins, "_now", lambda: start + timedelta(minutes=150))
    assert client.get("/").headers["location"] == "/login?next=/", "idle for 40 minutes"
    sign_in(client, "carol", add=False)
    for step in range(1, 20):  # used every 25 minutes for 7 h 55 min
        monkeypatch.setattr(signins, "_now", lambda s=step: start + timedelta(minutes=150 + 25 * s))
        assert client.get("/").status_code == 200
    monkeypatch.setattr(signins, "_now", lambda: start + timedelta(minutes=151, hours=8))
    assert client.get("/").status_code == 303, "open for over 8 hours"
    assert [r.ended_why for r in store.rows(ReviewSessionRow)] == [
        "idle longer than review_idle_seconds",
        "open longer than review_session_seconds",
    ]


def test_a_session_signed_out_is_over_even_for_a_copy_of_its_cookie(
    client: TestClient, pending: requests.PendingRequest, store: StoreProbe
) -> None:
    sign_in(client, "carol")
    copied = dict(client.cookies)
    token = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf": token}).status_code == 303
    client.cookies.clear()
    client.cookies.update(copied)
    assert client.get("/").status_code == 303, "the cookie from before the sign-out opens nothing"
    (row,) = store.rows(ReviewSessionRow)
    assert row.ended_why == "signed out" and len(row.digest) == 64
    assert copied["opsgate_review"] and row.digest not in copied["opsgate_review"], "the store keeps a digest only"


def test_an_operator_signs_a_person_out_everywhere(
    client: TestClient, pending: requests.PendingRequest, store: StoreProbe
) -> None:
    from opsgate.governance import signins as kept

    sign_in(client, "carol")
    assert kept.end_sessions("Carol", "laptop lost", by="cli:ops") == 1
    assert client.get("/").status_code == 303
    (event,) = store.events("sessions_ended")
    assert (event.actor, event.data) == ("cli:ops", {"name": "carol", "sessions": 1, "why": "laptop lost"})


def test_a_disabled_account_or_a_new_password_signs_out_at_once(
    client: TestClient, pending: requests.PendingRequest, store: StoreProbe
) -> None:
    from opsgate.governance import identity

    sign_in(client, "carol")
    identity.disable_user("carol", by="test")
    assert client.get("/").status_code == 303
    identity.enable_user("carol", by="test")
    sign_in(client, "carol", add=False)
    assert client.get("/").status_code == 200
    identity.set_password("carol", "a brand new passphrase", by="test")
    assert client.get("/").status_code == 303, "a session signed in with the old password ends"
    sign_in(client, "carol", "a brand new passphrase", add=False)
    assert client.get("/").status_code == 200
    assert [e.event for e in store.events() if e.event.startswith(("account", "password"))] == [
        "account_added",
        "account_disabled",
        "account_enabled",
        "password_set",
    ]


def test_every_page_carries_the_security_headers(client: TestClient) -> None:
    headers = client.get("/login").headers
    assert (
        "default-src 'none'" in headers["content-security-policy"]
        and "frame-ancestors 'none'" in headers["content-security-policy"]
    )
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    cookie = client.cookies.jar
    assert all(c.has_nonstandard_attr("HttpOnly") or c.has_nonstandard_attr("httponly") for c in cookie)


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_after_sign_in_only_a_path_of_this_site_is_followed(target: str) -> None:
    assert safe_next(target) == "/"
    assert safe_next("/requests/3") == "/requests/3"


REQUIRED = ("invoice_number", "invoice_date", "currency", "total")  # the shipped policy's missing_data fields


@pytest.fixture
def pages(store: StoreProbe, tmp_path: Path) -> list[requests.PendingRequest]:
    """The three invoices of one run waiting at the gate on three pages, one each."""
    from opsgate.models import Route

    batch = proposed_batch(write_inbox(tmp_path / "inbox"))
    to_review = batch.routed(Route.APPROVE)
    return requests.open_pages(
        batch.run.workflow, batch.run.id, "no-flow-run", [[p] for p in to_review], requests.deadline_in(3600)
    )


def _approve_sure(client: TestClient, at_least: str, flow_run_id: str = "no-flow-run") -> str:
    """Press "approve the sure pages" for the run on the queue; the queue's message afterwards."""
    token = csrf_of(client.get("/").text)
    done = client.post(f"/runs/{flow_run_id}/approve-sure", data={"csrf": token, "at_least": at_least})
    assert done.status_code == 303 and done.headers["location"] == "/", done.text
    return client.get("/").text


def test_the_sure_pages_of_a_run_are_approved_at_once_and_the_rest_wait(
    client: TestClient, store: StoreProbe, pages: list[requests.PendingRequest]
) -> None:
    surest = {page.id: min(page.proposals[0].confidence[f] for f in REQUIRED) for page in pages}
    line = max(surest.values())
    sure = {i for i, c in surest.items() if c >= line}
    assert sure and len(sure) < len(pages), f"the sample invoices are read with different confidence: {surest}"
    sign_in(client, "carol")
    assert 'action="/runs/no-flow-run/approve-sure"' in client.get("/").text

    queue = _approve_sure(client, str(line))
    assert {p.id for p in requests.pending_requests()} == {p.id for p in pages} - sure, "the others still wait"
    approved = store.events("approved")
    assert {e.proposal_id for e in approved} == {p.proposals[0].id for p in pages if p.id in sure}
    assert {(e.actor, e.data["authenticated_by"]) for e in approved} == {("carol", "password")}
    assert f"approved {len(sure)} proposals on {len(sure)} of 3 pages" in queue
    assert f"{3 - len(sure)} page" in queue and "for a closer look" in queue


def test_approving_the_sure_pages_decides_nothing_for_an_outsider_a_bad_number_or_a_forged_form(
    client: TestClient, store: StoreProbe, pages: list[requests.PendingRequest]
) -> None:
    sign_in(client, "mallory")  # an account, but in no approver group: nothing of the run waits on her
    assert "approve-sure" not in client.get("/").text
    assert "nothing approved" in _approve_sure(client, "0")
    client.cookies.clear()
    sign_in(client, "carol")
    for bad in ("1.5", "-0.1", "most", "nan"):
        assert "a number from 0 to 1" in _approve_sure(client, bad), bad
    forged = client.post("/runs/no-flow-run/approve-sure", data={"csrf": "forged", "at_least": "0"})
    assert forged.status_code == 403
    assert (
        len(requests.pending_requests()) == 3 and not store.rows(ApprovalRow) and not store.events("approval_refused")
    )
