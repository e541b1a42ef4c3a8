"""Throughput of reading an inbox: `opsgate extract` as a whole process, the isolated reader
(documents read in worker processes with limits) against reading in this process, and the invoice
flow in shadow mode (proposals recorded and audited, nothing gated or written), on generated text PDFs.

    python3 -m uv run python benchmarks/inbox_throughput.py [--documents 1000] [--profile] [--no-flow]
        [--read-runner local|dask]

The flow part uses the configured Prefect server (PREFECT_API_URL) or opsgate's local one; with
`--read-runner dask` it reads the inbox in chunks of OPSGATE_READ_CHUNK (250) on a Dask cluster:
OPSGATE_DASK_ADDRESS, else a local one of OPSGATE_DASK_WORKERS (2) processes started for the run.
Prints the data size, seconds and documents per second for each, and with --profile the
functions where extraction spends its time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.batches import generated_inbox  # noqa: E402


def bench_extract(paths: list[Path]) -> None:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "opsgate", "extract", *map(str, paths), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - start
    assert len(out.stdout.splitlines()) == len(paths)
    print(
        (
            f"opsgate extract (whole command, start-up included, isolated reader): documents={len(paths)} "
            f"seconds={seconds:.2f} documents_per_second={len(paths) / seconds:.0f}"
        )
    )


def bench_isolation(paths: list[Path]) -> None:
    """Documents per second read in this process and through the reader pool (one worker, then the
    configured number), and what a one-document batch costs: the price of isolation."""
    from opsgate.inputs.isolation import Limits
    from tasks.invoice_extraction.batch import ReadJob, extract_documents, read_options
    from tasks.invoice_extraction.extracting import extract_document

    required = ("invoice_number", "invoice_date", "currency", "total")
    options = read_options("rules")
    jobs = [ReadJob(path, str(path), required, options) for path in paths]
    megabytes = sum(path.stat().st_size for path in paths) / 1e6
    start = time.perf_counter()
    inline = [extract_document(path, required).model_dump_json() for path in paths]
    seconds = time.perf_counter() - start
    print(
        f"in this process (no isolation): documents={len(paths)} data_mb={megabytes:.1f} seconds={seconds:.2f} documents_per_second={len(paths) / seconds:.0f}"
    )
    configured = Limits.from_settings()
    for workers in sorted({1, configured.workers}):
        limits = Limits(
            configured.memory_bytes, configured.cpu_seconds, configured.wall_seconds, configured.output_bytes, workers
        )
        start = time.perf_counter()
        isolated = [result.model_dump_json() for result in extract_documents(jobs, limits=limits)]
        pooled = time.perf_counter() - start
        assert isolated == inline, "the isolated reader reads the same"
        print(
            f"isolated reader, {workers} worker process(es), start-up included: documents={len(paths)} data_mb={megabytes:.1f} seconds={pooled:.2f} "
            f"documents_per_second={len(paths) / pooled:.0f} overhead_ms_per_document={(pooled - seconds) / len(paths) * 1000:.1f}"
        )
    start = time.perf_counter()
    list(extract_documents(jobs[:1]))
    one = time.perf_counter() - start
    start = time.perf_counter()
    extract_document(paths[0], required)
    print(
        f"one document: isolated seconds={one:.2f} (a worker started and its imports), in this process seconds={time.perf_counter() - start:.3f}"
    )


def bench_flow(inbox: Path, count: int, scratch: Path) -> None:
    policies = scratch / "policies"
    os.environ["OPSGATE_DATABASE_URL"] = (
        f"sqlite:///{scratch / 'opsgate.db'}"  # the local Prefect server keeps its home in the data dir: not a temp one
    )
    os.environ["OPSGATE_POLICY_DIR"] = str(policies)
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    import yaml

    from opsgate.settings import get_settings

    get_settings.cache_clear()  # the reading benchmarks above read the settings before this store was named

    data = yaml.safe_load((REPO / "policies" / "invoice_extraction.yaml").read_text())
    data["autonomy"] = {case: "shadow" for case in data["autonomy"]}
    policies.mkdir()
    (policies / "invoice_extraction.yaml").write_text(yaml.safe_dump(data))

    from flows.invoice_extraction import invoice_extraction
    from opsgate.orchestration.server import prefect_api
    from tasks.invoice_extraction.params import InvoiceParams

    with prefect_api():
        start = time.perf_counter()
        summary = invoice_extraction(InvoiceParams(inbox=inbox, trigger="benchmark"))
        seconds = time.perf_counter() - start
    print(
        f"flow in shadow mode (record + route + audit every proposal), read_runner={os.environ['OPSGATE_READ_RUNNER']}: "
        f"documents={count} seconds={seconds:.2f} "
        f"documents_per_second={count / seconds:.0f} outcomes={summary.counts}"
    )


def profile_extract(paths: list[Path]) -> None:
    from tasks.invoice_extraction.extracting import extract_document

    profiler = cProfile.Profile()
    profiler.enable()
    for path in paths:
        extract_document(path, ["invoice_number", "invoice_date", "currency", "total"])
    profiler.disable()
    report = io.StringIO()
    pstats.Stats(profiler, stream=report).sort_stats("cumulative").print_stats(15)
    print(report.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--no-flow", action="store_true", help="skip the flow (it needs a Prefect server)")
    parser.add_argument("--read-runner", choices=["local", "dask"], default="local", help="where the flow reads")
    args = parser.parse_args()
    os.environ["OPSGATE_READ_RUNNER"] = args.read_runner
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / "inbox"
        paths = generated_inbox(inbox, args.documents)
        bench_extract(paths)
        bench_isolation(paths)
        if args.profile:
            profile_extract(paths[:300])
        if not args.no_flow:
            bench_flow(inbox, args.documents, Path(scratch))


if __name__ == "__main__":
    main()
