"""The text of a page as a person sees it: rows by baseline, side-by-side blocks kept apart.

A PDF's text layer comes in whatever order its producer drew the glyphs, and layout text
(``pdftotext -layout``, an OCR engine's output) puts things that merely share a baseline on one
line. Either way two address blocks printed side by side ("Seller ... | Buyer ...") come out
interleaved: "Lieferant GmbH   Kunden AG", "Lieferstraße 20   Kundenstraße 15". The rules read
line by line, so interleaved blocks give a vendor named after the buyer's street.

So every reader turns its input into ``Word`` boxes first (the PDF's character boxes, an OCR
engine's words, or the columns of layout text), and this module alone turns words into lines:

1. words that share a baseline form a row; a wide gap cuts the row into segments;
2. consecutive rows that have a gutter (an empty vertical band) at the same place form a
   two-column region;
3. a region whose two sides are both text (addresses, parties, notes) is read block by block,
   the left block first; a region where the left side labels the right ("Invoice no.   4711",
   "Total   12,50") stays row by row, because there the row is the meaning. Rows of three or more
   segments are tables (line items, tax breakdowns) and stay rows too.

Segments keep their horizontal position in the output (one column per average character width)
so that column-aware rules (a value under its heading) still line up.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# A gap at least this many character widths wide separates segments (columns) of a row.
SEGMENT_GAP = 2.5
# Layout text marks a column break with runs of spaces; a single or double space is inside a phrase.
TEXT_SEGMENT_GAP = 3
_LABEL_END = re.compile(r"[:：]\s*$")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Word:
    """A word and its box on the page (top-left origin, any unit), with how sure the reader is of it.

    ``confidence`` is 1.0 for a PDF text layer and the OCR engine's word confidence (0..1) otherwise.
    """

    text: str
    left: float
    top: float
    right: float
    bottom: float
    confidence: float = 1.0

    @property
    def char_width(self) -> float:
        return (self.right - self.left) / max(len(self.text), 1)


@dataclass
class Segment:
    """Words of one row with no wide gap between them: a phrase, a label, a value or a table cell."""

    words: list[Word]

    @property
    def left(self) -> float:
        return self.words[0].left

    @property
    def right(self) -> float:
        return self.words[-1].right

    @property
    def text(self) -> str:
        return " ".join(word.text for word in self.words)


@dataclass
class Row:
    """Segments sharing a baseline, left to right."""

    segments: list[Segment]
    top: float
    bottom: float

    @property
    def left(self) -> float:
        return self.segments[0].left


@dataclass
class _Region:
    """Consecutive rows with a gutter at the same place; ``split`` when read block by block."""

    rows: list[Row] = field(default_factory=list)
    gutter: tuple[float, float] = (0.0, 0.0)
    split: bool = False


def page_lines(words: Iterable[Word], *, gap: float | None = None) -> list[str]:
    """The page's lines in reading order, side-by-side text blocks one after the other.

    ``gap`` is the width that separates segments, in the words' unit; by default
    ``SEGMENT_GAP`` average character widths.
    """
    words = [w for w in words if w.text.strip()]
    if not words:
        return []
    char_width = statistics.median(w.char_width for w in words) or 1.0
    rows = _rows(words, gap if gap is not None else SEGMENT_GAP * char_width)
    left_edge = min(row.left for row in rows)
    lines: list[str] = []
    for item in _regions(rows):
        if isinstance(item, Row):
            lines.append(_render(item.segments, left_edge, char_width))
            continue
        left = [s for row in item.rows for s in row.segments if s.right <= item.gutter[0] + char_width]
        right = [s for row in item.rows for s in row.segments if s.left >= item.gutter[1] - char_width]
        lines.extend(_render([s], left_edge, char_width) for s in left)
        lines.append("")
        lines.extend(_render([s], left_edge, char_width) for s in right)
        lines.append("")
    return lines


def page_text(words: Iterable[Word], *, gap: float | None = None) -> str:
    return "\n".join(page_lines(words, gap=gap))


def words_of_layout_text(text: str) -> list[Word]:
    """Words of layout text, each at its column (x) and line (y), one unit per character and line."""
    words = []
    for y, line in enumerate(text.expandtabs(8).split("\n")):
        for m in re.finditer(r"\S+", line):
            words.append(Word(m.group(0), float(m.start()), float(y), float(m.end()), float(y) + 1.0))
    return words


def layout_text_lines(text: str) -> list[str]:
    """Layout text (columns marked by runs of spaces) read as a person would, blank lines kept.

    Blank lines separate paragraphs in layout text; they are kept so that a block's end stays
    visible to the rules, and a two-column region never reaches across one.
    """
    out: list[str] = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        if out:
            out.append("")
        out.extend(page_lines(words_of_layout_text(paragraph), gap=float(TEXT_SEGMENT_GAP)))
    return out


def _rows(words: Sequence[Word], gap: float) -> list[Row]:
    """Group words by baseline, then cut each row at wide gaps.

    A word joins a recent row whose band it mostly shares and where it collides with no word
    already placed: two lines printed close together (a bold name above its street) share some
    height, never the same spot.
    """
    groups: list[list[Word]] = []
    for word in sorted(words, key=lambda w: ((w.top + w.bottom) / 2, w.left)):
        home = next((g for g in reversed(groups[-3:]) if _same_band(g[0], word) and not _collides(g, word)), None)
        if home is None:
            groups.append([word])
        else:
            home.append(word)
    groups.sort(key=lambda g: statistics.median((w.top + w.bottom) / 2 for w in g))
    rows = []
    for group in groups:
        group.sort(key=lambda w: w.left)
        segments = [Segment([group[0]])]
        for word in group[1:]:
            if word.left - segments[-1].right >= gap:
                segments.append(Segment([word]))
            else:
                segments[-1].words.append(word)
        rows.append(Row(segments, min(w.top for w in group), max(w.bottom for w in group)))
    return rows


def _same_band(first: Word, word: Word) -> bool:
    overlap = min(first.bottom, word.bottom) - max(first.top, word.top)
    return overlap >= 0.5 * min(first.bottom - first.top, word.bottom - word.top)


def _collides(group: Sequence[Word], word: Word) -> bool:
    return any(min(w.right, word.right) - max(w.left, word.left) > 0.3 * min(w.right - w.left, word.right - word.left) for w in group)


def _regions(rows: Sequence[Row]) -> list[Row | _Region]:
    """Rows in order, with runs of two-column rows gathered into regions."""
    out: list[Row | _Region] = []
    region: _Region | None = None
    for row in rows:
        if region is not None and _continues(region, row):
            continue
        if region is not None:
            out.extend(_close(region))
            region = None
        if len(row.segments) == 2:
            region = _Region([row], (row.segments[0].right, row.segments[1].left))
        else:
            out.append(row)
    if region is not None:
        out.extend(_close(region))
    return out


def _continues(region: _Region, row: Row) -> bool:
    """Whether ``row`` belongs to the region: two segments around its gutter, or one on either side."""
    g_left, g_right = region.gutter
    previous = region.rows[-1]
    if row.top - previous.bottom > previous.bottom - previous.top:
        return False  # more than a line's height of space: the blocks ended
    if len(row.segments) == 2:
        left, right = row.segments
        new = (max(g_left, left.right), min(g_right, right.left))
        if new[0] < new[1]:
            region.rows.append(row)
            region.gutter = new
            return True
        return False
    if len(row.segments) == 1:
        only = row.segments[0]
        if only.right <= g_left or only.left >= g_right:
            region.rows.append(row)
            return True
    return False


def _close(region: _Region) -> list[Row | _Region]:
    """A finished region: read block by block when both sides are text, else row by row."""
    pairs = [row for row in region.rows if len(row.segments) == 2]
    if len(pairs) >= 2 and sum(not _labels_value(row) for row in pairs) > len(pairs) / 2:
        region.split = True
        return [region]
    return list(region.rows)


def _labels_value(row: Row) -> bool:
    """Whether the row's left segment is the label of its right one ("Invoice date:   05.03.2018")."""
    left, right = (s.text for s in row.segments)
    if _LABEL_END.search(left):
        return True
    right_letters = len(_LETTER.findall(right))
    return bool(_DIGIT.search(right)) and right_letters <= len(right) / 3 and not _DIGIT.search(left)


def _render(segments: Sequence[Segment], left_edge: float, char_width: float) -> str:
    """Segments at their columns, so that column-aware rules can still line things up."""
    line = ""
    for segment in segments:
        column = round((segment.left - left_edge) / char_width)
        if line:
            column = max(column, len(line) + 2)
        line = line.ljust(column) + segment.text if line else " " * max(column, 0) + segment.text
    return line
