"""A per-workflow concurrency limit, as a team sets one (`concurrency_limit` on the deployment):
at most that many runs of the workflow at work at once, however many workers poll the pool. A run
waiting for people at the gate is suspended and gives its slot back, so a limit of one still lets
a second run read and propose while the first waits; once both are approved, they write one after
the other."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType

from tests.integration.conftest import payables_count
from tests.support.batches import generated_inbox, write_inbox
from tests.support.processes import cli
from tests.support.workers import deploy_invoices, process_worker, start_deployment, wait_for_state

pytestmark = pytest.mark.slow


def _history(flow_run_id: str) -> list[tuple[str, StateType, datetime]]:
    """The flow run's states in order: name, type, when it began."""
    with get_client(sync_client=True) as client:
        states = client.read_flow_run_states(UUID(flow_run_id))
    return sorted(((s.name or "", s.type, s.timestamp) for s in states), key=lambda state: state[2])


def _at_work(history: list[tuple[str, StateType, datetime]]) -> list[tuple[datetime, datetime]]:
    """When the run was Running: from each Running state to the state after it."""
    return [(began, history[i + 1][2]) for i, (_, kind, began) in enumerate(history[:-1]) if kind is StateType.RUNNING]


@pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_limit_of_one_run_at_work_holds_across_two_workers_and_a_waiting_run_gives_its_slot_back(
    flow_env: str, tmp_path: Path
) -> None:
    pool = f"opsgate-test-{uuid.uuid4().hex[:8]}"
    first = write_inbox(tmp_path / "first")
    second = tmp_path / "second"
    generated_inbox(second, 3)  # three other invoices: both runs' postings stand
    with (
        process_worker(flow_env, pool, tmp_path / "worker-1.log"),
        process_worker(flow_env, pool, tmp_path / "worker-2.log"),
    ):
        deployment = deploy_invoices(pool, f"invoices-{pool}", first, concurrency_limit=1)
        runs = [start_deployment(deployment), start_deployment(deployment, {"params": {"inbox": str(second)}})]
        for flow_run_id in runs:
            wait_for_state(flow_run_id, "Suspended")  # both wait for people at once: a waiting run holds no slot
        for flow_run_id in runs:
            approved = cli("approvals", "approve", flow_run_id, "--as", "alice")
            assert approved.returncode == 0, approved.stdout
        for flow_run_id in runs:
            wait_for_state(flow_run_id, "Completed")

    assert payables_count() == 6
    histories = [_history(flow_run_id) for flow_run_id in runs]
    names = [name for history in histories for name, _, _ in history]
    assert "AwaitingConcurrencySlot" in names, "one run waited for the other's slot"
    spans = sorted(span for history in histories for span in _at_work(history))
    assert len(spans) == 4, "each run worked twice: before its gate and after its approval"
    for (_, ended), (began, _) in zip(spans, spans[1:], strict=False):
        assert began >= ended, f"two runs at work at once: {spans}"
