"""Choosing the amount payable among the many "totals" a receipt or invoice prints.

A receipt can print TOTAL QTY, SUB TOTAL, TOTAL GST, TOTAL before rounding, the rounded TOTAL,
CASH, CHANGE and a tax summary whose last row is labelled TOTAL again. The label alone cannot
tell which is the amount payable, but the arithmetic printed around it can:

* paid minus change is the amount payable (``CASH 50.00`` / ``CHANGE 4.10`` means 45.90);
* subtotal plus tax (plus any rounding) is the total;
* a rounding adjustment right below a total gives the rounded total printed after it;
* a total followed by a service charge, tax or rounding and then another, larger total is not
  the final one (``TOTAL 49.60`` / ``SERV CHARGE 4.96`` / ``GST 3.27`` / ``TOTAL 57.80``);
* a total is never smaller than another amount on its own line (``TOTAL 106.10 6.37`` is a row
  of a tax table: base and tax, not a total).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tasks.invoice_extraction.parsing import Money, find_amounts

# Labels of a total that ends the bill, in the languages the extractor reads.
_TOTAL_WORD = re.compile(
    r"(?<![\w])(?:(?<!sub)(?<!sub-)(?<!sub )total|totaal|nett|grand|payable|amount\s*due|balance\s*due|jumlah"
    r"|(?<=^)due|gesamtbetrag|zahlbetrag|bruttosumme|net\s*[àa]\s*payer|montant\s*ttc|te\s*betalen)(?![\w])",
    re.IGNORECASE,
)
# Totals that are not the amount payable: counts, subtotals, tax, amounts before tax or discount.
_NOT_PAYABLE = re.compile(
    r"(?<![\w])(?:qty|quantity|items?|units?|pcs|pieces|weight|sub\s*-?\s*total|discount|savings|saving|excl\w*|exkl\w*"
    r"|before|ohne|netto|ht|hors|points?|stamps?|\(?ex\)?|accepted|tendered|paid)(?![\w])",
    re.IGNORECASE,
)
# A tax amount ("TOTAL GST"), unless the label says the total includes the tax.
_TAX_WORD = re.compile(r"(?<![\w])(?:gst|tax|vat|mwst|ust|tva|btw|sst)(?![\w])", re.IGNORECASE)
# "TOTAL INCLUDES 6% GST 0.63": the tax within the total, not the total.
_TAX_IN_TOTAL = re.compile(r"total\s*includ\w*\s*[\d.,%\s]*(?:gst|tax|vat|mwst|ust|tva|btw|sst)", re.IGNORECASE)
_INCLUSIVE = re.compile(r"incl|inkl|inclusive|including|ttc|rounded|grand|payable|nett", re.IGNORECASE)
_ROUNDING = re.compile(
    r"(?<![\w])(?:round(?:ing|ed)?|rounding\s*adj\w*|adj(?:ustment)?|rundung|arrondi)(?![\w])", re.IGNORECASE
)
# Lines that add to a total printed above them: tax, service charge, rounding.
_CHARGE = re.compile(
    r"(?<![\w])(?:gst|sst|vat|tax|mwst|tva|service|serv\.?|svc|charge|round(?:ing)?|adj\w*)(?![\w])", re.IGNORECASE
)
_ROUNDING_STEP = Decimal("0.02")  # the most a rounding to five cents moves an amount
_TENDERED = re.compile(
    r"^\W*(?:cash|tender(?:ed)?|paid|payment|amount\s*paid|total\s*paid|received|accepted(?:\s*total)?|visa|master\s*card|mastercard|card|credit\s*card"
    r"|debit\s*card|e-?wallet|bar|bargeld|esp[èe]ces|contant)(?![\w])",
    re.IGNORECASE,
)
_CHANGE = re.compile(
    r"(?:^|\t|\s\s)\W*(?:your\s*)?(?:change(?:\s*due)?|cash\s*change|balance\s*change|r[üu]ckgeld|rendu|wisselgeld)(?![\w])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Candidate:
    """An amount printed next to a total label."""

    value: Decimal
    line: int
    inclusive: bool  # the label says the amount includes tax or rounding, or is the grand total


def total_candidates(lines: Sequence[str]) -> list[Candidate]:
    """Every amount labelled as a total that could be the amount payable, top to bottom."""
    found = []
    for i, line in enumerate(lines):
        m = _TOTAL_WORD.search(line)
        if not m:
            continue
        label = _label_around(line, m.start(), m.end())
        if (
            _NOT_PAYABLE.search(label)
            or _TAX_IN_TOTAL.search(label)
            or (_TAX_WORD.search(label) and not _INCLUSIVE.search(label))
        ):
            continue
        amounts = _money_after(line, m.end())
        if not amounts:
            below = next((s for s in lines[i + 1 : i + 3] if s.strip()), "")
            amounts = find_amounts(below) if not re.search(r"[A-Za-z]{4,}", below) else []
        amounts = [a for a in amounts if a.has_decimals] or amounts
        if not amounts:
            continue
        last = amounts[-1].value
        if last <= 0 or any(a.value > last for a in amounts):
            continue  # a row of a table (base, tax), not a total
        found.append(Candidate(last, i, bool(_INCLUSIVE.search(label))))
    return found


def payable(lines: Sequence[str], *, change_printed: bool = True) -> Decimal | None:
    """The amount tendered minus the change given, when the receipt prints both; with
    ``change_printed=False``, the amount tendered alone when no change is printed (exact payment,
    or a card: a last guess for a receipt that labels no total)."""
    tendered = change = None
    for i, line in enumerate(lines):
        if _CHANGE.search(line):
            amounts = find_amounts(line) or _amount_below(lines, i)
            if amounts and change is None:
                change = amounts[-1].value
        elif _TENDERED.match(line) and tendered is None:
            amounts = [a for a in find_amounts(line) or _amount_below(lines, i) if a.has_decimals]
            if amounts:
                tendered = amounts[-1].value
    if change is None and not change_printed and tendered:
        return tendered
    if tendered is None or change is None or change < 0 or tendered <= change:
        return None
    return tendered - change


def reconcile_total(
    lines: Sequence[str],
    labelled: tuple[Decimal, float] | None,
    subtotal: Decimal | None,
    tax: Decimal | None,
) -> tuple[Decimal, float] | None:
    """Check the labelled total against the receipt's arithmetic; replace it when the
    arithmetic points at another labelled amount."""
    candidates = total_candidates(lines)
    values = {c.value for c in candidates}
    evidence = []
    paid = payable(lines)
    if paid is not None:
        evidence.append(paid)
    if subtotal is not None and tax is not None:
        evidence.append(subtotal + tax)
    if labelled is not None and labelled[0] in evidence:
        return labelled[0], max(labelled[1], 0.95)
    for value in evidence:
        if value in values:
            return value, 0.9
    if subtotal is not None and tax is not None and any(_ROUNDING.search(line) for line in lines):
        near = [v for v in values if abs(v - (subtotal + tax)) <= _ROUNDING_STEP]
        if len(near) == 1:  # subtotal plus tax, rounded to the nearest five cents
            return near[0], 0.85
    if paid is not None and _printed_before_payment(lines, paid):
        return paid, 0.8
    if labelled is not None and labelled[0] in values:
        later = _charged_after(lines, candidates, labelled[0])
        return _rounded(lines, later, 0.8) if later is not None else _rounded(lines, labelled[0], labelled[1])
    inclusive = [c for c in candidates if c.inclusive]
    if inclusive:
        return _rounded(lines, inclusive[-1].value, 0.75)
    if labelled is not None:
        return labelled
    if candidates:
        return _rounded(lines, candidates[-1].value, 0.6)
    return None


def _charged_after(lines: Sequence[str], candidates: Sequence[Candidate], total: Decimal) -> Decimal | None:
    """``TOTAL 49.60`` / ``SERVICE 10% 4.96`` / ``GST 3.27`` / ``TOTAL 57.80``: a total that charges
    were added to, printed again below them; the last such total, or None."""
    first = next((c.line for c in candidates if c.value == total), None)
    if first is None:
        return None
    later = None
    for c in candidates:
        between = lines[first + 1 : c.line]
        if c.line > first and c.value > total and any(_CHARGE.search(line) for line in between):
            later = c.value
    return later


def _rounded(lines: Sequence[str], total: Decimal, confidence: float) -> tuple[Decimal, float]:
    """``TOTAL 60.31`` / ``ROUNDING -0.01`` / ``60.30``: the rounded amount, when it is printed."""
    for i, line in enumerate(lines):
        if not any(a.value == total for a in find_amounts(line)):
            continue
        for j in range(i + 1, min(i + 3, len(lines))):
            if not _ROUNDING.search(lines[j]):
                continue
            amounts = find_amounts(lines[j])
            if not amounts or amounts[-1].value == 0:
                return total, confidence
            for rounded in (total + amounts[-1].value, total - abs(amounts[-1].value)):  # "-RM0.02" loses its sign
                if any(
                    a.value == rounded for k in range(j, min(j + 4, len(lines))) for a in find_amounts(lines[k])[-1:]
                ):
                    return rounded, confidence
        return total, confidence
    return total, confidence


def _amount_below(lines: Sequence[str], i: int) -> list[Money]:
    """``CHANGE`` / ``0.00``: the amount alone on the next line, when the label's line has none."""
    below = lines[i + 1] if i + 1 < len(lines) else ""
    return find_amounts(below) if not re.search(r"[A-Za-z]{3,}", below) else []


def _label_around(line: str, start: int, end: int) -> str:
    """The label a total word belongs to: its table cell, up to the first amount after it."""
    before = re.split(r"\t|\s{2,}|\d", line[:start])[-1]
    after = line[end:]
    amounts = find_amounts(after)
    return before + line[start:end] + (after[: amounts[0].start] if amounts else after)


def _money_after(line: str, start: int) -> list[Money]:
    return [a for a in find_amounts(line) if a.start >= start]


def _printed_before_payment(lines: Sequence[str], value: Decimal) -> bool:
    """Whether ``value`` is printed as the last amount of a line above the payment lines."""
    for line in lines:
        if (_TENDERED.match(line) and find_amounts(line)) or _CHANGE.search(line):
            return False  # a bare "CASH" under the title names how the bill is paid, not a payment line
        amounts = find_amounts(line)
        if amounts and amounts[-1].value == value and amounts[-1].has_decimals:
            return True
    return False


def split_of_total(lines: Sequence[str], total: Decimal) -> tuple[Decimal, Decimal] | None:
    """Net and tax read from a row ``net  tax  gross`` whose gross is the total (a summary row
    such as ``Total 24.99 5.00 29.99`` or a tax table's ``21% 41.31 8.68 49.99``)."""
    for line in lines:
        amounts = [a.value for a in find_amounts(line) if a.has_decimals]
        for k in range(len(amounts) - 2):
            net, tax, gross = amounts[k : k + 3]
            if gross == total and net > 0 and tax >= 0 and net + tax == gross:
                return net, tax
    return None
