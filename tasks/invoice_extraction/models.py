"""What the invoice workflow reads out of a document: the fields of the extraction contract.

Field names and value types follow the ``opsgate extract --json`` contract: ISO dates, decimal
amounts (serialised as strings), ISO 4217 currency codes, ``None`` for an unknown field.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsgate import Escalation

DocumentType = Literal["invoice", "credit_note", "receipt"]
ExtractionStatus = Literal["ok", "escalated", "error"]


class LineItem(BaseModel):
    description: str | None = None
    quantity: Decimal | None = None
    unit_price: Decimal | None = None
    amount: Decimal | None = None


class InvoiceFields(BaseModel):
    vendor_name: str | None = None
    vendor_address: str | None = None
    vendor_tax_id: str | None = None
    customer_name: str | None = None
    invoice_number: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    subtotal: Decimal | None = None
    tax_total: Decimal | None = None
    total: Decimal | None = None
    prepaid: Decimal | None = Field(
        default=None, description="Paid before this invoice (a deposit, a prepayment), as a positive amount."
    )
    amount_due: Decimal | None = Field(
        default=None, description="What is left to pay: the total less what was prepaid."
    )
    po_number: str | None = None
    iban: str | None = None
    line_items: list[LineItem] = Field(default_factory=list)


class Extraction(BaseModel):
    """One document's result, exactly the object ``opsgate extract --json`` prints."""

    source: str
    status: ExtractionStatus
    document_type: DocumentType = "invoice"
    fields: InvoiceFields = Field(default_factory=InvoiceFields)
    confidence: dict[str, float] = Field(default_factory=dict)
    escalations: list[Escalation] = Field(default_factory=list)
    notices: list[Escalation] = Field(
        default_factory=list,
        description="Shown to the approver without stopping the case, e.g. the vendor's learnt documents disagreeing with the rules (``memory``).",
    )
    error: str | None = None
    instruction_version: str = Field(
        default="",
        exclude=True,
        description="What read the fields (rules, prompt, e-invoice XML); kept for the audit, not printed.",
    )
    inputs: dict[str, Any] = Field(
        default_factory=dict,
        exclude=True,
        description=(
            "What was read: the document's digest and size (``reading.document_inputs``), empty when the file could not be read; "
            "kept with the proposal, not printed."
        ),
    )
    text: str | None = Field(
        default=None,
        exclude=True,
        description="The text the fields were read from, for the vendor memory to read again and to learn from once approved; not printed.",
    )
