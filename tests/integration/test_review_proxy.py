"""Signing in to the review screen through an authenticating reverse proxy: a real nginx with HTTP
basic authentication in front of the review app served by uvicorn. The app trusts nginx's address
(``127.0.0.2``) only; the test's own requests come from ``127.0.0.1``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.nginx import PROXY_ADDRESS, nginx_proxy, require_nginx
from tests.support.review_server import review_server
from tests.unit.platform.conftest import StoreProbe

USERS = {"ann": "ann's long password", "bob": "bob's long password"}


@pytest.fixture
def served(opsgate_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """(nginx's URL, the app's own URL), the app trusting nginx's address alone."""
    require_nginx()
    env = {"OPSGATE_REVIEW_TRUSTED_PROXIES": f"{PROXY_ADDRESS}/32"}
    with review_server(monkeypatch, env) as app_url:
        with nginx_proxy(tmp_path / "nginx", app_url, USERS, {"ann": "finance-ap, staff"}) as proxy_url:
            yield proxy_url, app_url


def _who(page: httpx.Response) -> str | None:
    """The header's "signed in as NAME (how: groups)", or None."""
    found = re.search(r"signed in as <strong>([^<]*)</strong>\s*<span class=\"how\">\(([^)]*)\)", page.text)
    return f"{found.group(1)} ({found.group(2)})" if found else None


def test_the_user_nginx_authenticated_is_signed_in_once(served: tuple[str, str]) -> None:
    proxy_url, _ = served
    store = StoreProbe()
    with httpx.Client(base_url=proxy_url, auth=("ann", USERS["ann"]), timeout=30) as client:
        assert _who(client.get("/")) == "ann (proxy: finance-ap, staff)"
        assert client.get("/api/queue").json() == []
        assert _who(client.get("/")) == "ann (proxy: finance-ap, staff)"
    (event,) = store.events("signed_in")
    assert event.data["authenticated_by"] == "proxy" and event.data["groups"] == ["finance-ap", "staff"]
    assert event.data["client"] == PROXY_ADDRESS


def test_wrong_credentials_stop_at_nginx(served: tuple[str, str]) -> None:
    proxy_url, _ = served
    store = StoreProbe()
    refused = httpx.get(f"{proxy_url}/api/queue", auth=("ann", "a guess"), timeout=30)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert "nginx" in refused.text, "nginx's own refusal: the app was never asked"
    assert httpx.get(f"{proxy_url}/api/queue", headers={"X-Forwarded-User": "olga"}, timeout=30).status_code == 401
    assert not store.events("signed_in") and not store.events("sign_in_failed")


def test_a_header_forged_to_nginx_is_overwritten(served: tuple[str, str]) -> None:
    proxy_url, _ = served
    forged = {"X-Forwarded-User": "olga", "X-Forwarded-Groups": "ap-leads"}
    with httpx.Client(base_url=proxy_url, timeout=30) as client:
        assert _who(client.get("/", auth=("ann", USERS["ann"]), headers=forged)) == "ann (proxy: finance-ap, staff)"
        client.cookies.clear()
        assert _who(client.get("/", auth=("bob", USERS["bob"]), headers=forged)) == "bob (proxy)", "groups cleared"


def test_a_header_sent_straight_to_the_app_signs_nobody_in(served: tuple[str, str]) -> None:
    _, app_url = served
    store = StoreProbe()
    forged = {"X-Forwarded-User": "olga", "X-Forwarded-Groups": "ap-leads"}
    with httpx.Client(base_url=app_url, headers=forged, timeout=30) as client:
        assert client.get("/api/queue").status_code == 401
        assert client.get("/").headers["location"] == "/login?next=/"
    assert not store.events("signed_in")


def test_the_session_follows_the_proxy(served: tuple[str, str]) -> None:
    proxy_url, app_url = served
    store = StoreProbe()
    with httpx.Client(base_url=proxy_url, timeout=30) as client:
        assert _who(client.get("/", auth=("ann", USERS["ann"]))) == "ann (proxy: finance-ap, staff)"
        assert _who(client.get("/", auth=("bob", USERS["bob"]))) == "bob (proxy)", "another user: another session"
        cookie = client.cookies.get("opsgate_review")
        assert cookie
        ended = client.get("/static/review.css")  # nginx passes no user here: the proxy's session ends
        assert ended.status_code == 200 and "opsgate_review=null" in ended.headers["set-cookie"]
    straight = httpx.get(f"{app_url}/api/queue", cookies={"opsgate_review": cookie}, timeout=30)
    assert straight.status_code == 401, "the proxy's session is worth nothing away from the proxy"
    assert [e.actor for e in store.events("signed_in")] == ["ann", "bob"]


def test_forms_still_need_the_sessions_token(served: tuple[str, str]) -> None:
    proxy_url, _ = served
    with httpx.Client(base_url=proxy_url, auth=("ann", USERS["ann"]), timeout=30) as client:
        page = client.get("/")
        assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token and client.post("/logout", data={"csrf": token.group(1)}).status_code == 303
