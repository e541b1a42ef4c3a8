"""A field read from words OCR was unsure of is as unsure as those words.

The backends (rules, LLM) read text and say how sure they are of where a value came from, not of
the characters themselves: on a scan, "4711" may have been "4714". So after a backend has read an
OCR'd document, each field's confidence is multiplied by the confidence of the words its value
was printed in. The value is looked for among the words in reading order, as a run of consecutive
words that spells it (amounts and dates are compared by value, so "1.234,56" is 1234.56 and
"05.03.2018" is 2018-03-05); where it appears more than once, the best-read appearance counts,
and a run is as sure as its least sure word. A value found nowhere (computed, or put together from
words far apart) is taken to be as sure as the document's words on average.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from tasks.invoice_extraction.layout import Word
from tasks.invoice_extraction.models import InvoiceFields
from tasks.invoice_extraction.parsing import currency_in, find_amounts, find_dates

MAX_RUN = 12  # words one value may span (a long vendor name or address line)
_NOT_ALNUM = re.compile(r"[\W_]+")


def adjusted_confidence(fields: InvoiceFields, confidence: dict[str, float], words: Sequence[Word]) -> dict[str, float]:
    """``confidence`` with every field lowered by the confidence of the OCR words it was read from;
    unchanged when there are no words (nothing was OCR'd)."""
    if not words:
        return dict(confidence)
    mean = sum(w.confidence for w in words) / len(words)
    adjusted = {}
    for name, score in confidence.items():
        value = getattr(fields, name, None)
        found = _value_confidence(name, value, words) if value not in (None, "", []) else None
        adjusted[name] = round(score * (found if found is not None else mean), 4)
    return adjusted


def _value_confidence(name: str, value: Any, words: Sequence[Word]) -> float | None:
    """The confidence of the best-read run of words that spells ``value``; None if none does."""
    spells = _matcher(name, value)
    if spells is None:
        return None
    best = None
    for start in range(len(words)):
        text = ""
        for end in range(start, min(start + MAX_RUN, len(words))):
            text = f"{text} {words[end].text}" if text else words[end].text
            verdict = spells(text)
            if verdict is None:
                break  # the run has gone past the value
            if verdict:
                score = min(w.confidence for w in words[start : end + 1])
                best = score if best is None else max(best, score)
                break
    return best


def _matcher(name: str, value: Any) -> Callable[[str], bool | None] | None:
    """A test of a run's text: True when it spells ``value``, False when it may with more words,
    None when more words cannot help."""
    if isinstance(value, Decimal):
        wanted = abs(value)
        return lambda text: (
            any(abs(m.value) == wanted for m in find_amounts(text)) or (None if len(text) > 40 else False)
        )
    if isinstance(value, date):
        return lambda text: (
            any(d == value for dayfirst in (True, False) for _, d in find_dates(text, dayfirst))
            or (None if len(text) > 40 else False)
        )
    if not isinstance(value, str):
        return None
    if name == "currency":
        return lambda text: currency_in(text) == value or None
    target = _NOT_ALNUM.sub("", value).upper()
    if not target:
        return None

    def spells(text: str) -> bool | None:
        seen = _NOT_ALNUM.sub("", text).upper()
        if target in seen:
            return True
        return False if target.startswith(seen) or _overlaps(seen, target) else None

    return spells


def _overlaps(seen: str, target: str) -> bool:
    """Whether ``seen`` ends with the start of ``target``: the value may begin inside the run's first word."""
    return any(seen.endswith(target[:k]) for k in range(1, min(len(seen), len(target)) + 1))
