"""The item table of an invoice: one ``LineItem`` per row, read from the row's arithmetic.

A table is found by its heading row (a description word and a quantity, price or amount word,
in EN/DE/FR/NL) or, without one, by rows whose numbers multiply out: quantity x unit price =
amount. Rows are read until a total, subtotal or tax line. In a row the amount is the last
number; the quantity and unit price are the two earlier numbers whose product is the amount
(less a printed discount percentage), in either order, so "Widget 3 9.50 28.50" and
"Widget 9.50 21 % 3 PCS 28.50" read alike. The description is the row's text around them,
or the text lines just above a row that starts with its numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from tasks.invoice_extraction.models import LineItem
from tasks.invoice_extraction.parsing import mask_dates

_DESCRIPTION = re.compile(
    r"(?<![\w])(?:description|item|items|article|product|service|particulars|details|beschreibung|bezeichnung|artikel"
    r"|leistung|produkt|d[ée]signation|libell[ée]|produit|omschrijving|artikel|dienst)(?![\w])",
    re.IGNORECASE,
)
_QUANTITY = re.compile(
    r"(?<![\w])(?:qty|quantity|quantities|units?|hours|hrs|menge|anzahl|stk|quantit[ée]|qt[ée]|aantal|hoeveelheid)(?![\w])",
    re.IGNORECASE,
)
_PRICE = re.compile(
    r"(?<![\w])(?:(?:unit\s*)?price|rate|unit\s*cost|preis|einzelpreis|e-?preis|vk-?preis|nettopreis|prix|prijs"
    r"|stukprijs|tarif)(?![\w])",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"(?<![\w])(?:amount|total|line\s*total|betrag|gesamt|gesamtpreis|nettobetrag|zeilenbetrag|summe|montant|prix\s*ht"
    r"|bedrag|totaal)(?![\w])",
    re.IGNORECASE,
)
# A section's subtotal: the table may go on below it.
_SECTION_END = re.compile(r"^\W*(?:sub\s*-?\s*total|zwischensumme|sous-?\s*total|subtotaal)(?![\w])", re.IGNORECASE)
# Lines that end the table: totals, tax lines, payment lines (when they carry an amount).
_END = re.compile(
    r"^\W*(?:sub\s*-?\s*total|total|totaal|summe|zwischensumme|gesamt|nettobetrag|net\s*(?:total|amount)|amount\s*due"
    r"|balance|grand|tax\b|vat\b|gst\b|mwst|ust\b|umsatzsteuer|tva\b|btw\b|taxe\b|montant|sous-?\s*total"
    r"|positionssumme|rechnungssumme|belegsummen|payment|zahlung|r[èe]glement|betaling|amount\b|net\s*[àa]\s*payer)",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"(?<![\w.,/:-])-?\d{1,3}(?:([.,'])\d{3})*(?:[.,]\d+)?(?![\w/-]|[.,:]\d)|(?<![\w.,/:-])-?\d+(?:[.,]\d+)?(?![\w/-]|[.,:]\d)"
)
_PERCENT_AFTER = re.compile(r"^\s?%")
_LEADING_POSITION = re.compile(r"^\s*(?:pos\.?\s*)?\d{1,3}[.)]?\s+(?=\D)", re.IGNORECASE)
_NOISE = re.compile(r"[€$£¥₹]|(?<![A-Za-z])(?:EUR|USD|GBP|CHF|RM|Rs\.?)(?![A-Za-z])")
_UNIT_WORD = re.compile(
    r"^\s*(?:pcs?|pieces?|stk\.?|st\.?|units?|unit\(s\)|liters?|liter\(s\)|l|kg|g|m|m²|h|hrs?|hours?|days?|nights?"
    r"|rooms?|each|ea|stuks?)(?!\w)\.?",
    re.IGNORECASE,
)
_LETTERS = re.compile(r"[^\W\d_]{2,}")
_DIGIT_RUN = re.compile(r"\d+")
_DECIMAL = re.compile(r"\d[.,]\d{2}(?!\d)")
_CENT = Decimal("0.01")
_MAX_ROWS = 200


def read_line_items(lines: Sequence[str], decimal_comma: bool) -> list[LineItem]:
    """The rows of the document's item table; empty when no table is found."""
    start = _heading_row(lines)
    items: list[LineItem] = []
    pending: list[str] = []  # text lines above a row that starts with its numbers
    i = 0
    end = min(len(lines), (start or 0) + _MAX_ROWS)
    while i < end:
        line = lines[i]
        in_table = start is not None and i > start
        if not line:
            i += 1
            continue
        if items and _END.match(line) and _DECIMAL.search(mask_dates(line)) and not _SECTION_END.match(line):
            break
        row = _row(line, decimal_comma, strict=not in_table)
        if row is None and pending and len(_NUMBER.findall(line)) >= 2:
            for k in range(1, len(pending) + 1):  # a row whose text wrapped over the lines above
                row = _row(" ".join([*pending[-k:], line]), decimal_comma, strict=not in_table)
                if row is not None:
                    break
        if row is None and in_table and i + 1 < len(lines) and not _END.match(lines[i + 1]):
            joined = f"{line} {lines[i + 1]}"  # the amount wrapped onto the next line
            row = (
                _row(joined, decimal_comma, strict=False)
                if _NUMBER.search(lines[i + 1]) and not _LETTERS.search(lines[i + 1])
                else None
            )
            if row is not None:
                i += 1
        if row is None:
            if _LETTERS.search(line) and not _END.match(line) and len(line) < 120:
                pending = [*pending[-2:], line]
            elif _SECTION_END.match(line) or _END.match(line):
                pending = []
            i += 1
            continue
        description, quantity, unit_price, amount = row
        if not description and pending:
            description = _clean(" ".join(pending))
        items.append(LineItem(description=description or None, quantity=quantity, unit_price=unit_price, amount=amount))
        pending = []
        in_table = True
        i += 1
    return items


def _heading_row(lines: Sequence[str]) -> int | None:
    """The index of the table's heading row: a description word and another column's word."""
    for i, line in enumerate(lines):
        if len(line) > 160 or not _DESCRIPTION.search(line):
            continue
        kinds = bool(_QUANTITY.search(line)) + bool(_PRICE.search(line)) + bool(_AMOUNT.search(line))
        if kinds >= 1 and not re.search(r"\d[.,]\d", line):
            return i
    return None


def _row(line: str, decimal_comma: bool, *, strict: bool) -> tuple[str, Decimal | None, Decimal | None, Decimal] | None:
    """(description, quantity, unit price, amount) of a table row, when its numbers multiply out.

    Outside a table found by its headings (``strict``) the amount and price must be written with
    cents, so that phone numbers and dates ("+33 4 72 07 08 56") cannot pass for a row.
    """
    if len(_DIGIT_RUN.findall(line)) < 3:
        return None
    numbers: list[tuple[int, int, Decimal, bool]] = []  # start, end, value, written with cents
    percents: list[Decimal] = []
    for m in _NUMBER.finditer(mask_dates(line)):
        value = _to_decimal(m.group(0), decimal_comma)
        if value is None:
            continue
        if _PERCENT_AFTER.match(line, m.end()):
            percents.append(value)
        else:
            numbers.append((m.start(), m.end(), value, bool(re.search(r"[.,]\d{2}$", m.group(0)))))
    if len(numbers) < 3 or len(numbers) > 12:
        return None
    a_start, a_end, amount, amount_cents = numbers[-1]
    if _LETTERS.search(line[a_end:]) or (strict and not amount_cents):
        return None  # text after the last number: not a row of a table
    tolerance = max(_CENT, abs(amount) * Decimal("0.001"))
    # A discount is printed as a percentage or as a plain number column ("Disc.% 10.00").
    discounts = [Decimal(0), *percents, *(n[2] for n in numbers[:-1] if 0 < n[2] < 100)]
    best = None
    for discount in discounts:
        for j, (p_start, p_end, price, cents) in enumerate(numbers[:-1]):
            for k, (q_start, q_end, quantity, _) in enumerate(numbers[:-1]):
                if (
                    j == k
                    or quantity < 0
                    or (not quantity and amount)
                    or (not price and amount)
                    or (strict and not cents)
                ):
                    continue
                if not amount and not price and not quantity:
                    continue
                if abs(quantity * price * (1 - discount / 100) - abs(amount)) > tolerance:  # credit notes print -x
                    continue
                # A count is whole and a price has cents; nearer the amount is likelier.
                counted = bool(_UNIT_WORD.match(line, q_end))  # "3 PCS", "2 Nights"
                score = (
                    (quantity == quantity.to_integral_value())
                    + cents
                    + counted
                    + (not discount) * 2
                    + (k < j) / 2
                    + (j + k) / 100
                )
                if best is None or score > best[0]:
                    best = (score, (p_start, p_end), (q_start, q_end), price, quantity)
        if best is not None:
            break
    if best is None:
        return None
    _, price_span, quantity_span, price, quantity = best
    used = sorted([price_span, quantity_span, (a_start, a_end)])
    return _description(line, used), quantity, price, amount.quantize(_CENT)


def _description(line: str, used: list[tuple[int, int]]) -> str:
    """The row's text before its first used number; or, when the row starts with numbers, the text
    between them ("6 1 Small Business Suite 2010 5,39 5,39")."""
    before = _clean(_LEADING_POSITION.sub("", line[: used[0][0]]))
    if _LETTERS.search(before):
        return before
    between = line[used[0][1] : used[1][0]]
    between = _UNIT_WORD.sub("", between)
    between = _clean(re.sub(r"\s-?\d+(?:[.,]\d+)?\s*%", " ", between))
    return between if len(_LETTERS.findall(between)) >= 1 and len(between) > 3 else ""


def _clean(text: str) -> str:
    text = _NOISE.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip(" -:|,;*")


def _to_decimal(token: str, decimal_comma: bool) -> Decimal | None:
    """A number as printed; a lone separator followed by three digits is a thousands mark unless
    the document writes decimal commas/points that way ("0.025", "9,9000" are decimals)."""
    negative = token.startswith("-")
    token = token.lstrip("-").replace("'", "")
    dot, comma = token.rfind("."), token.rfind(",")
    if dot >= 0 and comma >= 0:
        decimal_mark = "." if dot > comma else ","
    elif dot >= 0 or comma >= 0:
        mark = "." if dot >= 0 else ","
        digits_after = len(token) - token.rfind(mark) - 1
        if token.count(mark) > 1:
            decimal_mark = ""
        elif digits_after != 3 or token.startswith("0"):
            decimal_mark = mark
        else:
            decimal_mark = mark if (mark == ",") == decimal_comma else ""
    else:
        decimal_mark = ""
    if decimal_mark:
        whole, _, frac = token.rpartition(decimal_mark)
        whole = whole.replace(",", "").replace(".", "")
        text = f"{whole}.{frac}"
    else:
        text = token.replace(",", "").replace(".", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return -value if negative else value
