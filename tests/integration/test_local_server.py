"""The local Prefect server opsgate starts once when PREFECT_API_URL is unset, and stops again."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner

from opsgate.cli.app import app
from opsgate.orchestration.server import local_server_status, prefect_api
from opsgate.settings import get_settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_start_reuse_and_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSGATE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OPSGATE_PREFECT_PORT", str(_free_port()))
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    with temporary_settings(restore_defaults={PREFECT_API_URL}):  # as if no server were configured
        _lifecycle(runner)


def _lifecycle(runner: CliRunner) -> None:
    pid, ended = None, False
    try:
        started = runner.invoke(app, ["server", "start"])
        assert started.exit_code == 0, started.output
        api_url, healthy, pid = local_server_status()
        assert healthy and pid is not None
        assert httpx.get(f"{api_url}/health", timeout=5).status_code == 200
        ui_settings = httpx.get(f"{api_url.removesuffix('/api')}/ui-settings", timeout=5).json()
        assert ui_settings["api_url"] == api_url, "the UI must call the API on this port, not the default one"

        with prefect_api() as used:  # a second opsgate process would reuse it, not start another
            assert used == api_url
        assert local_server_status()[2] == pid
    finally:
        stopped = runner.invoke(app, ["server", "stop"])
        if pid is not None:
            ended = _ended(pid)
        get_settings.cache_clear()
    assert stopped.exit_code == 0 and f"stopped the local server (pid {pid})" in stopped.stdout, stopped.output
    assert ended, f"the server's processes (group {pid}) still run 30 s after the stop"
    assert local_server_status() == (api_url, False, None), "nothing answers on the port and no pid is kept"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{api_url}/health", timeout=5)


def _ended(pid: int, timeout: float = 30) -> bool:
    """Whether every process of the server's group has ended within ``timeout``. The leader is a
    child of this process (the CLI ran here): it is collected as it ends, or it would linger as a
    zombie and still count as running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)  # leave nothing behind for the rest of the session
    return False
