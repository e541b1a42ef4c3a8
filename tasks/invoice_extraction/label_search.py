"""Finding a value by its label: the search every rules field uses.

A label is looked for in priority order; its value is read on the label's own line, on the next
line, or, when the label heads a column, in the cell below it. The confidence says how the value
was found: a specific label, a generic one, or a guess from position.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from tasks.invoice_extraction import label_patterns as L

T = TypeVar("T")

SPECIFIC, GENERIC, GUESSED = 0.9, 0.75, 0.5

LEADING_SEPARATORS = re.compile(r"^[\s:#.\-–—=|*]+")

COLUMN_START = re.compile(r"(?:^|\s{2,}|\t|\|)\W{0,3}$")

_HEADING_WORD = re.compile(
    r"(?<![\w])(?:order|bestellung|commande|reference|referenz|r[ée]f[ée]rence|page|seite|account|konto)(?![\w])",
    re.IGNORECASE,
)

_CELL = re.compile(r"\S+(?:\s\S+)*")
_CELL_GAP = re.compile(r"\S\s{2,}\S")

ALL_LABELS = (L.INVOICE_NUMBER, L.INVOICE_DATE, L.DUE_DATE, L.TOTAL_SPECIFIC, L.TAX_ID, L.CUSTOMER, L.PO_NUMBER)
_WORD_LABELS = tuple(
    p for group in (*ALL_LABELS, L.TOTAL_GENERIC, L.SUBTOTAL, L.TAX_TOTAL, L.VENDOR, L.BANK_ACCOUNT) for p in group
)
# Two runs of letters one space apart, the second one not a short word of its own.
_FRAGMENTS = re.compile(r"(?<![\w])([^\W\d_]{2,}) ([^\W\d_]{2,})(?=[\s:.]|$)")


@dataclass(frozen=True)
class LabelSearch:
    """Which matches of a label count and where its value may stand; by default any match, top down."""

    exclude: re.Pattern[str] | None = None  # matched around the label: another label ("Subtotal" for "Total")
    exclude_before: re.Pattern[str] | None = None  # matched just before it: another party's ("Customer VAT no.")
    bottom_up: bool = False  # the last occurrence first: totals stand at the end
    generic: bool = False  # every pattern is a generic word ("Total"), counted only where it opens a cell
    generic_last: bool = False  # only the last pattern is generic
    column_start: bool = False  # the label must open its line or table cell
    heading_row: bool = False  # only in a row of several column headings, the value in the cell below
    under: Sequence[str] | None = None  # the lines with their indentation, for a cell a few lines down

    def confidence(self, rank: int, count: int) -> float:
        """How sure a value found by the ``rank``-th of ``count`` patterns is, on the label's own line."""
        return GENERIC if self.generic or (self.generic_last and rank == count - 1) else SPECIFIC

    def passes_over(self, line: str, m: re.Match[str], confidence: float) -> bool:
        """Whether the label matched at ``m`` does not count here."""
        if self.exclude is not None and self.exclude.search(line[max(0, m.start() - 6) : m.end() + 6]):
            return True
        if self.exclude_before is not None and self.exclude_before.search(line[max(0, m.start() - 24) : m.start()]):
            return True
        if (confidence == GENERIC or self.column_start) and not self.heading_row:
            if not COLUMN_START.search(line[: m.start()]):
                return True  # a generic word mid-sentence ("... total must be ...") is prose, not a label
        return self.heading_row and not is_heading_row(line, m.start(), m.end())


def labelled(
    lines: Sequence[str],
    patterns: Sequence[re.Pattern[str]],
    value: Callable[[str], T | None],
    next_value: Callable[[str], T | None],
    search: LabelSearch = LabelSearch(),
) -> tuple[T, float] | None:
    """The value after the first label that has one, trying labels in priority order.

    The value is looked for on the rest of the label's line; when that rest holds no digit
    (the label stands alone, or is a column header) the lines below are tried with the stricter
    ``next_value`` (see ``_value_below``), at a confidence 0.1 lower. ``search`` says which
    matches of a label count.
    """
    order = range(len(lines) - 1, -1, -1) if search.bottom_up else range(len(lines))
    for rank, pattern in enumerate(patterns):
        confidence = search.confidence(rank, len(patterns))
        for i in order:
            line = lines[i]
            for m in pattern.finditer(line):
                if search.passes_over(line, m, confidence):
                    continue
                rest = line[m.end() :]
                result = value(rest)
                if result is not None:
                    return result, confidence
                below = None if re.search(r"\d", rest) else _value_below(lines, i, m, next_value, search)
                if below is not None:
                    return below, confidence - 0.1
    return None


def _value_below(
    lines: Sequence[str], i: int, m: re.Match[str], next_value: Callable[[str], T | None], search: LabelSearch
) -> T | None:
    """The value below the label matched at ``m`` on ``lines[i]``.

    It is the next non-empty line, or, when the label's line is a row of column headings, the cell
    of that line below the label; failing that, with ``search.under``, a cell a few lines further
    down under the label's column.
    """
    line = lines[i]
    following = next((s for s in lines[i + 1 : i + 3] if s), "")
    if following and is_heading_row(line, m.start(), m.end()):
        cell = cell_below(line, m.start(), m.end(), following, edges=search.heading_row)
        result = next_value(cell) if cell else None
    else:
        result = next_value(following) if following else None
    if result is None and search.under is not None and _CELL_GAP.search(line):
        indent = len(search.under[i]) - len(search.under[i].lstrip())
        result = _under(search.under[i + 1 : i + 5], m.start() + indent, m.end() + indent, next_value)
    return result


def _under(below: Sequence[str], start: int, end: int, value: Callable[[str], T | None]) -> T | None:
    """The first value in a cell standing under a column heading, a few lines down.

    A table's cells are not always aligned with their heading (a date right-aligned under a wide
    heading, a row of remarks in between), so a cell counts where it reaches into the heading's
    columns widened by a few characters to the left.
    """
    for line in below:
        for cell in _CELL.finditer(line):
            if cell.start() < end + 2 and cell.end() > start - 14:
                found = value(cell.group(0))
                if found is not None:
                    return found
    return None


def mend_split_words(lines: Sequence[str]) -> list[str]:
    """Lines with label words mended where the text broke them ("Ver käufer", "Br uttosumme").

    Layout text and OCR output break a word where its glyphs stand a little apart. A break is
    mended only where the two pieces together are a label, the first piece is none and the two
    words as written are not that label already ("net total"): ordinary words next to each other
    stay apart ("Ver käufer" is mended although "käufer" is a label).
    """
    return [_FRAGMENTS.sub(_mended, line) if " " in line else line for line in lines]


def _mended(m: re.Match[str]) -> str:
    joined = m.group(1) + m.group(2)
    if any(p.fullmatch(joined) and not p.fullmatch(m.group(0)) for p in _WORD_LABELS) and not any(
        p.fullmatch(m.group(1)) for p in _WORD_LABELS
    ):
        return joined
    return m.group(0)


def is_heading_row(line: str, start: int, end: int) -> bool:
    """Whether a label shares its line with other column headings and no values
    ("Invoice number   Date   Customer", "Klant Order Factuurdatum Factuur")."""
    others = line[:start] + " " + line[end:]
    if re.search(r"\d", others) or not re.search(r"[^\W\d_]{2,}", others):
        return False
    return any(p.search(others) for group in ALL_LABELS for p in group) or bool(_HEADING_WORD.search(others))


def cell_below(header: str, start: int, end: int, below: str, *, edges: bool = False) -> str | None:
    """The cell of ``below`` standing under the heading at ``header[start:end]``.

    Cells are separated by runs of spaces when the text layer kept the layout, so the cell that
    overlaps the heading's columns is it. Otherwise only the table's edges can be matched: the
    first heading takes the first value, the last heading the last one (with ``edges``).
    """
    cells = [(m.start(), m.end()) for m in _CELL.finditer(below)]
    if len(cells) >= 2 and re.search(r"\S\s{2,}\S", header):
        overlap = [(min(end, e) - max(start, s), s, e) for s, e in cells]
        best = max(overlap)
        if best[0] > 0:
            return below[best[1] : best[2]]
    tokens = below.split()
    if not tokens or not edges:
        return None if edges or not tokens else below
    if not header[end:].strip():
        return tokens[-1]
    if not header[:start].strip():
        return tokens[0]
    return None
