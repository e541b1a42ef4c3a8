"""`opsgate extract`: read documents and print their fields; writes nothing, needs no server."""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from opsgate.display import terminal_text
from opsgate.llm import llm_client
from opsgate.policy.loader import load_policy
from opsgate.settings import get_settings
from tasks.invoice_extraction.backends import Backend
from tasks.invoice_extraction.extracting import extract_document
from tasks.invoice_extraction.models import Extraction

WORKFLOW = "invoice_extraction"


def _table(results: list[Extraction]) -> Table:
    """Every cell as text (``display.terminal_text``): file names and values come from the documents."""
    table = Table("source", "status", "type", "vendor", "number", "date", "currency", "total", "escalations / error")
    for r in results:
        f = r.fields
        problems = r.error or "; ".join(e.describe() for e in r.escalations)
        cells = (r.source, r.status, r.document_type, f.vendor_name or "", f.invoice_number or "", str(f.invoice_date or ""), f.currency or "", str(f.total or ""), problems)
        table.add_row(*map(terminal_text, cells))
    return table


PARALLEL_FROM = 64  # below this, starting worker processes costs more than it saves


def _extract_one(path: Path, *, required: tuple[str, ...], max_bytes: int, backend: Backend, client: Any = None) -> Extraction:
    return extract_document(path, required, source=str(path), max_bytes=max_bytes, backend=backend, client=client)


def extract(
    paths: Annotated[list[Path], typer.Argument(help="Documents to read: PDF (with or without embedded e-invoice XML), plain text, CII or UBL XML.")],
    json: Annotated[bool, typer.Option("--json", help="One JSON object per document on stdout, in input order.")] = False,
    backend: Annotated[Backend | None, typer.Option(help="rules, llm or auto; OPSGATE_BACKEND when omitted.")] = None,
) -> None:
    """Extract invoice fields from documents. No writes, no server."""
    policy = load_policy(WORKFLOW)
    required = policy.escalation.missing_data.fields if policy.escalation.missing_data else []
    settings = get_settings()
    backend = backend or settings.backend
    read = partial(_extract_one, required=tuple(required), max_bytes=settings.max_document_bytes, backend=backend)
    results: list[Extraction] = []
    with Progress(console=Console(stderr=True), transient=True, disable=len(paths) < 2 or not sys.stderr.isatty()) as progress, ExitStack() as stack:
        job = progress.add_task("extracting", total=len(paths))
        if backend == "rules" and len(paths) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=os.cpu_count()))
            extracted = pool.map(read, paths, chunksize=32)  # in input order, whatever finishes first
        else:
            client = llm_client() if backend != "rules" else None
            extracted = (read(path, client=client) for path in paths)
        for result in extracted:
            results.append(result)
            if json:
                sys.stdout.write(result.model_dump_json() + "\n")
                sys.stdout.flush()
            progress.advance(job)
    if not json:
        Console().print(_table(results))
