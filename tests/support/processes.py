"""opsgate as separate processes on the test's store and Prefect server, as terminals and workers
would run it: a run to kill, a CLI to answer, recovery to finish."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client

from opsgate.governance import requests
from opsgate.governance.requests import PendingRequest


def environment(api_url: str, **extra: str) -> dict[str, str]:
    """This test's settings (store, data dir and audit key, poll interval) for a child process."""
    return {**os.environ, "PREFECT_API_URL": api_url, **extra}


def opsgate(
    api_url: str, *args: str, timeout: float = 180, crash_at: str | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    """`opsgate ARGS` in a process of its own, to its end; with ``crash_at``, killed at that point
    (tests/support/crashing.py)."""
    command = (
        [sys.executable, "-m", "tests.support.crashing", crash_at, "--", *args]
        if crash_at
        else [sys.executable, "-m", "opsgate", *args]
    )
    return subprocess.run(
        command,
        env=environment(api_url, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=Path(__file__).resolve().parents[2],
    )


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`opsgate ARGS` in this process (the CLI's own code, the test's store and Prefect server), for
    the commands whose process nobody kills: an approver's, an auditor's, recovery's. Saves starting
    an interpreter where the process boundary proves nothing."""
    from typer.testing import CliRunner

    from opsgate.cli.app import app

    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["opsgate", *args], result.exit_code, result.stdout, result.stderr)


def start(api_url: str, *args: str, crash_at: str | None = None, **extra: str) -> subprocess.Popen[str]:
    """`opsgate ARGS` in the background (a run waiting at its gate)."""
    command = (
        [sys.executable, "-m", "tests.support.crashing", crash_at, "--", *args]
        if crash_at
        else [sys.executable, "-m", "opsgate", *args]
    )
    return subprocess.Popen(
        command,
        env=environment(api_url, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )


def free_port() -> int:
    """A port of the loopback nobody listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stop(process: subprocess.Popen[Any], grace: float = 10) -> None:
    """End a server the test started: SIGTERM, then SIGKILL if it is still there after ``grace`` s."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def kill(process: subprocess.Popen[str]) -> str:
    """SIGKILL, as the OOM killer or a pulled plug: no cleanup of any kind. Returns its output."""
    process.send_signal(signal.SIGKILL)
    output, _ = process.communicate(timeout=30)
    return output


def paused_request(
    process: subprocess.Popen[str],
    workflow: str = "invoice_extraction",
    timeout: float = 120,
    besides: set[int] = frozenset(),
) -> PendingRequest:
    """The run's pending request (one not in ``besides``), once the run is Paused under its key
    with its form saved."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [r for r in requests.pending_requests(workflow) if r.id not in besides]
        if pending:
            request = pending[-1]
            from opsgate.orchestration.resume import wait_until_resumable

            wait_until_resumable(request, timeout=max(deadline - time.monotonic(), 1))
            return request
        if process.poll() is not None:
            raise AssertionError(
                f"the run ended before it asked for approval:\n{process.stdout.read() if process.stdout else ''}"
            )
        time.sleep(0.3)
    raise AssertionError("the run never asked for approval")


def flow_run_state(flow_run_id: str) -> tuple[str, str]:
    """The flow run's state type and name, as Prefect has it."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(UUID(flow_run_id)).state
    assert state is not None
    return state.type.value, state.name or ""


def lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]
