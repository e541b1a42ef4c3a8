"""Consistency checks that raise or lower the confidence of extracted fields.

A value that passes an independent check (a VAT id's check digits, an IBAN's mod-97, subtotal
plus tax equals total, a due date on or after the issue date) is more likely right than its
label alone says; a value that fails one is less likely right. The checks never change a value,
they only adjust how much a person should trust it.

A text field holding a bidirectional control (a right-to-left override, an isolate, a mark) fails
outright: such a character makes a vendor name, an invoice number or an IBAN read differently on
screen from what is stored and paid, and no honest invoice needs one in those fields.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from stdnum import iban as stdnum_iban
from stdnum.eu import vat as stdnum_vat
from stdnum.exceptions import ValidationError

from opsgate import Escalation, EscalationReason, bidi_controls
from tasks.invoice_extraction.models import InvoiceFields

CONFIRMED, DOUBTFUL = 0.97, 0.3
TEXT_FIELDS = ("vendor_name", "vendor_tax_id", "customer_name", "invoice_number", "po_number", "iban")


def vat_id_valid(value: str) -> bool | None:
    """True or False for an EU VAT id (check digits included); None when it is not an EU VAT id at all."""
    compact = value.replace(" ", "").upper()
    if len(compact) < 4 or not compact[:2].isalpha():
        return None
    try:
        stdnum_vat.validate(compact)
    except ValidationError:
        return False if stdnum_vat.guess_country(compact) or compact[:2] in _EU_PREFIXES else None
    return True


_EU_PREFIXES = frozenset("AT BE BG CY CZ DE DK EE EL ES FI FR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK XI".split())


def iban_checked(value: str) -> bool:
    return bool(stdnum_iban.is_valid(value))


def adjust_confidence(found: dict[str, tuple[object, float]]) -> None:
    """Adjust the confidence of the fields in ``found`` (name -> (value, confidence)) in place."""

    def scale(name: str, ok: bool | None) -> None:
        if name in found and ok is not None:
            value, conf = found[name]
            found[name] = (value, max(conf, CONFIRMED) if ok else min(conf, DOUBTFUL))

    if "vendor_tax_id" in found:
        scale("vendor_tax_id", vat_id_valid(str(found["vendor_tax_id"][0])))
    if "iban" in found:
        scale("iban", iban_checked(str(found["iban"][0])))

    amounts = {name: found[name][0] for name in ("subtotal", "tax_total", "total") if name in found}
    if len(amounts) == 3 and all(isinstance(v, Decimal) for v in amounts.values()):
        adds_up = abs(amounts["subtotal"] + amounts["tax_total"] - amounts["total"]) <= Decimal("0.02")
        for name in amounts:
            scale(name, True if adds_up else None)
        if not adds_up:  # one of the three is wrong; none can be confirmed, all are in doubt a little
            for name in amounts:
                value, conf = found[name]
                found[name] = (value, round(conf * 0.8, 2))

    issued, due = (found.get(name, (None, 0.0))[0] for name in ("invoice_date", "due_date"))
    if isinstance(issued, date) and isinstance(due, date) and due < issued:
        scale("due_date", False)


def failed_checks(fields: InvoiceFields) -> list[Escalation]:
    """The values that fail a check outright, whichever backend or reader found them.

    A payment to an account that fails its checksum, or a VAT id with wrong check digits, is a
    typo or a tampered document: a person must look before anything is posted. So is a text field
    with bidirectional controls, named with their code points.
    """
    found: list[Escalation] = []
    if fields.iban and not iban_checked(fields.iban):
        found.append(
            Escalation(
                reason=EscalationReason.FAILED_CHECK,
                field="iban",
                detail=f"{fields.iban} fails the IBAN checksum (ISO 13616 mod 97)",
            )
        )
    if fields.vendor_tax_id and vat_id_valid(fields.vendor_tax_id) is False:
        found.append(
            Escalation(
                reason=EscalationReason.FAILED_CHECK,
                field="vendor_tax_id",
                detail=f"{fields.vendor_tax_id} fails the VAT id check digits",
            )
        )
    if fields.invoice_date and fields.due_date and fields.due_date < fields.invoice_date:
        found.append(
            Escalation(
                reason=EscalationReason.FAILED_CHECK,
                field="due_date",
                detail=f"due {fields.due_date} is before the issue date {fields.invoice_date}",
            )
        )
    texts = [(name, getattr(fields, name)) for name in TEXT_FIELDS]
    texts += [(f"line_items[{i}].description", item.description) for i, item in enumerate(fields.line_items)]
    for name, value in texts:
        if value and (controls := bidi_controls(value)):
            detail = f"{name} holds bidirectional control characters ({', '.join(controls)}) that can show it in another order than it is stored"
            found.append(Escalation(reason=EscalationReason.FAILED_CHECK, field=name, detail=detail))
    return found
