"""Finding a value by its label: the search every rules field uses.

A label is looked for in priority order; its value is read on the label's own line, on the next
line, or, when the label heads a column, in the cell below it. The confidence says how the value
was found: a specific label, a generic one, or a guess from position.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from tasks.invoice_extraction import label_patterns as L

T = TypeVar("T")

SPECIFIC, GENERIC, GUESSED = 0.9, 0.75, 0.5

LEADING_SEPARATORS = re.compile(r"^[\s:#.\-–—=|*]+")

COLUMN_START = re.compile(r"(?:^|\s{2,}|\t|\|)\W{0,3}$")

_HEADING_WORD = re.compile(r"(?<![\w])(?:order|bestellung|commande|reference|referenz|r[ée]f[ée]rence|page|seite|account|konto)(?![\w])", re.IGNORECASE)

_CELL = re.compile(r"\S+(?:\s\S+)*")
_CELL_GAP = re.compile(r"\S\s{2,}\S")

ALL_LABELS = (L.INVOICE_NUMBER, L.INVOICE_DATE, L.DUE_DATE, L.TOTAL_SPECIFIC, L.TAX_ID, L.CUSTOMER, L.PO_NUMBER)
_WORD_LABELS = tuple(p for group in (*ALL_LABELS, L.TOTAL_GENERIC, L.SUBTOTAL, L.TAX_TOTAL, L.VENDOR, L.BANK_ACCOUNT) for p in group)
# Two runs of letters one space apart, the second one not a short word of its own.
_FRAGMENTS = re.compile(r"(?<![\w])([^\W\d_]{2,}) ([^\W\d_]{2,})(?=[\s:.]|$)")


def labelled(
    lines: Sequence[str],
    patterns: Sequence[re.Pattern[str]],
    value: Callable[[str], T | None],
    next_value: Callable[[str], T | None],
    *,
    exclude: re.Pattern[str] | None = None,
    exclude_before: re.Pattern[str] | None = None,
    bottom_up: bool = False,
    generic: bool = False,
    generic_last: bool = False,
    column_start: bool = False,
    heading_row: bool = False,
    under: Sequence[str] | None = None,
) -> tuple[T, float] | None:
    """The value after the first label that has one, trying labels in priority order.

    The value is looked for on the rest of the label's line; when that rest holds no digit
    (the label stands alone, or is a column header) the next non-empty line is tried with the
    stricter ``next_value``; when the label's line is a row of column headings, the cell of the next
    line below the label is read instead. ``generic_last`` marks the last pattern as a generic label;
    ``column_start`` requires the label to open its line or table cell; ``heading_row`` accepts a
    label only in a row of several column headings; ``exclude_before`` rejects a label preceded on
    its line by a match ("Customer VAT no."); ``under``, the same lines with their indentation,
    looks a few lines down for a cell under a column heading that has nothing right below it.
    """
    order = range(len(lines) - 1, -1, -1) if bottom_up else range(len(lines))
    for rank, pattern in enumerate(patterns):
        confidence = GENERIC if generic or (generic_last and rank == len(patterns) - 1) else SPECIFIC
        for i in order:
            line = lines[i]
            for m in pattern.finditer(line):
                if exclude is not None and exclude.search(line[max(0, m.start() - 6) : m.end() + 6]):
                    continue
                if exclude_before is not None and exclude_before.search(line[max(0, m.start() - 24) : m.start()]):
                    continue
                if (confidence == GENERIC or column_start) and not heading_row and not COLUMN_START.search(line[: m.start()]):
                    continue  # a generic word mid-sentence ("... total must be ...") is prose, not a label
                headings = is_heading_row(line, m.start(), m.end())
                if heading_row and not headings:
                    continue
                rest = line[m.end() :]
                result = value(rest)
                if result is not None:
                    return result, confidence
                if not re.search(r"\d", rest):
                    following = next((s for s in lines[i + 1 : i + 3] if s), "")
                    if headings and following:
                        cell = cell_below(line, m.start(), m.end(), following, edges=heading_row)
                        result = next_value(cell) if cell else None
                    else:
                        result = next_value(following) if following else None
                    if result is not None:
                        return result, confidence - 0.1
                    if under is not None and _CELL_GAP.search(line):
                        indent = len(under[i]) - len(under[i].lstrip())
                        result = _under(under[i + 1 : i + 5], m.start() + indent, m.end() + indent, next_value)
                        if result is not None:
                            return result, confidence - 0.1
    return None


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
