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

import bisect
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
# A value opens with its number, perhaps after a sign, a currency symbol or code ("-21,25", "€ 12", "EUR 1.234,50").
_VALUE_START = re.compile(r"^\W{0,2}(?:[A-Z]{3}\s?)?[-+(]?\d")


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
    """Consecutive rows of one or two segments that leave a band free (the gutter) between two sides.

    ``first_end`` and ``last_start`` are the leftmost right edge and the rightmost left edge of its
    segments: a band has text on its left exactly when some segment ends before it, so these two
    say it without reading every row again.
    """

    rows: list[Row] = field(default_factory=list)
    bands: list[tuple[float, float]] = field(default_factory=list)
    first_end: float = float("inf")
    last_start: float = float("-inf")

    def take(self, row: Row) -> None:
        self.rows.append(row)
        self.first_end = min(self.first_end, *(s.right for s in row.segments))
        self.last_start = max(self.last_start, *(s.left for s in row.segments))


def page_lines(words: Iterable[Word], *, gap: float | None = None) -> list[str]:
    """The page's lines in reading order, side-by-side text blocks one after the other.

    ``gap`` is the width that separates segments, in the words' unit; by default
    ``SEGMENT_GAP`` average character widths. Where rows stand apart by more than a line, a
    blank line says so: a block's end is visible to the rules.
    """
    words = [w for w in words if w.text.strip()]
    if not words:
        return []
    char_width = statistics.median(w.char_width for w in words) or 1.0
    gap = gap if gap is not None else SEGMENT_GAP * char_width
    rows = _rows(words, gap)
    left_edge = min(row.left for row in rows)
    lines: list[str] = []
    previous: Row | None = None
    for item in _regions(rows, gap):
        first = item if isinstance(item, Row) else item.rows[0]
        if previous is not None and first.top - previous.bottom > 0.8 * (previous.bottom - previous.top):
            lines.append("")
        if isinstance(item, Row):
            lines.append(_render(item.segments, left_edge, char_width))
            previous = item
            continue
        band = max(item.bands, key=lambda b: b[1] - b[0])
        for side in (lambda s: s.right <= band[0], lambda s: s.left >= band[1]):
            if lines and lines[-1]:
                lines.append("")
            last: Row | None = None
            for row in item.rows:
                segments = [s for s in row.segments if side(s)]
                if not segments:
                    continue
                if last is not None and row.top - last.bottom > 0.8 * (last.bottom - last.top):
                    lines.append("")
                lines.append(_render(segments, left_edge, char_width))
                last = row
        lines.append("")
        previous = item.rows[-1]
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
    """Layout text (columns marked by runs of spaces) read as a person would."""
    return page_lines(words_of_layout_text(text), gap=float(TEXT_SEGMENT_GAP))


def _rows(words: Sequence[Word], gap: float) -> list[Row]:
    """Group words by baseline, then cut each row at wide gaps.

    A word joins a recent row whose band it mostly shares and where it collides with no word
    already placed: two lines printed close together (a bold name above its street) share some
    height, never the same spot. A row keeps its words ordered by their left edge, so a collision
    is looked for among the neighbours of the word's place only: a hostile page of many thousand
    words on one baseline costs n log n, not n².
    """
    groups: list[_Group] = []
    for word in sorted(words, key=lambda w: ((w.top + w.bottom) / 2, w.left)):
        home = next((g for g in reversed(groups[-3:]) if _same_band(g.first, word) and not g.collides(word)), None)
        if home is None:
            groups.append(_Group(word))
        else:
            home.add(word)
    groups.sort(key=lambda g: statistics.median((w.top + w.bottom) / 2 for w in g.words))
    rows = []
    for group in groups:
        segments = [Segment([group.words[0]])]
        for word in group.words[1:]:
            if word.left - segments[-1].right >= gap:
                segments.append(Segment([word]))
            else:
                segments[-1].words.append(word)
        rows.append(Row(segments, min(w.top for w in group.words), max(w.bottom for w in group.words)))
    return rows


class _Group:
    """The words of one row while rows are formed, ordered by their left edge."""

    def __init__(self, first: Word) -> None:
        self.first = first
        self.words = [first]
        self.lefts = [first.left]

    def add(self, word: Word) -> None:
        at = bisect.bisect(self.lefts, word.left)
        self.lefts.insert(at, word.left)
        self.words.insert(at, word)

    def collides(self, word: Word) -> bool:
        at = bisect.bisect(self.lefts, word.left)
        return any(_overlap(w, word) for w in self.words[max(0, at - 2) : at + 2])


def _same_band(first: Word, word: Word) -> bool:
    overlap = min(first.bottom, word.bottom) - max(first.top, word.top)
    return overlap >= 0.5 * min(first.bottom - first.top, word.bottom - word.top)


def _overlap(w: Word, word: Word) -> bool:
    return min(w.right, word.right) - max(w.left, word.left) > 0.3 * min(w.right - w.left, word.right - word.left)


def _regions(rows: Sequence[Row], gap: float) -> list[Row | _Region]:
    """Rows in order, with runs of rows that share a gutter gathered into regions.

    A table row (three or more segments, or a label and its value) ends a region. A row of one or
    two segments joins the region while some band at least ``gap`` wide stays free of every row's
    text, with text on both sides of it; a blank stretch taller than a line ends a region too.
    """
    out: list[Row | _Region] = []
    region: _Region | None = None
    for row in rows:
        if region is not None:
            bands = _free_bands(region, row, gap)
            if bands:
                region.take(row)
                region.bands = bands
                continue
            out.extend(_close(region))
            region = None
        if _is_table_row(row):
            out.append(row)
        else:
            region = _Region(bands=_own_bands(row, gap))
            region.take(row)
    if region is not None:
        out.extend(_close(region))
    return out


def _own_bands(row: Row, gap: float) -> list[tuple[float, float]]:
    """The gutter candidates a row leaves: between its two segments, or on either side of a single one."""
    if len(row.segments) == 2:
        return [(row.segments[0].right, row.segments[1].left)]
    return [(float("-inf"), row.left), (row.segments[0].right, float("inf"))]


def _free_bands(region: _Region, row: Row, gap: float) -> list[tuple[float, float]]:
    """The region's bands that ``row`` leaves at least ``gap`` wide, or none if it cannot join.

    While all the region's text is on one side, the open-ended bands beside it stay candidates;
    once text stands on both sides of a band, only such two-sided bands count.
    """
    previous = region.rows[-1]
    if _is_table_row(row) or row.top - previous.bottom > 2.2 * (previous.bottom - previous.top):
        return []
    bands = region.bands
    for seg in row.segments:
        cut = []
        for low, high in bands:
            if seg.right <= low or seg.left >= high:
                cut.append((low, high))
                continue
            if seg.left - low >= gap:
                cut.append((low, seg.left))
            if high - seg.right >= gap:
                cut.append((seg.right, high))
        bands = cut
    first_end = min(region.first_end, *(s.right for s in row.segments))
    last_start = max(region.last_start, *(s.left for s in row.segments))
    two_sided = [(low, high) for low, high in bands if first_end <= low and last_start >= high]
    return two_sided or [(low, high) for low, high in bands if low == float("-inf") or high == float("inf")]


def _close(region: _Region) -> list[Row | _Region]:
    """A finished region: read block by block when both sides hold two rows or more, else row by row."""
    region.bands = [(low, high) for low, high in region.bands if low != float("-inf") and high != float("inf")]
    if not region.bands or len(region.rows) < 2:
        return list(region.rows)
    low, high = max(region.bands, key=lambda b: b[1] - b[0])
    left_rows = sum(any(s.right <= low for s in row.segments) for row in region.rows)
    right_rows = sum(any(s.left >= high for s in row.segments) for row in region.rows)
    if left_rows >= 2 and right_rows >= 2:
        return [region]
    return list(region.rows)


def _is_table_row(row: Row) -> bool:
    """A row read as a row whatever stands around it: three or more cells, or a label and its value."""
    return len(row.segments) > 2 or (len(row.segments) == 2 and _labels_value(row))


def _labels_value(row: Row) -> bool:
    """Whether the row's left segment is the label of its right one ("Invoice date:   05.03.2018").

    Two headings side by side ("Seller:   Bill to:") are not: they head blocks.
    """
    left, right = (s.text for s in row.segments)
    if _LABEL_END.search(left) or right.startswith((":", "：")):  # the colon may stand with either side
        return not _LABEL_END.search(right)
    return (
        bool(_VALUE_START.match(right)) and len(_LETTER.findall(right)) <= len(right) / 4
    )  # a date, an amount, a number


def _render(segments: Sequence[Segment], left_edge: float, char_width: float) -> str:
    """Segments at their columns, so that column-aware rules can still line things up."""
    line = ""
    for segment in segments:
        column = round((segment.left - left_edge) / char_width)
        if line:
            column = max(column, len(line) + 2)
        line = line.ljust(column) + segment.text if line else " " * max(column, 0) + segment.text
    return line
