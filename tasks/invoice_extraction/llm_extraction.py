"""The LLM backend: the same fields as the rules backend, read by a model through instructor.

The answer is validated against the document it came from: identifiers and amounts must appear
in the text (a model that "corrects" an invoice number is wrong), currencies are ISO codes.
A failed check goes back to the model as the next prompt; the messages are written for it.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from stdnum import iban

from opsgate import Prompt, ask, latest_prompt
from tasks.invoice_extraction.models import InvoiceFields
from tasks.invoice_extraction.rules import RulesResult

if TYPE_CHECKING:
    import instructor

PROMPTS = Path(__file__).parent / "prompts"
PROMPT_NAME = "extract_invoice"
VERBATIM = ("invoice_number", "vendor_tax_id", "iban", "po_number")
AMOUNTS = ("subtotal", "tax_total", "total")
CONFIDENCE = 0.7  # read by a model and checked against the text, not derived from a label


def _alnum(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


class LlmInvoice(BaseModel):
    """What the model returns: the header fields (line items stay with the rules and the XML).
    Amounts are numbers in the JSON schema, which small models handle far better than decimal
    strings; the schema is kept lean so that it fits small context windows."""

    document_type: Literal["invoice", "credit_note", "receipt"] = "invoice"
    vendor_name: str | None = None
    vendor_address: str | None = None
    vendor_tax_id: str | None = None
    customer_name: str | None = None
    invoice_number: str | None = None
    invoice_date: date | None = None
    due_date: date | None = None
    currency: str | None = Field(None, description="ISO 4217")
    subtotal: float | None = Field(None, description="before tax")
    tax_total: float | None = None
    total: float | None = Field(None, description="payable, tax included")
    po_number: str | None = None
    iban: str | None = None

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ValueError(f"currency must be a three-letter ISO 4217 code such as EUR or USD, not {value!r}")
        return code

    @field_validator(*VERBATIM)
    @classmethod
    def _copied(cls, value: str | None, info: ValidationInfo) -> str | None:
        text = (info.context or {}).get("text")
        if value and text is not None and _alnum(value) not in _alnum(text):
            raise ValueError(
                f"{info.field_name} {value!r} does not appear in the document: copy it exactly as printed, or use null"
            )
        return value

    @field_validator("iban")
    @classmethod
    def _valid_iban(cls, value: str | None) -> str | None:
        if value and not iban.is_valid(value):
            raise ValueError(
                f"iban {value!r} fails the IBAN checksum: copy the account exactly as printed, or use null"
            )
        return iban.compact(value) if value else value

    @field_validator(*AMOUNTS)
    @classmethod
    def _printed(cls, value: float | None, info: ValidationInfo) -> float | None:
        text = (info.context or {}).get("text")
        if value is not None and text is not None:
            digits = re.sub(r"\D", "", f"{abs(value):.2f}")
            if digits.lstrip("0") and digits.lstrip("0") not in re.sub(r"\D", "", text):
                raise ValueError(
                    f"{info.field_name} {value} is not an amount printed in the document: use the printed figure, or null"
                )
        return value


def _money(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(round(abs(value), 2))).quantize(Decimal("0.01"))


@lru_cache
def current_prompt() -> Prompt:
    """The newest prompt file: what live runs read with (read once per process)."""
    return latest_prompt(PROMPTS, PROMPT_NAME)


def extract_with_llm(text: str, client: instructor.Instructor, prompt: Prompt | None = None) -> RulesResult:
    """Fields from the model, validated against ``text``; raises LlmUnavailable / LlmInvalidAnswer.
    ``prompt`` is the instructions to read with: the current ones unless a replay names another version."""
    answer = ask(client, LlmInvoice, (prompt or current_prompt()).messages(text), context={"text": text})
    values = answer.model_dump(exclude={"document_type", *AMOUNTS})
    fields = InvoiceFields(**values, **{name: _money(getattr(answer, name)) for name in AMOUNTS})
    found = {
        name: CONFIDENCE for name, value in fields.model_dump(exclude={"line_items"}).items() if value not in (None, "")
    }
    return RulesResult(fields=fields, confidence=found, document_type=answer.document_type)
