"""`opsgate extract`: read documents and print their fields; writes nothing, needs no server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from opsgate import llm_client, load_policy, terminal_text
from tasks.invoice_extraction.backends import Backend
from tasks.invoice_extraction.batch import ReadJob, extract_documents, read_options
from tasks.invoice_extraction.history import stored_memory
from tasks.invoice_extraction.memory import with_memory
from tasks.invoice_extraction.models import Extraction

WORKFLOW = "invoice_extraction"


def _table(results: list[Extraction]) -> Table:
    """Every cell as text (``display.terminal_text``): file names and values come from the documents."""
    table = Table("source", "status", "type", "vendor", "number", "date", "currency", "total", "escalations / error")
    for r in results:
        f = r.fields
        problems = r.error or "; ".join(
            [e.describe() for e in r.escalations] + [f"note: {n.describe()}" for n in r.notices]
        )
        cells = (
            r.source,
            r.status,
            r.document_type,
            f.vendor_name or "",
            f.invoice_number or "",
            str(f.invoice_date or ""),
            f.currency or "",
            str(f.total or ""),
            problems,
        )
        table.add_row(*map(terminal_text, cells))
    return table


def extract(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Documents to read: PDF (with or without embedded e-invoice XML), plain text, CII or UBL XML."
        ),
    ],
    json: Annotated[
        bool, typer.Option("--json", help="One JSON object per document on stdout, in input order.")
    ] = False,
    backend: Annotated[Backend | None, typer.Option(help="rules, llm or auto; OPSGATE_BACKEND when omitted.")] = None,
    no_history: Annotated[
        bool,
        typer.Option(
            "--no-history", help="Read without the vendor memory learnt from approved documents (`opsgate history`)."
        ),
    ] = False,
) -> None:
    """Extract invoice fields from documents. No writes, no server. Each document is read in a
    reader process with memory, time and output limits (OPSGATE_READER_*), then with the vendor
    memory the store holds, unless --no-history."""
    policy = load_policy(WORKFLOW)
    required = tuple(policy.escalation.missing_data.fields if policy.escalation.missing_data else [])
    options = read_options(backend)
    client = llm_client() if options.backend != "rules" else None
    memory = None if no_history else stored_memory()
    jobs = [ReadJob(path, str(path), required, options) for path in paths]
    results: list[Extraction] = []
    with Progress(
        console=Console(stderr=True), transient=True, disable=len(paths) < 2 or not sys.stderr.isatty()
    ) as progress:
        job = progress.add_task("extracting", total=len(paths))
        for read in extract_documents(jobs, client=client, progress=lambda done: progress.update(job, completed=done)):
            result = with_memory(read, memory)
            results.append(result)
            if json:
                sys.stdout.write(result.model_dump_json() + "\n")
                sys.stdout.flush()
    if not json:
        Console().print(_table(results))
