"""Throughput of reading an inbox: `opsgate extract` as a whole process, and the invoice flow in
shadow mode (proposals recorded and audited, nothing gated or written), on generated text PDFs.

    python3 -m uv run python benchmarks/inbox_throughput.py [--documents 1000] [--profile]

The flow part uses the configured Prefect server (PREFECT_API_URL) or opsgate's local one.
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

from tests.support.pdf_builder import text_pdf  # noqa: E402
from tests.support.samples import DE_INVOICE, UK_INVOICE, US_INVOICE  # noqa: E402


def make_inbox(folder: Path, count: int) -> list[Path]:
    """``count`` text PDFs: the three sample layouts with their numbers varied."""
    folder.mkdir(parents=True, exist_ok=True)
    layouts = [US_INVOICE, DE_INVOICE, UK_INVOICE]
    paths = []
    for i in range(count):
        lines = [line.replace("0317", f"{i:04d}").replace("0815", f"{i:04d}").replace("1187", f"{i:04d}") for line in layouts[i % 3]]
        path = folder / f"invoice-{i:05d}.pdf"
        path.write_bytes(text_pdf(lines))
        paths.append(path)
    return paths


def bench_extract(paths: list[Path]) -> None:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "opsgate", "extract", *map(str, paths), "--json"], capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    assert len(out.stdout.splitlines()) == len(paths)
    print(f"opsgate extract (whole command, start-up included, {os.cpu_count()} worker processes): documents={len(paths)} seconds={seconds:.2f} documents_per_second={len(paths) / seconds:.0f}")


def bench_flow(inbox: Path, count: int, scratch: Path) -> None:
    policies = scratch / "policies"
    os.environ["OPSGATE_DATABASE_URL"] = f"sqlite:///{scratch / 'opsgate.db'}"  # the local Prefect server keeps its home in the data dir: not a temp one
    os.environ["OPSGATE_POLICY_DIR"] = str(policies)
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    import yaml

    data = yaml.safe_load((REPO / "policies" / "invoice_extraction.yaml").read_text())
    data["autonomy"] = {case: "shadow" for case in data["autonomy"]}
    policies.mkdir()
    (policies / "invoice_extraction.yaml").write_text(yaml.safe_dump(data))

    from flows.invoice_extraction import invoice_extraction
    from opsgate.orchestration.server import prefect_api
    from tasks.invoice_extraction.workflow import InvoiceParams

    with prefect_api():
        start = time.perf_counter()
        summary = invoice_extraction(InvoiceParams(inbox=inbox, trigger="benchmark"))
        seconds = time.perf_counter() - start
    print(f"flow in shadow mode (record + route + audit every proposal): documents={count} seconds={seconds:.2f} "
          f"documents_per_second={count / seconds:.0f} outcomes={summary.counts}")


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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        inbox = Path(scratch) / "inbox"
        paths = make_inbox(inbox, args.documents)
        bench_extract(paths)
        if args.profile:
            profile_extract(paths[:300])
        bench_flow(inbox, args.documents, Path(scratch))


if __name__ == "__main__":
    main()
