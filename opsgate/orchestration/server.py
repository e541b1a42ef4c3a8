"""Which Prefect server opsgate talks to, starting a local one when none is configured.

Every opsgate process must talk to the same server, or a run paused in one terminal cannot be
approved from another. So: the configured ``PREFECT_API_URL`` if there is one; otherwise one
local server on a fixed port, started once (detached, logging to the data directory) and reused
by every later process. Ephemeral per-process servers are never used.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prefect.settings import PREFECT_API_URL, temporary_settings

from opsgate.errors import ConfigurationError
from opsgate.settings import get_settings
from opsgate.store.db import transaction
from opsgate.store.tables import RunRow

logger = logging.getLogger(__name__)


def _healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def configured_api_url() -> str | None:
    return PREFECT_API_URL.value() or None


def local_api_url() -> str:
    return f"http://127.0.0.1:{get_settings().prefect_port}/api"


def _pid_file() -> Path:
    return get_settings().data_dir / "prefect-server.pid"


def local_server_status() -> tuple[str, bool, int | None]:
    """The local server's API URL, whether it answers, and its process id if opsgate started it."""
    pid_file = _pid_file()
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    if pid is not None:
        try:
            os.kill(pid, 0)
        except OSError:
            pid = None
    return local_api_url(), _healthy(local_api_url()), pid


def stop_local_server() -> int | None:
    """Stop the local server opsgate started (not one started by someone else); its pid or None."""
    _, _, pid = local_server_status()
    if pid is not None:
        os.killpg(pid, signal.SIGTERM)
    _pid_file().unlink(missing_ok=True)
    return pid


def ensure_local_server(startup_timeout: float = 90, database_url: str | None = None) -> str:
    """The API URL of the local server, starting it if nothing answers on the port: on its own
    SQLite file in the data directory, or on ``database_url`` (``postgresql+asyncpg://...``: the
    database a production server and several workers share)."""
    settings = get_settings()
    api_url = local_api_url()
    if _healthy(api_url):
        return api_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = settings.data_dir / "prefect-server.log"
    env = {
        **os.environ,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": "",
        "PREFECT_UI_API_URL": api_url,  # else the UI looks for the API on the default port
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(settings.prefect_port),
    }
    env.setdefault("PREFECT_HOME", str(settings.data_dir / "prefect"))
    if database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    command = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(settings.prefect_port),
    ]
    with open(log_path, "ab") as log:
        server = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True
        )
    _pid_file().write_text(str(server.pid))
    logger.info("starting a local Prefect server on port %s (log: %s)", settings.prefect_port, log_path)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if _healthy(api_url):
            return api_url
        time.sleep(0.5)
    raise ConfigurationError(f"the local Prefect server did not start within {startup_timeout:.0f}s; see {log_path}")


def reachable_api_url() -> str | None:
    """The server opsgate would use, if it answers now; never starts one."""
    api_url = configured_api_url() or local_api_url()
    return api_url if _healthy(api_url) else None


@contextmanager
def prefect_api() -> Iterator[str]:
    """Run the block against the configured server, or the local one opsgate keeps."""
    api_url = configured_api_url()
    if api_url:
        yield api_url
        return
    api_url = ensure_local_server()
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url  # for the subprocesses this process starts
    try:
        with temporary_settings(updates={PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


def ui_url(api_url: str, flow_run_id: str) -> str:
    """The flow run's page in the Prefect UI (the API URL without its /api suffix)."""
    return f"{api_url.removesuffix('/api')}/runs/flow-run/{flow_run_id}"


def run_link(run_id: str) -> str | None:
    """The Prefect UI page of the run's flow run, when a Prefect API is configured."""
    with transaction() as session:
        run = session.get(RunRow, run_id)
        flow_run_id = run.flow_run_id if run else None
    api = configured_api_url()
    return ui_url(api, flow_run_id) if api and flow_run_id else None
