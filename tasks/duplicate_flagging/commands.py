"""`opsgate dedupe`: flag duplicate records in a file; writes nothing, needs no server."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from opsgate import ConfigurationError, terminal_text
from tasks.duplicate_flagging.fields import Field, infer_fields, parse_fields

if TYPE_CHECKING:  # numpy, pandas, pyarrow, scipy load when the command runs, not whenever opsgate starts
    import pyarrow as pa

    from opsgate import Records
    from tasks.duplicate_flagging.matching import Decisions

stderr = Console(stderr=True, soft_wrap=True)
LINES_AT_ONCE = 100_000


def pair_lines(records: Records, fields: list[Field], decisions: Decisions) -> pa.StringArray:
    """The contract's JSON lines: ids, score, decision, and each compared field's similarity.

    Built column-wise with Arrow string kernels: a million pairs through json.dumps one by one
    would take longer than finding them. Kept as one Arrow array, written out in slices: millions
    of lines as Python strings would take more memory than the matching did.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    def numbers(values: np.ndarray, digits: int) -> pa.Array:
        rounded = np.round(values.astype(np.float64), digits)
        text = pc.cast(pa.array(rounded, mask=np.isnan(rounded)), pa.string())
        return pc.if_else(pc.match_substring(text, "."), text, pc.binary_join_element_wise(text, ".0", ""))  # 1 -> 1.0

    ids = records.frame[records.id_column].to_numpy(dtype=object)
    used = np.unique(np.concatenate([decisions.a, decisions.b]))
    quoted = np.empty(len(ids), dtype=object)
    quoted[used] = [json.dumps(ids[i], ensure_ascii=False) for i in used]
    order = np.lexsort((decisions.b, decisions.a, ~decisions.duplicate))  # duplicates first, then by record
    reasons = [
        pc.binary_join_element_wise(
            json.dumps(f.column, ensure_ascii=False) + ": ", numbers(decisions.similarities[order, i], 3), ""
        )
        for i, f in enumerate(fields)
    ]
    joined = (
        pc.binary_join_element_wise(*reasons, ", ", null_handling="skip") if reasons else pa.array([""] * len(order))
    )
    line = pc.binary_join_element_wise(
        '{"a": ',
        pa.array(quoted[decisions.a[order]], type=pa.string()),
        ', "b": ',
        pa.array(quoted[decisions.b[order]], type=pa.string()),
        ', "score": ',
        numbers(decisions.probability[order], 4),
        ', "decision": ',
        pa.array(np.where(decisions.duplicate[order], '"duplicate"', '"review"')),
        ', "reasons": {',
        joined,
        "}}",
        "",
    )
    return line


def _summary(records: Records, fields: list[Field], skipped: list[str], decisions: Decisions, seconds: float) -> Table:
    import numpy as np

    n = len(records.frame)
    scored = decisions.scored
    all_pairs = n * (n - 1) // 2
    sizes = np.bincount(decisions.labels)
    table = Table("", "", title="duplicate flagging", show_header=False)
    table.add_row("records", f"{n:,}" + (f" ({len(records.problems)} rows not usable)" if records.problems else ""))
    table.add_row(
        "compared", terminal_text(", ".join(f"{f.column} ({f.kind.value})" for f in fields))
    )  # column names come from the file
    if skipped:
        table.add_row("not compared", terminal_text(", ".join(skipped)))
    table.add_row(
        "candidate pairs", f"{scored.candidates:,} = {scored.candidates / max(all_pairs, 1):.4%} of all pairs"
    )
    table.add_row("pairs per key", ", ".join(f"{k} {v:,}" for k, v in scored.pairs_per_key.items()))
    table.add_row("duplicate pairs", f"{int(decisions.duplicate.sum()):,} in {int((sizes > 1).sum()):,} clusters")
    table.add_row("for review", f"{int((~decisions.duplicate).sum()):,}")
    table.add_row("seconds", f"{seconds:.1f}")
    return table


def dedupe(
    file: Annotated[Path, typer.Argument(help="Records as CSV (any of , ; tab |) or Parquet.")],
    id_column: Annotated[str, typer.Option("--id-column", help="The column that identifies each record.")],
    fields: Annotated[
        str | None, typer.Option(help='Columns to compare, "col[:kind],...". Default: inferred from the header.')
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="One JSON object per pair on stdout: duplicates, then pairs for review.")
    ] = False,
    duplicate_at: Annotated[
        float | None, typer.Option(help="Match probability from which a pair is a duplicate.")
    ] = None,
    review_at: Annotated[float | None, typer.Option(help="Match probability from which a pair goes to review.")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter. Default: detected.")] = None,
    encoding: Annotated[str, typer.Option(help="CSV text encoding.")] = "utf-8",
    partition_records: Annotated[
        int | None,
        typer.Option(
            help="Records per partition of the candidate pairs (250,000): fewer for less memory. The output is the same."
        ),
    ] = None,
    dask_address: Annotated[
        str | None,
        typer.Option(help="Compare the partitions on this Dask scheduler's workers (tcp://HOST:PORT)."),
    ] = None,
) -> None:
    """Flag duplicate records in a file, with the per-field evidence for each pair. No writes."""
    from opsgate import read_records
    from tasks.duplicate_flagging.matching import MatchSettings, find_duplicates
    from tasks.duplicate_flagging.partitioning import in_process, on_dask

    started = time.perf_counter()
    chosen_settings = {"duplicate_at": duplicate_at, "review_at": review_at, "partition_records": partition_records}
    overrides = {k: v for k, v in chosen_settings.items() if v is not None}
    try:
        settings = MatchSettings(**overrides)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    with stderr.status("reading records", spinner="dots") as status:
        records = read_records(file, id_column, delimiter=delimiter, encoding=encoding)
        columns = list(records.frame.columns)
        chosen, skipped = (parse_fields(fields, columns, id_column), []) if fields else infer_fields(columns, id_column)
        if not chosen:
            raise ConfigurationError(
                f"{file}: no column the header names as a name, address, phone, e-mail, date or id; say which with --fields"
            )
        status.update(f"matching {len(records.frame):,} records on {len(chosen)} fields")
        spread = on_dask(dask_address) if dask_address else in_process
        decisions = find_duplicates(records.frame, chosen, settings, spread=spread)
        status.update("writing pairs")
        lines = pair_lines(records, chosen, decisions) if json_output else None
    for problem in records.problems:
        stderr.print(
            Text.assemble(terminal_text("skipped", "yellow"), terminal_text(f" {problem.where}: {problem.reason}"))
        )
    if lines is not None:
        for start in range(0, len(lines), LINES_AT_ONCE):
            sys.stdout.write("".join(line + "\n" for line in lines[start : start + LINES_AT_ONCE].to_pylist()))
        return
    stderr.print(_summary(records, chosen, skipped, decisions, time.perf_counter() - started))
    Console().print(_pairs_table(records, chosen, decisions))


def _pairs_table(records: Records, fields: list[Field], decisions: Decisions, limit: int = 30) -> Table:
    import numpy as np

    ids = records.frame[records.id_column].to_numpy(dtype=object)
    table = Table(
        "a",
        "b",
        "score",
        "decision",
        *(Column(terminal_text(f.column)) for f in fields),
        title=f"first {limit} pairs (--json for all)",
    )
    order = np.lexsort((-decisions.probability, ~decisions.duplicate))[:limit]
    for i in order:
        cells = ["" if np.isnan(v) else f"{v:.2f}" for v in decisions.similarities[i]]
        shown = (
            str(ids[decisions.a[i]]),
            str(ids[decisions.b[i]]),
            f"{decisions.probability[i]:.3f}",
            "duplicate" if decisions.duplicate[i] else "review",
            *cells,
        )
        table.add_row(*map(terminal_text, shown))  # ids come from the file
    return table
