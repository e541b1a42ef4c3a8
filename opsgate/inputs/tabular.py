"""Records from a CSV or Parquet file, every value as text, with the rows that cannot be used reported.

Shared by the workflows that take tables as input (records to deduplicate, operations events).

A file that cannot be read at all (missing, not UTF-8, no id column, an undecidable delimiter)
is an error naming the problem and the way out. A row that cannot be used (wrong number of
fields, no id, an id used twice, a field over the size limit: ``field_too_large``, a quote that
does not close where the row ends: ``unbalanced_quote``, see ``csv_rows``) is reported with its
line and reason, and the rest is processed: one bad row never costs the file or its neighbours.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from opsgate.errors import InputError
from opsgate.inputs.csv_rows import clean_rows
from opsgate.settings import get_settings

SNIFF_BYTES = 64 * 1024
BLOCK_BYTES = 1 << 20  # Arrow's own default: a block must hold the longest row
DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class RowProblem:
    where: str  # how to find the row: "record 12" (1-based among the records read), or its text
    reason: str


@dataclass
class Records:
    frame: pd.DataFrame  # one row per usable record, every column text ("" when empty), unique ids
    id_column: str
    problems: list[RowProblem] = field(default_factory=list)


def _decode_sample(path: Path, encoding: str) -> str:
    data = path.read_bytes()[:SNIFF_BYTES] if path.stat().st_size <= SNIFF_BYTES else path.open("rb").read(SNIFF_BYTES)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 4:  # a character cut by the sample's end is not an encoding problem
            return data[: exc.start].decode(encoding)
        raise InputError(
            f"{path}: not {encoding} text (byte 0x{data[exc.start]:02x} at offset {exc.start}); pass --encoding, e.g. --encoding cp1252 or latin-1"
        ) from None
    except LookupError:
        raise InputError(
            f"unknown encoding {encoding!r}; use a Python codec name such as utf-8, cp1252 or latin-1"
        ) from None


def _delimiter(sample: str, path: Path) -> str:
    header = sample.splitlines()[0] if sample else ""
    try:
        return (
            csv.Sniffer()
            .sniff(sample.rsplit("\n", 1)[0] if "\n" in sample else sample, delimiters=DELIMITERS)
            .delimiter
        )
    except csv.Error:
        counts = {d: header.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        if counts[best] == 0:
            raise InputError(
                f"{path}: cannot tell the delimiter from the header {header[:80]!r}; pass --delimiter"
            ) from None
        return best


def read_csv(
    path: Path,
    id_column: str,
    *,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    required: Sequence[str] = (),
    max_field: int | None = None,
) -> Records:
    """``max_field``: bytes one field may hold (``OPSGATE_READER_MAX_CSV_FIELD_BYTES`` when omitted);
    a larger one, or a quote that does not close where its row should end, leaves out that row only."""
    sample = _decode_sample(path, encoding)
    delimiter = delimiter or _delimiter(sample, path)
    header = next(csv.reader([sample.splitlines()[0]], delimiter=delimiter)) if sample else []
    if not header:
        raise InputError(f"{path}: the file is empty; a header row naming the columns is needed")
    if len(set(header)) != len(header):
        twice = sorted({h for h in header if header.count(h) > 1})
        raise InputError(f"{path}: the header names {', '.join(map(repr, twice))} more than once")
    _check_columns(path, header, id_column, required)
    rows = clean_rows(
        path.read_bytes(), delimiter, len(header), max_field or get_settings().reader_max_csv_field_bytes, encoding
    )
    problems = [RowProblem(f"line {line + 1} {text!r}", reason) for line, text, reason in rows.left_out]

    def bad_row(row: pacsv.InvalidRow) -> str:
        problems.append(
            RowProblem(
                f"the row {row.text[:80]!r}", f"{row.actual_columns} fields where the header has {row.expected_columns}"
            )
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(rows.data),
            read_options=pacsv.ReadOptions(
                encoding=encoding, use_threads=True, block_size=max(BLOCK_BYTES, 2 * rows.longest_row + 1024)
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, invalid_row_handler=bad_row),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as {encoding} CSV with delimiter {delimiter!r}: {exc}") from None
    frame = table.to_pandas().astype("string").fillna("")
    return _usable(frame, id_column, problems)


def read_parquet(path: Path, id_column: str, required: Sequence[str] = ()) -> Records:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several kinds for a file that is not Parquet
        raise InputError(f"{path}: cannot be read as Parquet: {exc}") from None
    _check_columns(path, list(frame.columns), id_column, required)
    frame = frame.astype("string").fillna("")
    return _usable(frame, id_column, [])


def read_records(
    path: Path, id_column: str, *, delimiter: str | None = None, encoding: str = "utf-8", required: Sequence[str] = ()
) -> Records:
    """Records from ``path`` by its content: Parquet by its magic bytes, anything else as CSV.
    ``required``: columns the caller cannot do without, all reported at once when missing."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic == b"PAR1":
        return read_parquet(path, id_column, required)
    return read_csv(path, id_column, delimiter=delimiter, encoding=encoding, required=required)


def _check_columns(path: Path, columns: list[str], id_column: str, required: Sequence[str]) -> None:
    if id_column not in columns and not required:
        raise InputError(
            f"{path}: no id column {id_column!r}; the columns are {', '.join(map(repr, columns))}; name one with --id-column"
        )
    missing = [c for c in (id_column, *required) if c not in columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; the columns are {', '.join(map(repr, columns))}"
        )


def _usable(frame: pd.DataFrame, id_column: str, problems: list[RowProblem]) -> Records:
    """Drop rows without an id, and every row of an id used more than once (which one is right is unknowable)."""
    ids = frame[id_column].str.strip()
    frame[id_column] = ids
    missing = ids == ""
    repeated = ids.duplicated(keep=False) & ~missing
    for position in (missing | repeated).to_numpy().nonzero()[0]:
        if missing.iat[position]:
            problems.append(RowProblem(f"record {position + 1}", f"no value in the id column {id_column!r}"))
        else:
            problems.append(
                RowProblem(
                    f"record {position + 1}",
                    f"id {ids.iat[position]!r} is used by more than one record; none of them is used",
                )
            )
    return Records(frame[~(missing | repeated)].reset_index(drop=True), id_column, problems)
