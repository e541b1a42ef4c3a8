"""`opsgate history import invoices FILE.jsonl` and `opsgate history show invoices`: the vendor memory.

An import line is one document people approved before: ``{"text": ..., "fields": {...}}`` or
``{"path": ..., "fields": {...}}``, fields as ``opsgate extract --json`` prints them. A path is read
like any inbox document, in a reader process with its limits. A line that cannot be used is reported
with its number and reason; every other line is imported. The rules read each imported document
too, so the memory knows which fields people had to correct for a vendor.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from opsgate import ConfigurationError, exits_cleanly, terminal_text
from tasks.invoice_extraction import history as store
from tasks.invoice_extraction.batch import ReadJob, extract_documents, read_options
from tasks.invoice_extraction.rules import extract_fields

history = typer.Typer(
    name="history",
    help="Learning from approved history: import past documents, show what was learnt.",
    no_args_is_help=True,
)


class Kind(StrEnum):
    invoices = "invoices"


def _parse(raw: str) -> tuple[dict[str, Any], Any] | str:
    """The line's object and approved fields, or why the line cannot be used."""
    try:
        line = json.loads(raw)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(line, dict):
        return "not a JSON object"
    if ("text" in line) == ("path" in line):
        return 'needs exactly one of "text" and "path"'
    if "text" in line and (not isinstance(line["text"], str) or not line["text"].strip()):
        return '"text" must be a non-empty string'
    if "path" in line and not isinstance(line["path"], str):
        return '"path" must be a string'
    try:
        return line, store.approved_from(line)
    except ValidationError as exc:
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    except ValueError as exc:
        return str(exc)


def import_lines(file: Path, base: Path) -> tuple[list[store.Approved], list[tuple[int, str]]]:
    """The usable documents of a history file, and (line number, reason) for each line that is not.
    Relative paths are read from ``base`` (the file's folder)."""
    approved: list[store.Approved] = []
    problems: list[tuple[int, str]] = []
    paths: list[tuple[int, Path, Any]] = []
    for number, line_bytes in enumerate(file.read_bytes().splitlines(), start=1):
        try:
            raw = line_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append((number, f"not UTF-8 text: {exc.reason} at byte {exc.start}"))
            continue
        if not raw.strip():
            continue
        parsed = _parse(raw)
        if isinstance(parsed, str):
            problems.append((number, parsed))
            continue
        line, fields = parsed
        if "text" in line:
            sha = store.text_digest(line["text"])
            approved.append(
                store.Approved(f"import:{sha}", sha, line["text"], fields, extract_fields(line["text"]).fields)
            )
        else:
            paths.append((number, base / line["path"], fields))
    jobs = [ReadJob(path, str(path), (), read_options("rules")) for _, path, _ in paths]
    for (number, _, fields), read in zip(paths, extract_documents(jobs), strict=True):
        sha = read.inputs.get("sha256")
        if read.status == "error" or not read.text or not sha:
            problems.append((number, read.error or "no text to learn from (an e-invoice's XML or a scan)"))
            continue
        approved.append(store.Approved(f"import:{sha}", sha, read.text, fields, read.fields))
    problems.sort()
    return approved, problems


@history.command("import")
@exits_cleanly
def import_history(
    kind: Annotated[Kind, typer.Argument(help="What the history is of: invoices.")],
    file: Annotated[
        Path,
        typer.Argument(
            help='JSON lines: {"text": ..., "fields": {...}} or {"path": ..., "fields": {...}} per approved document.'
        ),
    ],
) -> None:
    """Learn from documents people approved before: where each vendor prints each field. Exits 1 when a line could not be used."""
    if not file.is_file():
        raise ConfigurationError(f"no history file at {file}")
    approved, problems = import_lines(file, file.parent)
    added = store.add_all(approved)
    memory = store.load()
    console = Console()
    if problems:
        table = Table("line", "problem", title="lines not imported")
        for number, reason in problems:
            table.add_row(str(number), terminal_text(reason))
        console.print(table)
    summary = Table("imported", "already learnt", "not imported", "memory", "vendors")
    summary.add_row(
        str(added),
        str(len(approved) - added),
        str(len(problems)),
        memory.version if memory else "-",
        str(len(memory.vendors)) if memory else "0",
    )
    console.print(summary)
    if problems:
        raise typer.Exit(1)


@history.command("show")
@exits_cleanly
def show(
    kind: Annotated[Kind, typer.Argument(help="What the history is of: invoices.")],
    json_output: Annotated[
        bool,
        typer.Option("--json", help="One JSON object: the version and, per vendor, its documents and learnt fields."),
    ] = False,
) -> None:
    """The memory's version and what it holds per vendor (learning the postings executed since it last looked)."""
    memory = store.load()
    vendors = {
        key: {
            "documents": len(v.documents),
            "fields": sorted({n for d in v.documents for n in d.anchors} | {n for d in v.documents for n in d.fields}),
        }
        for key, v in (memory.vendors.items() if memory else [])
    }
    if json_output:
        typer.echo(json.dumps({"version": memory.version if memory else None, "vendors": vendors}))
        return
    table = Table("vendor", "documents", "fields learnt", title=memory.version if memory else "nothing learnt yet")
    for key, found in sorted(vendors.items()):
        table.add_row(terminal_text(key), str(found["documents"]), terminal_text(", ".join(found["fields"])))
    Console().print(table)
