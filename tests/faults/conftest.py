"""The fault matrix's fixtures: the integration tests' real Prefect server and store, and opsgate
run as real processes that can be killed (see tests/support/crashing.py)."""

from __future__ import annotations

from tests.integration.conftest import flow_env, start_dedupe, start_flow  # noqa: F401 - fixtures shared with the integration tests
