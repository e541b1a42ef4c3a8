"""Throughput of the governed path without Prefect: record proposals, approve the batch, execute
each write exactly once (idempotency key + write + undo record + audit event per action, in a
savepoint of its own; one commit per batch of OPSGATE_EXECUTE_BATCH_SIZE, as the flows execute).

    python3 -m uv run python benchmarks/governed_writes.py [--count 2000] [--database-url URL]

Defaults to a fresh SQLite file; pass a PostgreSQL URL (an empty schema) to measure that store.
Prints the batch size and, per stage, seconds and proposals per second.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from rich.progress import track


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="opsgate-bench-"))
    os.environ["OPSGATE_DATA_DIR"] = str(scratch)
    if args.database_url:
        os.environ["OPSGATE_DATABASE_URL"] = args.database_url

    from opsgate.cli.approvals import answer_for
    from opsgate.governance import executor, requests, runs
    from opsgate.learning.decisions import decide
    from opsgate.learning.governing import governing
    from opsgate.models import Proposal
    from opsgate.settings import get_settings
    from opsgate.store import audit
    from opsgate.store.db import transaction
    from opsgate.writers.payables import PayablePosting

    run = runs.start_run(governing("invoice_extraction"), "benchmark")
    proposals = [
        Proposal(
            workflow=run.workflow,
            source=f"bench/{i}.pdf",
            case_type="invoice",
            tool="payables.post",
            instruction_version="rules-v1",  # a released version: it goes to the gate
            payload=PayablePosting(
                vendor_name=f"Vendor {i % 97}",
                invoice_number=f"B-{i:07d}",
                invoice_date=date(2026, 1, 1 + i % 28),
                currency="EUR",
                total=Decimal(i % 5000) + Decimal("0.99"),
                source=f"bench/{i}.pdf",
            ).model_dump(mode="json"),
        )
        for i in range(args.count)
    ]
    timings: dict[str, float] = {}
    start = time.perf_counter()
    runs.check_policy(run, proposals)
    timings["record + route"] = time.perf_counter() - start

    start = time.perf_counter()
    request = requests.open_request(run.workflow, run.id, "benchmark", "bench-1", proposals, requests.deadline_in(3600))
    decisions = decide(request.id, answer_for(request, "alice"))  # an AP clerk: the policy names who may decide
    timings["approve batch"] = time.perf_counter() - start

    size = get_settings().execute_batch_size
    ids = [d.proposal_id for d in decisions]
    start = time.perf_counter()
    for i in track(range(0, len(ids), size), description="executing"):
        written, alone = executor.execute_batch(run.policy, ids[i : i + size])
        assert not alone and len(written) == len(ids[i : i + size]), "every approved action is written in its batch"
    timings["execute"] = time.perf_counter() - start

    start = time.perf_counter()
    with transaction() as session:
        result = audit.verify(session)
    timings["audit verify"] = time.perf_counter() - start

    print(
        f"store={get_settings().store_url.split('?')[0]} proposals={args.count} batch={size} audit_rows={result.rows} chain_ok={result.ok}"
    )
    for stage, seconds in timings.items():
        print(f"{stage:15s} seconds={seconds:7.3f} per_second={args.count / seconds:9.1f}")


if __name__ == "__main__":
    main()
