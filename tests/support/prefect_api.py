"""Answering a paused run straight through Prefect's REST API, as the UI or any API client does."""

from __future__ import annotations

import time
from typing import Any

import httpx

# Prefect's server answers 503 when its SQLite database is locked by its own background services
# (PrefectHQ/prefect#18934): "try again", which Prefect's client does on its own, up to 5 times.
ATTEMPTS = 5


def resume_over_api(api: str, flow_run_id: str, answer: dict[str, Any]) -> httpx.Response:
    """POST the answer to the run's resume endpoint, retrying a 503 the way Prefect's client would;
    any other response is returned as it came."""
    for attempt in range(1, ATTEMPTS + 1):
        response = httpx.post(f"{api}/flow_runs/{flow_run_id}/resume", json={"run_input": answer}, timeout=30)
        if response.status_code != 503 or attempt == ATTEMPTS:
            return response
        time.sleep(attempt)
    raise AssertionError("unreachable")
