"""The amounts of an invoice, read together: the total, what was prepaid and is still due, the net,
the tax and the line items.

Each is looked for by its label first; then they are checked against each other and fill each
other's gaps (a total from what is due plus what was prepaid, a net from the total less the tax,
a subtotal confirmed by the rows adding up to it), which is why they are found in one piece.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tasks.invoice_extraction import label_patterns as L
from tasks.invoice_extraction.checks import CONFIRMED
from tasks.invoice_extraction.label_search import GENERIC, GUESSED, SPECIFIC, LabelSearch, labelled
from tasks.invoice_extraction.line_items import read_line_items
from tasks.invoice_extraction.models import LineItem
from tasks.invoice_extraction.parsing import find_amounts
from tasks.invoice_extraction.totals import payable, reconcile_total, split_of_total

# An integer followed by a word other than a currency counts something ("10 days", "3 Stk").
_COUNTED = re.compile(r"\s*(?!(?:EUR|USD|GBP|CHF|MYR|RM)\b)[^\W\d_]{2,}")
_COMMA_CENTS = re.compile(r"\d,\d{2}(?![\d])")
_POINT_CENTS = re.compile(r"\d\.\d{2}(?![\d.])")
_TAX_INCLUDED = re.compile(
    r"(?<![\w])(?:incl\w*|inkl\w*|ttc|tax\s*included|including\s*(?:vat|tax|gst))(?![\w])", re.IGNORECASE
)

Sum = tuple[Decimal, float]  # an amount as read, and how sure the reading is
Rows = tuple[list[LineItem], float]  # the line items, and how sure they are


@dataclass(frozen=True)
class Sums:
    """A document's amounts as read, each with its confidence; ``None`` where one was not found."""

    line_items: Rows | None
    total: Sum | None
    prepaid: Sum | None
    amount_due: Sum | None
    subtotal: Sum | None
    tax_total: Sum | None


def read_sums(lines: Sequence[str], text: str) -> Sums:
    """The amounts by their labels, then checked against and completed from each other."""
    due_search = LabelSearch(exclude=L.TOTAL_EXCLUDE, bottom_up=True)
    due = labelled(lines, L.AMOUNT_DUE, _total_value, _amount_only, due_search)
    prepaid = _prepaid(lines)
    total = _labelled_total(lines, due, prepaid)
    subtotal = labelled(lines, L.SUBTOTAL, _last_amount, _amount_only, LabelSearch(bottom_up=True))
    tax_search = LabelSearch(exclude=L.TAX_LINE_EXCLUDE, bottom_up=True, generic_last=True)
    tax = labelled(lines, L.TAX_TOTAL, _last_amount, _amount_only, tax_search)
    total = _reconciled_total(lines, total, subtotal, tax)
    subtotal, tax = _net_and_tax(lines, total, subtotal, tax)
    items, subtotal = _line_items(lines, text, total, subtotal, tax)
    amount_due = due or ((total[0] - prepaid[0], GUESSED) if total and prepaid else None)
    return Sums(line_items=items, total=total, prepaid=prepaid, amount_due=amount_due, subtotal=subtotal, tax_total=tax)


def _prepaid(lines: Sequence[str]) -> Sum | None:
    """What was paid before, as a positive amount: it is often printed as a deduction."""
    prepaid = labelled(lines, L.PREPAID, _last_amount, _amount_only, LabelSearch(bottom_up=True))
    return (abs(prepaid[0]), prepaid[1]) if prepaid and prepaid[0] else None


def _labelled_total(lines: Sequence[str], due: Sum | None, prepaid: Sum | None) -> Sum | None:
    """By a specific label; else what is due plus what was paid before; else by a generic label ("Total")."""
    total = labelled(lines, L.TOTAL_SPECIFIC, _total_value, _amount_only, LabelSearch(exclude=L.TOTAL_EXCLUDE))
    if total is None and due is not None:  # the gross is what is due plus what was paid before
        total = (due[0] + prepaid[0], min(due[1], prepaid[1])) if prepaid else due
    generic = LabelSearch(exclude=L.TOTAL_EXCLUDE, bottom_up=True, generic=True)
    return total or labelled(lines, L.TOTAL_GENERIC, _total_value, _amount_only, generic)


def _reconciled_total(lines: Sequence[str], total: Sum | None, subtotal: Sum | None, tax: Sum | None) -> Sum | None:
    """The labelled total checked against the arithmetic printed around it (``totals``)."""
    total = reconcile_total(lines, total, subtotal[0] if subtotal else None, tax[0] if tax else None)
    if total is not None:
        return total
    # a till receipt that names no total: what was paid less the change, else its only sum, else what was tendered
    paid = payable(lines)
    if paid is not None:
        return paid, GUESSED
    if subtotal is not None and (tax is None or tax[0] == 0):
        return subtotal[0], GUESSED
    tendered = payable(lines, change_printed=False)
    return (tendered, GUESSED) if tendered is not None else None


def _net_and_tax(
    lines: Sequence[str], total: Sum | None, subtotal: Sum | None, tax: Sum | None
) -> tuple[Sum | None, Sum | None]:
    """The net and the tax where a label gave only one or neither: a split of the total printed
    elsewhere (a tax table's row), else the net as the total less the tax."""
    if total is None or (subtotal is not None and tax is not None):
        return subtotal, tax
    split = split_of_total(lines, total[0])
    if split is not None:
        return subtotal or (split[0], GENERIC), tax or (split[1], GENERIC)
    if subtotal is None and tax is not None and tax[0] < total[0]:
        return (total[0] - tax[0], GUESSED), tax  # net = gross - tax
    return subtotal, tax


def _line_items(
    lines: Sequence[str], text: str, total: Sum | None, subtotal: Sum | None, tax: Sum | None
) -> tuple[Rows | None, Sum | None]:
    """The table's rows, and the subtotal they confirm or stand for.

    The rows are sure where they add up to the printed subtotal (which they then confirm), or,
    where neither a subtotal nor a tax is printed, to the total: then they are the net, and the
    subtotal too unless the prices include tax.
    """
    items = read_line_items(lines, _decimal_comma(text))
    if not items:
        return None, subtotal
    items_sum = sum((item.amount or Decimal(0) for item in items), Decimal(0))
    if subtotal is not None and abs(abs(items_sum) - abs(subtotal[0])) <= Decimal("0.02"):
        return (items, SPECIFIC), (subtotal[0], max(subtotal[1], CONFIRMED))
    if total is not None and abs(items_sum) == abs(total[0]) and subtotal is None and tax is None:
        return (items, SPECIFIC), None if _TAX_INCLUDED.search(text) else (total[0], GENERIC)
    return (items, GUESSED + 0.1), subtotal


def _decimal_comma(text: str) -> bool:
    """Whether the document writes cents after a comma (``12,50``) more often than after a point."""
    return len(_COMMA_CENTS.findall(text)) > len(_POINT_CENTS.findall(text))


def _last_amount(rest: str) -> Decimal | None:
    """The label's amount: the last one before the next label-like word on the same line.

    "Excl. VAT € 593,36 Subtotal € 717,97" gives 593,36 for the first label; a table row like
    "Total 24.99 5.00 29.99" (net, tax, gross columns) gives the last column.
    """
    amounts = [a for a in find_amounts(rest) if a.has_decimals or not _COUNTED.match(rest, a.end)]
    for i in range(1, len(amounts)):
        between = rest[amounts[i - 1].end : amounts[i].start]
        if re.search(r"[^\W\d_]{3,}", re.sub(r"\b[A-Z]{3}\b", "", between)):
            amounts = amounts[:i]
            break
    with_decimals = [a for a in amounts if a.has_decimals] or amounts
    return with_decimals[-1].value if with_decimals else None


def _total_value(rest: str) -> Decimal | None:
    """A zero total is a paid balance, not the invoice amount: keep looking."""
    value = _last_amount(rest)
    return value if value else None


def _amount_only(line: str) -> Decimal | None:
    """A line below a label counts only if it holds nothing but an amount (and a currency)."""
    if re.search(r"[A-Za-z]{4,}", line):
        return None
    amounts = find_amounts(line)
    return amounts[-1].value if len(amounts) == 1 else None
