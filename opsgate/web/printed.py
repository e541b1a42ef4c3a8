"""The forms a proposed value is printed in, as one pattern per value: what the review screen looks
for in a document to mark where a value stands.

Not one template's forms: an amount in its usual groupings and decimal marks ("1,234.50",
"1.234,50", "1 234,50"), a date in its numeric and named-month forms in the languages invoices come
in, a currency code also as its sign ("EUR", "€"), any other string case-insensitively with runs of
whitespace matched loosely, never inside a longer word or number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel.dates import get_month_names
from babel.numbers import get_currency_symbol, list_currencies

LOCALES = ("en", "de", "fr", "nl", "es", "it")  # whose month names and currency signs are looked for
_AMOUNT = re.compile(r"[+-]?(?:0|[1-9]\d*)(?:\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def value_pattern(value: object) -> re.Pattern[str] | None:
    """A case-insensitive pattern for the printed forms of ``value``; None for a value not worth
    looking for (None, a bool, a collection, or under two characters: those match everywhere)."""
    if value is None or isinstance(value, (bool, Mapping, list, tuple, set, frozenset)):
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return re.compile(_date_source(value), re.IGNORECASE)
    text = str(value).strip()
    if len(text) < 2:
        return None
    if isinstance(value, (int, float, Decimal)) or _AMOUNT.fullmatch(text):
        return re.compile(_amount_source(Decimal(text)), re.IGNORECASE) if _finite(text) else None
    if text.isupper() and text in _currencies():  # "EUR", not the word "all" (ALL is a currency too)
        signs = sorted({get_currency_symbol(text, locale) for locale in LOCALES} - {text}, key=len)
        return re.compile("|".join([*map(re.escape, reversed(signs)), _literal_source(text)]), re.IGNORECASE)
    if _ISO_DATE.fullmatch(text):
        try:
            return re.compile(_date_source(date.fromisoformat(text)), re.IGNORECASE)
        except ValueError:
            pass  # "2024-13-45" is no date: looked for as written
    return re.compile(_literal_source(text), re.IGNORECASE)


def _finite(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def _literal_source(text: str) -> str:
    """The text as written, any run of whitespace standing for any other, not inside a longer word."""
    body = r"\s+".join(re.escape(token) for token in text.split())
    before = r"(?<!\w)" if re.match(r"\w", text) else ""
    after = r"(?!\w)" if re.search(r"\w$", text) else ""
    return f"{before}{body}{after}"


def _amount_source(number: Decimal) -> str:
    """An amount grouped by thousands or not, with a decimal point or comma, with its decimals as
    given, as significant, or two ("1234.5", "1234.50"); an integral one also bare ("1234", "100,-")
    when that is two digits or more."""
    whole, _, given = f"{abs(number):f}".partition(".")
    significant = given.rstrip("0")
    fractions = {given, significant, significant.ljust(2, "0")} - {""}
    groups = [whole[max(0, end - 3) : end] for end in range(len(whole), 0, -3)][::-1]
    wholes = [(whole, "[.,]")]
    if len(groups) > 1:
        for separator, decimal in ((",", r"\."), (r"\.", ","), ("[ \u00a0\u202f]", "[.,]"), ("['\u2019]", "[.,]")):
            wholes.append((separator.join(groups), decimal))
    forms = []
    for digits, decimal in wholes:
        forms += [f"{digits}{decimal}{fraction}" for fraction in sorted(fractions, key=len, reverse=True)]
        if not significant:
            forms.append(f"{digits}(?:{decimal}-)?" if len(whole) >= 2 else f"{digits}{decimal}-")
    # not the tail of a longer number ("1.234,50" holds no 234.50), nor its head ("1234.50" no 1234)
    return r"(?<!\d)(?<!\d[.,'\u00a0\u202f])(?:" + "|".join(forms) + r")(?!\d)(?![.,'\u00a0\u202f]\d)"


def _date_source(day: date) -> str:
    """A date day-first, month-first or year-first with dots, slashes or dashes, with a two- or
    four-digit year, or with its month named ("5 March 2024", "Mar 5, 2024", "5. März 2024")."""
    d, m = f"0?{day.day}" if day.day < 10 else str(day.day), f"0?{day.month}" if day.month < 10 else str(day.month)
    year, short = str(day.year), f"{day.year % 100:02d}"
    y = f"(?:{year}|'?{short})"
    forms = []
    for sep in (r"\.\s?", "/", "-"):
        forms += [f"{d}{sep}{m}{sep}{y}", f"{m}{sep}{d}{sep}{y}", f"{year}{sep}{m}{sep}{d}"]
    names = "|".join(re.escape(name) for name in _month_names(day.month))
    forms.append(rf"{d}(?:st|nd|rd|th|er|\.)?(?:\s*of)?[\s/-]*(?:{names})\.?[\s/,-]*{y}")
    forms.append(rf"(?:{names})\.?[\s/-]*{d}(?:st|nd|rd|th|\.)?,?[\s/-]*{y}")
    return r"(?<![\w])(?:" + "|".join(forms) + r")(?!\d)"


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@lru_cache(maxsize=12)
def _month_names(month: int) -> tuple[str, ...]:
    """The month's names and abbreviations in the languages invoices come in, longest first."""
    names = {
        get_month_names(width, context, locale)[month].lower().rstrip(".")
        for locale in LOCALES
        for width in ("wide", "abbreviated")
        for context in ("format", "stand-alone")
    }
    return tuple(sorted(names, key=len, reverse=True))
