"""What a router needs from a request's text: who wrote (e-mail, customer id), which order,
invoice or ticket it is about, amounts and dates. Found by their labels and shapes, in the
languages the team writes in; a number is taken only beside a label that says what it is."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from dateutil import parser as dates

# After its label, a number needs four characters or more: "order 12 boxes" counts, it names no order.
_ID = r"[:#]?\s*(?:no\.?|nr\.?|n°|number|num[ée]ro|nummer|id)?\s*[:#.]?\s*((?=[A-Z0-9/_.-]{4})[A-Z0-9][A-Z0-9/_.-]*\d[A-Z0-9/_-]*)"
_LABELLED = {
    "order_numbers": r"(?:order|bestellung|auftrag|commande|pedido|ordine)",
    "invoice_numbers": r"(?:invoice|inv|rechnung|facture|factura|fattura)",
    "ticket_numbers": r"(?:ticket|case|incident|reference|ref|vorgang|dossier)",
    "customer_ids": r"(?:customer|client|account|member|kunden|kundennummer|cliente)",
}
_PATTERNS = {name: re.compile(rf"\b{label}\b\s*{_ID}", re.IGNORECASE) for name, label in _LABELLED.items()}
_DIGIT = re.compile(r"\d")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_CURRENCY = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_CODES = r"USD|EUR|GBP|CHF|JPY|CAD|AUD|SEK|NOK|DKK|PLN|INR|MYR|RM"
_NUMBER = r"\d{1,3}(?:[ ,.'’]\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?:(?P<pre>[$€£¥₹]|\b(?:{_CODES})\b)\s?(?P<a>{_NUMBER})|(?P<b>{_NUMBER})\s?(?P<post>[$€£¥₹]|\b(?:{_CODES})\b))",
    re.IGNORECASE,
)
_DATE = re.compile(
    r"\b(?:\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}"
    r"|\d{1,2}(?:st|nd|rd|th)?\.?\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+\d{4}"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})\b",
    re.IGNORECASE,
)


def find_entities(text: str) -> dict[str, list[Any]]:
    """Each kind of entity found, in order of appearance, without repeats; kinds not found are left out."""
    found: dict[str, list[Any]] = {}
    emails = _unique(m.group(0) for m in _EMAIL.finditer(text)) if "@" in text else []
    if emails:
        found["emails"] = emails
    if not _DIGIT.search(text):  # every number, amount and date below has a digit: most requests need no more
        return found
    for name, pattern in _PATTERNS.items():
        values = _unique(m.group(1).rstrip(".-/") for m in pattern.finditer(text))
        if values:
            found[name] = values
    amounts = _amounts(text)
    if amounts:
        found["amounts"] = amounts
    days = _unique(d for d in (_date(m.group(0)) for m in _DATE.finditer(text)) if d)
    if days:
        found["dates"] = days
    return found


def _amounts(text: str) -> list[dict[str, str]]:
    out = []
    for m in _AMOUNT.finditer(text):
        sign = (m.group("pre") or m.group("post")).upper()
        value = _decimal(m.group("a") or m.group("b"))
        if value is not None:
            out.append({"amount": f"{value:.2f}", "currency": _CURRENCY.get(sign, "MYR" if sign == "RM" else sign)})
    return [dict(t) for t in _unique(tuple(sorted(a.items())) for a in out)]


def _decimal(number: str) -> Decimal | None:
    """ "1,234.50", "1.234,50", "1 234,50" and "12,5" as the amount they write."""
    digits = re.sub(r"[ '’]", "", number)
    last = max(digits.rfind(","), digits.rfind("."))
    if last != -1 and len(digits) - last - 1 in (1, 2):
        digits = re.sub(r"[.,]", "", digits[:last]) + "." + digits[last + 1 :]
    else:
        digits = re.sub(r"[.,]", "", digits)
    try:
        return Decimal(digits)
    except InvalidOperation:
        return None


def _date(written: str) -> str | None:
    """A date as ISO; numeric ones day first, as most of the world writes them, unless that cannot be."""
    try:
        day: date = dates.parse(written, dayfirst=not re.match(r"\d{4}-", written)).date()
    except (ValueError, OverflowError):
        return None
    return day.isoformat() if 1900 < day.year < 2200 else None


def _unique(values: Any) -> list[Any]:
    return list(dict.fromkeys(values))
