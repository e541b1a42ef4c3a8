"""What people did with the invoices, from an outcomes file, against the workflow's shadow cases.

The file (CSV or Parquet) has `source`, the document's file name, and `action`: `posted`,
`rejected` or `escalated`; for postings, any of the posting's fields as people entered them. A
field without a column is not compared. A row that cannot be read (an unknown action, an amount
or a date that is not one, a posting without its total) is reported and left out.

Values are compared as a demanding finance team would: amounts as decimals (`1222.5` is
`1222.50`; a decimal comma is refused rather than guessed), dates as ISO dates (`03/04/2024` is
refused: day or month first cannot be told), text trimmed, spaces collapsed and case-folded,
IBANs without their spaces, vendors by their key (letters and digits, as the double-payment check
compares them). Empty on both sides agrees.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from opsgate import CaseComparison, OutcomeComparison, OutcomeRow, ShadowCase, WrongAction, read_records, vendor_key

POSTED = "posted"
ACTIONS = (POSTED, "rejected", "escalated")
REQUIRED_WHEN_POSTED = ("invoice_number", "invoice_date", "currency", "total")  # no posting is without them
PAYMENT_FIELDS = (
    "total",
    "currency",
    "vendor_name",
    "iban",
)  # wrong here: money of the wrong amount or to the wrong party
RULES = [
    "an outcome matches the shadow case whose source has the same file name",
    "amounts compared as decimals, dates as ISO dates, text trimmed, spaces collapsed and case-folded, IBANs without spaces, vendors by their key",
    "a proposed posting is wrong where people rejected or escalated the document (at stake: its total) or posted it with another total, currency, "
    "vendor or IBAN (at stake: the difference when only the total differs, else the whole total); an IBAN the agent left empty is missing, not wrong",
]

_AMOUNT = re.compile(r"^[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?$")
_DATE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?)?$"
)  # a spreadsheet's midnight is still the date


def _text(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value).split()).casefold()


def _amount(value: str) -> Decimal:
    compact = value.replace(" ", "")
    if not _AMOUNT.match(compact):
        raise ValueError("is not a decimal amount (digits, a point before the decimals)")
    return Decimal(compact.replace(",", ""))


def _date(value: str) -> date:
    match = _DATE.match(value)
    try:
        if match:
            return date.fromisoformat(match[1])
    except ValueError:  # 2024-02-30
        pass
    raise ValueError("is not an ISO date (YYYY-MM-DD)")


def _iban(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


COMPARE: dict[str, Callable[[str], Any]] = {
    "vendor_name": vendor_key,
    "invoice_number": _text,
    "invoice_date": _date,
    "due_date": _date,
    "currency": _text,
    "subtotal": _amount,
    "tax_total": _amount,
    "total": _amount,
    "po_number": _text,
    "iban": _iban,
}


def comparable(field: str, value: Any) -> Any:
    """The form a field's value is compared in; None when it is empty."""
    text = "" if value is None else str(value).strip()
    found = COMPARE[field](text) if text else None
    return None if found == "" else found


def file_name(source: str) -> str:
    """The last part of a path, whichever separator the system that wrote it uses."""
    return re.split(r"[\\/]", source.strip())[-1]


@dataclass(frozen=True)
class PeopleOutcome:
    action: str
    values: dict[str, Any]  # comparable form, per field the file has
    written: dict[str, str]  # as people wrote them, for the report


def read_outcomes(path: Path) -> tuple[dict[str, PeopleOutcome], list[str], list[OutcomeRow]]:
    """People's outcome per file name, the fields the file has, and the rows that were not used."""

    records = read_records(path, "source", required=["action"])
    columns = [f for f in COMPARE if f in records.frame.columns]
    problems = [OutcomeRow(where=p.where, detail=p.reason) for p in records.problems]
    rows = records.frame.to_dict("records")
    names = Counter(file_name(row["source"]) for row in rows)
    found: dict[str, PeopleOutcome] = {}
    for row in rows:
        name, action = file_name(row["source"]), _text(row["action"])
        reasons, values = [], {}
        if names[name] > 1:
            reasons.append("another row names the same file; none of them is used")
        if action not in ACTIONS:
            reasons.append(f"action {row['action']!r} is not one of {', '.join(ACTIONS)}")
        if action == POSTED:
            for field in columns:
                try:
                    values[field] = comparable(field, row[field])
                except ValueError as exc:
                    reasons.append(f"{field} {row[field]!r} {exc}")
                    continue
                if values[field] is None and field in REQUIRED_WHEN_POSTED:
                    reasons.append(f"posted without {field}")
        if reasons:
            problems.append(OutcomeRow(where=f"source {row['source']!r}", detail="; ".join(reasons)))
        else:
            found[name] = PeopleOutcome(action, values, {field: row[field].strip() for field in columns})
    return found, columns, problems


def _shown(value: Any) -> str:
    return "nothing" if value in (None, "") else str(value)


def _wrong(case: ShadowCase, outcome: PeopleOutcome, fields: dict[str, bool]) -> WrongAction | None:
    payload = case.payload or {}
    currency, total = payload.get("currency") or "", comparable("total", payload.get("total")) or Decimal(0)
    if outcome.action != POSTED:
        return WrongAction(
            what=f"would post {currency} {total}; people {outcome.action} it", cost=abs(total), unit=currency
        )
    wrong = [f for f in PAYMENT_FIELDS if fields.get(f) is False and not (f == "iban" and not payload.get("iban"))]
    if not wrong:
        return None
    at_stake = abs(total - outcome.values["total"]) if wrong == ["total"] else abs(total)
    what = "; ".join(f"{f} {_shown(payload.get(f))}, people posted {_shown(outcome.written[f])}" for f in wrong)
    return WrongAction(what=f"would post with a wrong {what}", cost=at_stake, unit=currency)


def _compare(case: ShadowCase, outcome: PeopleOutcome, columns: list[str]) -> CaseComparison:
    people_wrote = outcome.action == POSTED
    fields = (
        {f: comparable(f, case.payload.get(f)) == outcome.values[f] for f in columns}
        if people_wrote and case.payload
        else {}
    )
    return CaseComparison(
        case=case,
        outcome=outcome.action,
        people_wrote=people_wrote,
        fields=fields,
        wrong=_wrong(case, outcome, fields) if case.would_write else None,
    )


def compare_outcomes(path: Path, cases: list[ShadowCase]) -> OutcomeComparison:
    """Every shadow case against what people did with the same document."""
    outcomes, columns, problems = read_outcomes(path)
    matched = {file_name(case.source) for case in cases} & set(outcomes)
    compared = [
        _compare(case, outcomes[name], columns)
        if (name := file_name(case.source)) in outcomes
        else CaseComparison(case=case)
        for case in cases
    ]
    unmatched = [
        OutcomeRow(where=f"source {name!r}", detail=f"people {outcome.action} it; no shadow case has this file name")
        for name, outcome in outcomes.items()
        if name not in matched
    ]
    return OutcomeComparison(cases=compared, unmatched=unmatched, problems=problems, rules=RULES)
