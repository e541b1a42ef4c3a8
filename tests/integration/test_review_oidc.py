"""Signing in to the review screen through a real OpenID Connect provider: the review app served by
uvicorn, the provider in a process of its own, and every step of the sign-in an HTTP request made
as a browser makes it (redirect to the provider, its sign-in form, the redirect back)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest

from opsgate.errors import ConfigurationError
from opsgate.governance import requests
from opsgate.orchestration import resume
from opsgate.store.tables import ApprovalRow
from tests.support.batches import open_request, proposed_batch, write_inbox
from tests.support.oidc_provider import Provider, oidc_provider
from tests.support.policies import use_policy_variant
from tests.support.review_server import review_server
from tests.unit.platform.conftest import StoreProbe

CLIENT_ID = "opsgate-review"


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with oidc_provider() as started:
        started.add_user("u-ann", {"preferred_username": "ann", "groups": ["finance-ap", "staff"]})
        started.add_user("u-nameless", {"email": "nameless@example.org"})
        yield started


def _env(issuer: str) -> dict[str, str]:
    return {"OPSGATE_OIDC_ISSUER": issuer, "OPSGATE_OIDC_CLIENT_ID": CLIENT_ID, "OPSGATE_OIDC_CLIENT_SECRET": "s3cret"}


@pytest.fixture
def app_url(opsgate_env: str, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The review app with sign-in through the provider. Its requests belong to no real flow run:
    an answer is recorded and the run, not there to be woken, would find it itself."""

    def not_paused(request: requests.PendingRequest, timeout: float = 60) -> None:
        raise ConfigurationError("no run waits")

    monkeypatch.setattr(resume, "wait_until_resumable", not_paused)
    with review_server(monkeypatch, _env(provider.issuer)) as base_url:
        yield base_url


@pytest.fixture
def pending(opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> requests.PendingRequest:
    """Invoices waiting at the gate, under a policy whose `finance` group has no members, only the
    identity provider's group `finance-ap`."""

    def add_finance(policy: dict[str, Any]) -> None:
        policy["approvals"]["groups"]["finance"] = {
            "directory_groups": ["finance-ap"],
            "case_types": ["invoice", "credit_note", "receipt"],
        }

    use_policy_variant(tmp_path / "policies", monkeypatch, add_finance)
    return open_request(proposed_batch(write_inbox(tmp_path / "inbox")))


def _to_the_providers_form(client: httpx.Client, app_url: str, next: str = "/") -> httpx.Response:
    """Start signing in on the review screen and follow it to the provider's sign-in form."""
    form = client.get(f"{app_url}/login/oidc", params={"next": next}, follow_redirects=True)
    assert form.status_code == 200 and re.search(r'<input[^>]+name="sub"', form.text), form.text
    return form


def _choose(client: httpx.Client, form: httpx.Response, subject: str) -> str:
    """Sign in at the provider as ``subject``; returns where it sends the browser back to."""
    chosen = client.post(form.url, data={"sub": subject})
    assert chosen.status_code == 302, chosen.text
    return chosen.headers["location"]


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_signing_in_through_the_provider_lets_its_group_decide(
    app_url: str, provider: Provider, pending: requests.PendingRequest
) -> None:
    store = StoreProbe()
    with httpx.Client(timeout=30) as client:
        form = _to_the_providers_form(client, app_url, next="/api/queue")
        (to_provider,) = form.history
        asked = parse_qs(urlsplit(to_provider.headers["location"]).query)
        assert asked["client_id"] == [CLIENT_ID] and asked["redirect_uri"] == [f"{app_url}/login/oidc/callback"]
        assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) >= 43
        assert asked["state"][0] and asked["nonce"][0] and "openid" in asked["scope"][0].split()

        landed = client.get(_choose(client, form, "u-ann"), follow_redirects=True)
        assert landed.url == f"{app_url}/api/queue", "back where the sign-in started"
        assert [(q["request"], q["proposals"]) for q in landed.json()] == [(pending.id, len(pending.proposals))]

        queue = client.get(f"{app_url}/")
        assert "signed in as <strong>ann</strong>" in queue.text and "(oidc: finance-ap, staff)" in queue.text
        (event,) = store.events("signed_in")
        assert event.actor == "ann"
        assert event.data["authenticated_by"] == "oidc" and event.data["groups"] == ["finance-ap", "staff"]

        page = client.get(f"{app_url}/requests/{pending.id}")
        assert page.status_code == 200
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        decisions = {f"d.{p.id}": "approve" for p in pending.proposals}
        answer = {"csrf": token.group(1), "batch_digest": pending.digest, **decisions}
        done = client.post(f"{app_url}/requests/{pending.id}", data=answer)
        assert done.status_code == 303, done.text
    assert {a.approver for a in store.rows(ApprovalRow)} == {"ann"}
    approved = store.events("approved")
    assert approved and {e.data["authenticated_by"] for e in approved} == {"oidc"}
    assert all(e.data["approver_groups"] == ["finance-ap", "staff"] for e in approved)


def test_a_callback_with_another_state_is_refused_and_audited(app_url: str, provider: Provider) -> None:
    store = StoreProbe()
    with httpx.Client(timeout=30) as client:
        back = _choose(client, _to_the_providers_form(client, app_url), "u-ann")
        refused = client.get(_with_query(back, state="forged-state"))
        assert refused.status_code == 401
        assert "its state does not match" in refused.text and 'action="/login"' in refused.text
        assert client.get(f"{app_url}/api/queue").status_code == 401, "nobody signed in"
    (failed,) = store.events("sign_in_failed")
    assert "state does not match" in failed.data["why"] and failed.data["client"] == "127.0.0.1"
    assert not store.events("signed_in")


def test_the_provider_refusing_is_shown_and_audited(app_url: str, provider: Provider) -> None:
    store = StoreProbe()
    with httpx.Client(timeout=30) as client:
        form = _to_the_providers_form(client, app_url)
        denied = client.post(form.url, data={"action": "deny"}, follow_redirects=True)
        assert denied.status_code == 401 and "access_denied" in denied.text
    (failed,) = store.events("sign_in_failed")
    assert "access_denied" in failed.data["why"]


def test_a_token_without_the_name_claim_is_refused(app_url: str, provider: Provider) -> None:
    store = StoreProbe()
    with httpx.Client(timeout=30) as client:
        refused = client.get(_choose(client, _to_the_providers_form(client, app_url), "u-nameless"))
        assert refused.status_code == 401 and "has no preferred_username claim" in refused.text
    assert [e.data["why"] for e in store.events("sign_in_failed")] == [
        "oidc: the ID token has no preferred_username claim"
    ]
    assert not store.events("signed_in")


def test_an_expired_id_token_is_refused(opsgate_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The provider issues ID tokens that expired ten minutes ago (past Authlib's two minutes of
    leeway): that it is refused shows the token is checked, not only decoded."""
    store = StoreProbe()
    with oidc_provider(token_seconds=-600) as stale, review_server(monkeypatch, _env(stale.issuer)) as app_url:
        stale.add_user("u-ann", {"preferred_username": "ann"})
        with httpx.Client(timeout=30) as client:
            refused = client.get(_choose(client, _to_the_providers_form(client, app_url), "u-ann"))
            assert refused.status_code == 401 and "ID token is not valid" in refused.text
    (failed,) = store.events("sign_in_failed")
    assert "expired" in failed.data["why"]


def test_a_provider_that_does_not_answer_is_a_refusal_not_an_error(
    opsgate_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with oidc_provider() as gone:
        issuer = gone.issuer  # its port, free again once it has stopped
    store = StoreProbe()
    with review_server(monkeypatch, _env(issuer)) as app_url:
        refused = httpx.get(f"{app_url}/login/oidc", timeout=30)
        assert refused.status_code == 401 and "could not be reached" in refused.text
    (failed,) = store.events("sign_in_failed")
    assert failed.data["why"].startswith("oidc: the provider could not be reached")
