"""Finding the figures a sentence states and checking each against the week's facts.

The summary may phrase the facts but never add a figure, so every run of digits in its text is a
claim that must be a fact value. The rules, and why:

- Only digits count. "two risks" is left alone: small counting words are how prose reads, and
  a number written in words is rare enough in generated summaries that it is not worth a parser.
- A figure is written ``1234``, ``1,234`` (comma thousands, no spaces) or ``18.25``; a figure of
  the form ``412,398`` is read as one number, so a list without spaces fails rather than passes.
- Rounding may go as far as the text's last digit and no further: 18.25 may read 18, 18.2, 18.3 or
  18.25 (either way of breaking the tie), never 19. A bare ``70`` states the units, so 70.6 must
  read 71; after "about", "around", "roughly", "nearly", "~" and the like, trailing zeros mark the
  precision too, so "about 70" (tens) and "about 400" (hundreds, for 412) pass.
- A percentage (``94%``, ``94.1 %``, "percent", "percentage points", "pp") matches a fact holding a
  percentage (12.3) or a ratio in 0..1 (0.9412 reads 94%, 94.1%, 94.12%). A plain number never
  matches a ratio scaled by 100: "approval rate 94" is not a stated share.
- Signs are ignored and facts compared by absolute value: "down 3", "-3" and "fell 3%" state the
  size of a change; its direction is in words the digits cannot check.
- Not figures, so removed before the search: ISO weeks (2026-W47), dates (2026-11-16, 16/11/2026,
  16 November 2026, Nov 16), clock times (09:30, 9 am), ordinals (3rd, 90th), digits glued to a
  preceding letter (p90, Q3, v2), and any fact key or text fact value holding letters and digits
  (a category "Tier 2") quoted verbatim: those digits are names, not claims.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

Facts = Mapping[str, int | float | str | None]

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\.?"
_ORDINAL = r"(?:st|nd|rd|th)"
_NOT_FIGURES = re.compile(
    "|".join(
        [
            r"\b\d{4}-[Ww]\d{1,2}(?:-\d)?\b",  # ISO week, ISO week date
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",  # ISO date, date-time
            r"\b\d{1,2}/\d{1,2}/\d{2,4}\b",
            rf"\b\d{{1,2}}{_ORDINAL}?\s+{_MONTH}(?:,?\s+\d{{4}})?(?!\w)",  # 16 November 2026
            rf"\b{_MONTH}\s+\d{{1,2}}{_ORDINAL}?(?:,?\s+\d{{4}})?(?!\d)",  # Nov 16, 2026
            rf"\b{_MONTH}\s+\d{{4}}\b",  # November 2026
            r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[AaPp]\.?[Mm]\b\.?)?",  # 09:30, 9:30 pm
            r"\b\d{1,2}\s?[AaPp]\.?[Mm]\b\.?",  # 9 am, 5pm
            rf"\b\d+{_ORDINAL}\b",
        ]
    )
)
_NUMBER = re.compile(
    r"(?<![\w.])(?P<whole>\d{1,3}(?:,\d{3})+(?!\d|,\d)|\d+)(?:\.(?P<fraction>\d+))?"
    r"(?P<percent>\s?%|\s?(?:percent|per cent|percentage points?|pp)\b)?"
)
_HEDGE = re.compile(
    r"(?:^|\W)(?:about|around|roughly|approximately|approx\.|nearly|almost|some|circa|close to|~|≈)\s*$", re.IGNORECASE
)


@dataclass(frozen=True)
class Figure:
    """One stated figure: its absolute value and how precisely the text states it."""

    written: str
    value: Decimal
    exponent: int  # the place of the last stated digit: -2 for 18.25, 0 for 19, 1 for "about 70"
    percent: bool
    start: int


@dataclass(frozen=True)
class UnsupportedFigure:
    """A figure no fact backs; ``message`` is written for the model that has to correct it."""

    where: str
    written: str
    excerpt: str
    message: str


def numeric_facts(facts: Facts) -> dict[str, Decimal]:
    """The facts a figure can match, as exact decimals of their shortest repr (0.1 stays 0.1)."""
    found = {}
    for key, value in facts.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            found[key] = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return found


def _names(facts: Facts) -> list[str]:
    """Keys and text values holding both digits and letters: quoted verbatim, their digits are a name.
    A text value of digits alone ("7") is not a name, or it would hide every 7 in the summary."""
    names = {*facts, *(v for v in facts.values() if isinstance(v, str))}
    return sorted((n for n in names if re.search(r"\d", n) and re.search(r"[^\W\d_]", n)), key=len, reverse=True)


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: " " * len(m.group()), text)


def figures_in(text: str, facts: Facts = {}) -> list[Figure]:
    """The figures ``text`` states, after removing the forms listed in the module docstring."""
    masked = _blank(text, _NOT_FIGURES)
    names = _names(facts)
    if names:
        masked = _blank(masked, re.compile("|".join(map(re.escape, names)), re.IGNORECASE))
    found = []
    for match in _NUMBER.finditer(masked):
        whole, fraction = match["whole"].replace(",", ""), match["fraction"] or ""
        if fraction:
            exponent = -len(fraction)
        elif _HEDGE.search(masked[max(0, match.start() - 20) : match.start()]):
            exponent = len(whole) - len(whole.rstrip("0")) if whole.strip("0") else 0
        else:
            exponent = 0
        value = Decimal(f"{whole}.{fraction}" if fraction else whole)
        found.append(
            Figure(text[match.start() : match.end()], value, exponent, match["percent"] is not None, match.start())
        )
    return found


def matches(figure: Figure, values: Iterable[Decimal]) -> bool:
    """Whether some value, rounded to the figure's last stated digit, is the figure."""
    half = Decimal(5).scaleb(figure.exponent - 1)
    for value in map(abs, values):
        candidates = (value, value * 100) if figure.percent and value <= 1 else (value,)
        if any(abs(c - figure.value) <= half for c in candidates):
            return True
    return False


def describe(values: Mapping[str, Decimal], limit: int = 40) -> str:
    """``key=value`` pairs for an error message; fractions also as the percentage they may be written as."""
    parts = [f"{k}={v}" + (f" ({(v * 100).normalize():f}%)" if abs(v) < 1 and v else "") for k, v in values.items()]
    if not parts:
        return "none"
    more = f" and {len(parts) - limit} more in the facts" if len(parts) > limit else ""
    return ", ".join(parts[:limit]) + more


def unsupported(text: str, where: str, facts: Facts, cited: list[str] | None = None) -> list[UnsupportedFigure]:
    """The figures in ``text`` that no fact backs. With ``cited`` (a highlight's keys) a figure must
    match one of those facts: a figure that belongs to another metric is a swapped figure."""
    values = numeric_facts(facts)
    allowed = values if cited is None else {k: v for k, v in values.items() if k in cited}
    problems = []
    for figure in figures_in(text, facts):
        if matches(figure, allowed.values()):
            continue
        excerpt = text[max(0, figure.start - 30) : figure.start + len(figure.written) + 30].strip()
        stated = f"{where} states {figure.written} ({excerpt!r})"
        if cited is None:
            message = f"{stated} but no fact is {figure.written} at the stated precision; allowed figures are {describe(values)}"
        elif matches(figure, values.values()):
            message = f"{stated} but none of the facts it cites is {figure.written} ({describe(allowed)}): add the key of the fact it comes from"
        else:
            message = f"{stated} but no fact is {figure.written} at the stated precision; it cites {describe(allowed)}"
        problems.append(UnsupportedFigure(where, figure.written, excerpt, message))
    return problems
