"""What a test needs to look at the Prefect UI as an approver does: a Prefect server with its UI,
of its own, and Debian's Chromium driven by Playwright (never a browser Playwright downloads)."""

from __future__ import annotations

import importlib.util
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from prefect.events.worker import EventsWorker
from prefect.logging.handlers import APILogWorker
from prefect.settings import PREFECT_API_URL, temporary_settings

from opsgate.orchestration.server import ensure_local_server, local_server_status, stop_local_server
from opsgate.settings import get_settings
from tests.support.processes import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")


def require_browser() -> Path:
    """Debian's Chromium, once the Playwright package is importable too. Without them the test is
    skipped, except where ``OPSGATE_REQUIRE_BROWSER=1`` says it must run (CI): there it fails."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} is missing (Debian: apt-get install -y chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package is missing (it is in the dev dependency group)")
    if missing:
        reason = "; ".join(missing)
        if os.environ.get("OPSGATE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"OPSGATE_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    return CHROMIUM


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright; closed on the way out."""
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        started = playwright.chromium.launch(executable_path=str(executable))
        try:
            yield started
        finally:
            started.close()


def sign_in(browser: Browser, base: str, name: str, password: str) -> Page:
    """A new page of the review screen at ``base``, signed in as ``name`` with a local account."""
    page = browser.new_page(viewport={"width": 1500, "height": 950})
    page.goto(f"{base}/")
    assert page.url.startswith(f"{base}/login"), "a visitor who is not signed in is sent to sign in"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(f"{base}/")
    return page


def _reap(pid: int, timeout: float) -> None:
    """Wait for the server's whole process group to end, then kill what is left of it: a server
    left behind would hold its port and database for the rest of the session."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)  # the leader is this process's child: collect it
        except ChildProcessError:
            pass
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


@contextmanager
def prefect_server_with_ui(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Prefect server with its UI on a free port, started the way opsgate starts its local
    server (its home and log in opsgate's data directory, so under the test's own directory), and
    this thread's Prefect client pointed at it. Yields the API URL; stops the server afterwards.

    The session's test-harness server serves the API only, so it cannot show a paused run's page.
    """
    monkeypatch.setenv("OPSGATE_PREFECT_PORT", str(free_port()))
    monkeypatch.delenv("PREFECT_HOME", raising=False)  # the server's home goes to the data dir
    get_settings.cache_clear()
    try:
        api_url = ensure_local_server(startup_timeout=120)
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            try:
                yield api_url
            finally:  # as Prefect's test harness does: no log or event is left for a server that is gone
                APILogWorker.instance().drain()
                EventsWorker.drain_all()
    finally:
        pid = local_server_status()[2]
        stop_local_server()
        if pid is not None:
            _reap(pid, timeout=30)
