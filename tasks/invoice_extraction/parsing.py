"""Parsing of the values inside invoice text: dates, money amounts, currencies, IBANs.

Invoices mix conventions (``1.234,56`` vs ``1,234.56``; ``03/04/2024`` means March in the US and
April elsewhere), so these helpers never decide from one token alone when the document can
settle it: the caller passes ``dayfirst`` decided once per document by ``detect_dayfirst``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from babel import Locale
from stdnum import numdb

from tasks.invoice_extraction.places import LOCALES

CENT = Decimal("0.01")

# Month names as CLDR writes them (wide and abbreviated, in running text and standing alone) in the
# languages invoices come in, with accents folded and "ä" as "ae" too, the way plain-text exports spell them.


def _month_names() -> dict[str, int]:
    names: dict[str, int] = {}
    for code in LOCALES:
        months = Locale.parse(code).months
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in months[context][width].items():
                    name = name.lower().rstrip(".")
                    folded = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
                    for spelling in (name, folded, name.replace("ä", "ae")):
                        names.setdefault(spelling, number)
    return names


MONTHS: dict[str, int] = _month_names()
_MONTH = "(?:" + "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True)) + r")\.?"

_ISO_DATE = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_NUM_DATE = re.compile(r"(?<![\d.])(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(?![\d])")
# "5. März 2024", "02/JAN/2017", "28 MAR 18": the year may be written with two digits after a month name.
_DAY_MONTH = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:st|nd|rd|th|er)?\.?[\s/-]+({_MONTH})[\s,/-]+(\d{{4}}|\d{{2}})(?![\d:])", re.IGNORECASE
)
_MONTH_DAY = re.compile(rf"(?<![\w])({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s+(\d{{4}})", re.IGNORECASE)

# Currencies recognised by code. A closed list, so that words like VAT or TTC never count.
ISO_CURRENCIES = frozenset(
    "USD EUR GBP MYR CHF PLN INR JPY CNY CAD AUD NZD SEK NOK DKK CZK HUF RON BGN SGD HKD ZAR "  # noqa: SIM905
    "AED SAR TRY BRL MXN IDR THB PHP KRW".split()
)
_SYMBOLS = {
    "$": "USD",
    "US$": "USD",
    "€": "EUR",
    "£": "GBP",
    "RM": "MYR",
    "₹": "INR",
    "Rs": "INR",
    "zł": "PLN",
    "¥": "JPY",
    "CHF": "CHF",
    "Fr.": "CHF",
}
_CURRENCY_TOKEN = re.compile(
    r"(?<![A-Za-z])("
    + "|".join(sorted(ISO_CURRENCIES))
    + r")(?![A-Za-z])|(US\$|[$€£₹¥])|(?<![A-Za-z])(RM|Rs\.?|zł)(?![A-Za-z])"
)

_NUMBER = (
    r"\d{1,3}(?:[,.'\u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?"  # grouped: 1,234.56 1.234,56
    r"|\d{1,3}(?: \d{3})+,\d{2}"  # space-grouped only with a decimal comma: 1 234,56
    r"|\d+[.,]\d{1,2}"  # plain with decimals
    r"|\d+"  # integer
    r"|\.\d{2}"  # cents alone, as tills print a rounding or the change: ".02"
)
_AMOUNT = re.compile(rf"(?<![\w.,/-])(?P<neg>[-\u2212(])?\s?(?P<num>{_NUMBER})(?![\w%]|[.,/:]\d|\s?%|\s?-\d)")

_HAS_DIGIT = re.compile(r"\d")
_TIME = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)")
_GLUED_CURRENCY = re.compile(r"(?<![A-Za-z])(RM|Rs\.?|" + "|".join(sorted(ISO_CURRENCIES)) + r")(?=\d)")


@dataclass(frozen=True)
class Money:
    """One amount found in a line, with the currency written next to it if any."""

    value: Decimal
    currency: str | None
    has_decimals: bool
    start: int = 0
    end: int = 0


def parse_amount(text: str) -> Decimal | None:
    """Parse one written amount (``1.234,56``, ``$1,245.50``, ``(12.00)``) to 2 decimal places."""
    found = find_amounts(text)
    return found[0].value if found else None


def _to_decimal(num: str) -> Decimal | None:
    """Decide which separator is the decimal mark: the last one, if 1-2 digits follow it."""
    num = re.sub(r"[\s'\u00a0\u202f]", "", num)
    last = max(num.rfind(","), num.rfind("."))
    if last >= 0 and len(num) - last - 1 in (1, 2):
        whole, frac = num[:last], num[last + 1 :]
    else:
        whole, frac = num, ""
    whole = whole.replace(",", "").replace(".", "")
    try:
        return Decimal(f"{whole}.{frac or '0'}").quantize(CENT)
    except InvalidOperation:
        return None


def find_amounts(line: str) -> list[Money]:
    """All money-like numbers in a line, left to right; dates and percentages are skipped."""
    return list(_amounts_of(line))


@lru_cache(maxsize=4096)
def _amounts_of(line: str) -> tuple[Money, ...]:
    """``find_amounts``, remembered: the extractor asks about the same lines many times."""
    if not _HAS_DIGIT.search(line):
        return ()
    masked = _TIME.sub(lambda m: "#" * len(m.group(0)), mask_dates(line))
    # "RM17.00": blank the currency's last letter so the number stands alone; positions stay put.
    masked = _GLUED_CURRENCY.sub(lambda m: m.group(1)[:-1] + " ", masked)
    result = []
    for m in _AMOUNT.finditer(masked):
        value = _to_decimal(m.group("num"))
        if value is None:
            continue
        if m.group("neg"):
            value = -value
        window = line[max(0, m.start() - 5) : m.end() + 5]
        decimals = bool(re.search(r"[.,]\d{1,2}$", m.group("num")))
        result.append(Money(value, currency_in(window), decimals, m.start(), m.end()))
    return tuple(result)


def mask_dates(line: str) -> str:
    """``line`` with every date blanked out by ``#`` (positions stay put), so no part of it reads as a number."""
    for pattern in (_ISO_DATE, _NUM_DATE, _DAY_MONTH, _MONTH_DAY):
        line = pattern.sub(lambda m: "#" * len(m.group(0)), line)
    return line


def currency_in(text: str) -> str | None:
    """The first currency written in ``text`` as an ISO code or a symbol."""
    m = _CURRENCY_TOKEN.search(text)
    if not m:
        return None
    token = next(g for g in m.groups() if g)
    return token if token in ISO_CURRENCIES else _SYMBOLS.get(token.rstrip("."), _SYMBOLS.get(token))


def detect_currency(text: str) -> str | None:
    """The most frequently written currency in the document (codes and symbols both count)."""
    counts: dict[str, int] = {}
    for m in _CURRENCY_TOKEN.finditer(text):
        token = next(g for g in m.groups() if g)
        code = token if token in ISO_CURRENCIES else _SYMBOLS.get(token.rstrip("."), _SYMBOLS.get(token))
        if code:
            counts[code] = counts.get(code, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def detect_dayfirst(text: str, *, hint: bool | None = None) -> bool:
    """Decide once per document whether ``01/02/2024`` is 1 February (day first) or 2 January.

    An unambiguous date (a part above 12) settles it; dotted dates are day-first by convention;
    otherwise the caller's language ``hint``; otherwise day-first unless the text uses dollars.
    """
    votes = 0
    for m in _NUM_DATE.finditer(text):
        first, sep, second = int(m.group(1)), m.group(2), int(m.group(3))
        if first > 12 >= second:
            return True
        if second > 12 >= first:
            return False
        if sep == ".":
            votes += 1
    if votes:
        return True
    if hint is not None:
        return hint
    return not re.search(r"\$|\bUSD\b", text)


def find_dates(line: str, dayfirst: bool) -> list[tuple[int, date]]:
    """All valid dates in a line as (position, date), in order of position."""
    found: list[tuple[int, date]] = []
    for m in _ISO_DATE.finditer(line):
        _add(found, m.start(), int(m.group(1)), int(m.group(2)), int(m.group(3)))
    for m in _NUM_DATE.finditer(line):
        a, b, y = int(m.group(1)), int(m.group(3)), int(m.group(4))
        y = y + 2000 if y < 100 else y
        day, month = (a, b) if dayfirst else (b, a)
        if month > 12 and day <= 12:  # the document's convention cannot hold for this one
            day, month = month, day
        _add(found, m.start(), y, month, day)
    for m in _DAY_MONTH.finditer(line):
        year = int(m.group(3))
        _add(found, m.start(), year + 2000 if year < 100 else year, _month(m.group(2)), int(m.group(1)))
    for m in _MONTH_DAY.finditer(line):
        _add(found, m.start(), int(m.group(3)), _month(m.group(1)), int(m.group(2)))
    found.sort(key=lambda item: item[0])
    return found


def parse_date(text: str, dayfirst: bool = True) -> date | None:
    """Parse the first date written in ``text``."""
    found = find_dates(text, dayfirst)
    return found[0][1] if found else None


def _month(name: str) -> int:
    return MONTHS.get(name.lower().rstrip("."), 0)


def _add(found: list[tuple[int, date]], pos: int, year: int, month: int, day: int) -> None:
    if any(p == pos for p, _ in found) or not 1900 <= year <= 2100:
        return
    try:
        found.append((pos, date(year, month, day)))
    except ValueError:
        pass


def iban_valid(candidate: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    s = re.sub(r"\s", "", candidate).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s):
        return False
    digits = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(digits) % 97 == 1


_IBAN_START = re.compile(r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?=[\sA-Z0-9])")
# A scan's misreadings of digits as letters ("DEO2", "NLSO") and back, for where the format wants the other.
_IBAN_START_READ = re.compile(r"(?<![A-Z0-9])[A-Z]{2}[\dOQDILSBZG]{2}(?=[\sA-Z0-9])")
_IBAN_CHARS = re.compile(r"[A-Z0-9 ]{0,42}")
_TO_DIGIT = str.maketrans("OQDILSBZG", "000115826")
_TO_LETTER = str.maketrans("0158", "OISB")


def find_iban(text: str) -> str | None:
    """The first IBAN in the text that passes the mod-97 check (spaces inside are allowed).

    Where none does, an IBAN a scan misread ("DEO2 1203 …", "NLSO INGB …") is read as the
    country's account format (python-stdnum's IBAN registry) says it must be written: digits where
    it wants digits, letters where it wants letters. The check digits must then hold, so a
    misreading is only ever undone, never invented.
    """
    upper = text.upper()
    for m in _IBAN_START.finditer(upper):
        compact = _iban_chars(upper, m.start())
        for length in range(len(compact), 14, -1):  # longest valid prefix wins
            if iban_valid(compact[:length]):
                return compact[:length]
    for m in _IBAN_START_READ.finditer(upper):
        repaired = _as_formatted(_iban_chars(upper, m.start()))
        if repaired is not None and iban_valid(repaired):
            return repaired
    return None


def _iban_chars(upper: str, start: int) -> str:
    chars = _IBAN_CHARS.match(upper, start)  # read in place: no copy of the rest of the text per candidate
    return chars.group(0).replace(" ", "")[:34] if chars else ""


def _as_formatted(compact: str) -> str | None:
    """``compact`` rewritten to its country's account format, or None for a country without IBANs."""
    kinds = _bban_kinds(compact[:2])
    if kinds is None or len(compact) < 4 + len(kinds):
        return None
    bban = "".join(
        c.translate(_TO_DIGIT) if kind == "n" else c.translate(_TO_LETTER) if kind == "a" else c
        for c, kind in zip(compact[4 : 4 + len(kinds)], kinds)
    )
    return compact[:2] + compact[2:4].translate(_TO_DIGIT) + bban


@lru_cache(maxsize=None)
def _bban_kinds(country: str) -> str | None:
    """Per position of the country's account number: ``n`` a digit, ``a`` a letter, ``c`` either."""
    info = numdb.get("iban").info(country)
    structure = info[0][1].get("bban") if info and info[0][0] == country else None
    if not structure:
        return None
    return "".join(kind * int(count) for count, kind in re.findall(r"(\d+)!?([nac])", structure))
