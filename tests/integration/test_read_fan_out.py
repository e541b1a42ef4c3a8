"""A large inbox read on a Dask cluster: a real scheduler and two workers, each a process of its
own started as a team starts them (`python -m distributed.cli.dask_worker ADDRESS`), with
`OPSGATE_READ_RUNNER=dask` pointing the run at them. The documents are read in chunks, one Prefect
task each, by the workers; the run proposes, gates and writes as if it had read them itself, and a
chunk whose task is lost fails its documents, not the batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect import flow, task
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId, TaskRunFilter, TaskRunFilterName

from opsgate import fan_out
from opsgate.models import Status
from opsgate.settings import get_settings
from tests.integration.conftest import FlowInThread, payables_count, wait_for_request
from tests.support.batches import write_inbox
from tests.support.dask_cluster import dask_cluster as started_cluster
from tests.support.processes import environment
from tests.support.samples import DE_INVOICE, UK_INVOICE, US_INVOICE

# reading is the same whichever store the run records in: one store is enough here
pytestmark = [pytest.mark.slow, pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)]

WORKERS = 2


@pytest.fixture
def dask_cluster(flow_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Dask scheduler and two single-threaded workers on the loopback, for this test; the run's
    settings point reading at it in chunks of two documents."""
    with started_cluster(environment(flow_env), tmp_path / "dask.log", WORKERS) as address:
        for name, value in {
            "OPSGATE_READ_RUNNER": "dask",
            "OPSGATE_DASK_ADDRESS": address,
            "OPSGATE_READ_CHUNK": "2",
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield address


def _task_runs(flow_run_id: str, name: str) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[UUID(flow_run_id)])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=name)),
        )


def test_an_inbox_is_read_in_chunks_by_the_dask_workers_and_its_run_writes_as_usual(
    start_flow: Any, dask_cluster: str, tmp_path: Path
) -> None:
    from distributed import Client, get_task_stream

    from opsgate.governance.answers import answer_for
    from opsgate.orchestration.resume import RESUMED, TAKEN, submit

    documents: dict[str, list[str] | bytes] = {
        "a-us.pdf": US_INVOICE,
        "b-de.pdf": DE_INVOICE,
        "c-broken.pdf": b"%PDF-1.7\nnot a pdf at all",
        "d-uk.pdf": UK_INVOICE,
        "e-empty.pdf": b"",
    }
    inbox = write_inbox(tmp_path / "inbox", documents)
    with Client(dask_cluster) as client, get_task_stream(client=client) as stream:
        run: FlowInThread = start_flow(inbox)
        request = wait_for_request(run=run)
    assert sorted(Path(p.source).name for p in request.proposals) == ["a-us.pdf", "b-de.pdf", "d-uk.pdf"]
    assert submit(request, answer_for(request, "alice")) in (RESUMED, TAKEN)
    summary = run.finish(timeout=180)

    assert summary.counts == {"executed": 3, "failed": 2}
    assert payables_count() == 3
    failed = {Path(o.source).name: o.detail for o in summary.outcomes if o.status is Status.FAILED}
    assert "damaged" in failed["c-broken.pdf"] and "empty" in failed["e-empty.pdf"], failed
    reads = _task_runs(request.flow_run_id, "read-documents")
    assert len(reads) == 3 and {r.state.name for r in reads} == {"Completed"}, "five documents in chunks of two"
    workers = {record["worker"] for record in stream.data}
    assert len(stream.data) == 3, "each chunk ran on the cluster"
    assert workers and all(w.startswith("tcp://127.0.0.1:") for w in workers)


@task(name="double-or-die")
def _double_or_die(items: list[int]) -> list[int]:
    if 13 in items:
        raise RuntimeError("this worker's chunk was lost")
    return [2 * item for item in items]


@flow(name="fan-out-probe")
def _fan_out_probe(items: list[int]) -> list[int]:
    return fan_out(_double_or_die, items, lambda chunk, exc: [-1] * len(chunk))


def test_a_lost_chunk_fails_its_items_and_the_others_stand_in_order(dask_cluster: str) -> None:
    assert _fan_out_probe([1, 2, 13, 4, 5]) == [2, 4, -1, -1, 10]
