"""Posting invoices to the payables ledger, and reversing a posting."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsgate.errors import DuplicateWrite, ExecutionError
from opsgate.store.tables import PayableRow
from opsgate.writers.base import Writer

CENT = Decimal("0.01")


def _cents(value: Decimal) -> Decimal:
    """Amounts are exact to the cent: `1222.560` is `1222.56`; `999.999` is refused, not rounded."""
    if not value.is_finite() or value != value.quantize(CENT):
        raise ValueError("an amount has at most 2 decimal places")
    if abs(value) >= Decimal("1e12"):
        raise ValueError("an amount must be below 1,000,000,000,000")
    return value.quantize(CENT)


Amount = Annotated[Decimal, AfterValidator(_cents)]


class PayablePosting(BaseModel):
    """The one action the payables writer accepts: post this document to accounts payable."""

    model_config = ConfigDict(extra="forbid")

    # bounded as the ledger's columns are: an edit sent through the API is refused at the gate, not at the write
    vendor_name: str | None = Field(None, max_length=300)
    invoice_number: str = Field(min_length=1, max_length=100)
    document_type: Literal["invoice", "credit_note", "receipt"] = "invoice"
    invoice_date: date
    due_date: date | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    subtotal: Amount | None = None
    tax_total: Amount | None = None
    total: Amount
    po_number: str | None = Field(None, max_length=100)
    iban: str | None = Field(None, max_length=40)
    source: str = Field(max_length=4000)


def vendor_key(name: str | None) -> str:
    """A vendor's name reduced to letters and digits, so 'ACME Ltd.' and 'Acme Ltd' match."""
    text = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    return re.sub(r"[^0-9a-z]", "", text.lower())


def find_posted(session: Session, vendor_name: str | None, invoice_number: str) -> PayableRow | None:
    """The live posting of this vendor's invoice number, if any: the double-payment check."""
    query = select(PayableRow).where(
        PayableRow.vendor_key == vendor_key(vendor_name),
        PayableRow.invoice_number == invoice_number.strip(),
        PayableRow.status == "posted",
    )
    return session.execute(query.limit(1)).scalar_one_or_none()


def posted_among(session: Session, keys: set[tuple[str, str]]) -> dict[tuple[str, str], PayableRow]:
    """The live postings among (vendor key, invoice number) pairs: one query for a whole batch."""
    if not keys:
        return {}
    query = select(PayableRow).where(
        PayableRow.status == "posted", PayableRow.invoice_number.in_({number for _, number in keys})
    )
    rows = session.execute(query).scalars()
    return {(row.vendor_key, row.invoice_number): row for row in rows if (row.vendor_key, row.invoice_number) in keys}


def known_vendors(session: Session, keys: set[str]) -> set[str]:
    """The vendor keys among ``keys`` with a live posting in the ledger: vendors the team has paid."""
    if not keys:
        return set()
    query = (
        select(PayableRow.vendor_key).where(PayableRow.status == "posted", PayableRow.vendor_key.in_(keys)).distinct()
    )
    return set(session.execute(query).scalars())


class PayablesPost(Writer):
    tool: ClassVar[str] = "payables.post"
    undo_tool: ClassVar[str] = "payables.reverse"
    table: ClassVar[str] = "payables"
    payload_model: ClassVar[type[BaseModel]] = PayablePosting

    def apply(self, session: Session, payload: PayablePosting, proposal_id: str) -> str:
        existing = find_posted(session, payload.vendor_name, payload.invoice_number)
        if existing is not None:
            raise DuplicateWrite(
                f"invoice {payload.invoice_number} of {payload.vendor_name or 'this vendor'} is already posted "
                f"(payable {existing.id}): refusing a double payment"
            )
        row = PayableRow(
            **payload.model_dump(exclude={"invoice_number"}),
            invoice_number=payload.invoice_number.strip(),
            vendor_key=vendor_key(payload.vendor_name),
            proposal_id=proposal_id,
        )
        session.add(row)
        session.flush()
        return str(row.id)

    def undo(self, session: Session, target_id: str) -> None:
        row = session.get(PayableRow, int(target_id))
        if row is None or row.status != "posted":
            raise ExecutionError(f"payable {target_id} is not posted; nothing to reverse", retryable=False)
        row.status = "reversed"
