"""Finding the CSV rows that would take others down with them, before the fast reader sees the file.

Arrow reads a CSV in blocks and parses quoted values across lines, which is what makes it fast and
what makes two kinds of bad row dangerous: a field larger than a block refuses the whole file, and
a quote that never closes where its row should end swallows every row after it into one value,
silently. So one vectorised pass over the bytes (numpy: where the lines end, how many quote marks
each holds, how long each is) finds the few lines worth a look, and only those are parsed here:

- a line with an odd number of quote marks opens a quoted value; it is a legitimate multi-line
  value when the lines up to the next such line parse (strictly) as exactly one row with the
  header's number of fields. Otherwise the row ends at its own line with ``unbalanced_quote`` and
  the lines after it are read as rows of their own;
- a row with a field over ``max_field`` bytes is left out with ``field_too_large``.

Every other line goes to Arrow untouched, so a clean file costs one pass of numpy over its bytes.
Quoted values spanning more than ``SPAN_FIELDS`` times ``max_field`` bytes are not looked for.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

QUOTE, NEWLINE = ord('"'), ord("\n")
SPAN_FIELDS = 16
UNBALANCED = (
    "unbalanced_quote: a quote opened on this line does not close where the row should "
    "end; the row is left out, the lines after it are read as rows of their own"
)


@dataclass
class CleanRows:
    """The bytes to hand the fast reader, the lines left out (0-based, with their reasons), and the
    longest row kept (so the reader's blocks can hold it)."""

    data: bytes
    left_out: list[tuple[int, str, str]] = field(default_factory=list)  # line, its start as text, reason
    longest_row: int = 0


def clean_rows(data: bytes, delimiter: str, columns: int, max_field: int, encoding: str = "utf-8") -> CleanRows:
    """``data`` (a CSV with its header line) less the rows that cannot be read on their own."""
    array = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(array == NEWLINE)
    starts = np.concatenate(([0], ends + 1))
    ends = np.concatenate((ends, [len(data)]))
    lengths = ends - starts
    odd = np.zeros(0, dtype=np.int64)
    if data.find(b'"') >= 0:
        per_line = np.bincount(np.searchsorted(ends, np.flatnonzero(array == QUOTE)), minlength=len(starts))
        odd = np.flatnonzero(per_line % 2 == 1)
    long = np.flatnonzero(lengths > max_field)
    odd, long = odd[odd > 0], long[long > 0]  # the header is read elsewhere
    if not odd.size and not long.size:
        return CleanRows(data, longest_row=int(lengths.max(initial=0)))
    reader = _Lines(data, starts, ends, delimiter, columns, max_field, encoding)
    return reader.clean([int(i) for i in odd], {int(i) for i in long})


class _Lines:
    def __init__(
        self,
        data: bytes,
        starts: np.ndarray,
        ends: np.ndarray,
        delimiter: str,
        columns: int,
        max_field: int,
        encoding: str,
    ) -> None:
        self.data, self.starts, self.ends = data, starts, ends
        self.delimiter, self.columns, self.max_field, self.encoding = delimiter, columns, max_field, encoding

    def clean(self, odd: list[int], long: set[int]) -> CleanRows:
        left_out: dict[int, tuple[int, str]] = {}  # first line -> last line, reason
        longest = 0
        k = 0
        while k < len(odd):
            first = odd[k]
            if self._row(first, first) is not None:  # a quote mark inside an unquoted value: a whole row
                k += 1
                continue
            last = odd[k + 1] if k + 1 < len(odd) else None
            row = (
                self._row(first, last)
                if last is not None and self.ends[last] - self.starts[first] <= SPAN_FIELDS * self.max_field
                else None
            )
            if row is not None and len(row) == self.columns:
                if max(map(len, row)) > self.max_field:
                    left_out[first] = (last, self._too_large(row))
                else:
                    longest = max(longest, int(self.ends[last] - self.starts[first]))
                long.difference_update(range(first, last + 1))
                k += 2
                continue
            left_out[first] = (first, UNBALANCED)
            long.discard(first)
            k += 1
        for line in sorted(long):
            row = self._row(line, line)
            if row is not None and max(map(len, row)) > self.max_field:
                left_out[line] = (line, self._too_large(row))
        kept_lengths = self.ends - self.starts
        for first, (last, _) in left_out.items():
            kept_lengths[first : last + 1] = 0
        return CleanRows(
            self._without(left_out),
            [(first, self._text(first)[:60], reason) for first, (_, reason) in sorted(left_out.items())],
            max(longest, int(kept_lengths.max(initial=0))),
        )

    def _too_large(self, row: list[str]) -> str:
        return (
            f"field_too_large: a field of {max(len(v.encode(self.encoding, 'replace')) for v in row):,} "
            f"bytes is over the {self.max_field:,}-byte limit; the row is left out"
        )

    def _text(self, first: int, last: int | None = None) -> str:
        end = self.ends[first if last is None else last]
        return self.data[self.starts[first] : end].decode(self.encoding, errors="replace")

    def _row(self, first: int, last: int) -> list[str] | None:
        """The one row lines ``first``..``last`` hold, parsed strictly; None when they are not one row."""
        with _field_limit(int(self.ends[last] - self.starts[first]) + 1):
            try:
                rows = list(csv.reader(io.StringIO(self._text(first, last)), delimiter=self.delimiter, strict=True))
            except csv.Error:
                return None
        return rows[0] if len(rows) == 1 else None

    def _without(self, left_out: dict[int, tuple[int, str]]) -> bytes:
        parts, at = [], 0
        for first, (last, _) in sorted(left_out.items()):
            parts.append(self.data[at : self.starts[first]])
            at = min(int(self.ends[last]) + 1, len(self.data))
        parts.append(self.data[at:])
        return b"".join(parts)


@contextmanager
def _field_limit(size: int) -> Iterator[None]:
    """The csv module's field limit is process-wide: raised for one parse, then put back."""
    previous = csv.field_size_limit(max(size, csv.field_size_limit()))
    try:
        yield
    finally:
        csv.field_size_limit(previous)
