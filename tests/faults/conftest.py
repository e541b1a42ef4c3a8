"""The fault matrix runs the real invoice flow on the session's Prefect server, like the integration tests."""

from tests.integration.conftest import flow_env, start_flow  # noqa: F401  (fixtures shared with the integration tests)
