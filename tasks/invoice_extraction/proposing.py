"""From an extraction to a proposal: post this document to payables, or say why not.

The double-payment check reads the payables ledger (the policy's ``payables.read``) and the
batch itself: the same vendor's invoice number twice is escalated, never proposed twice.
"""

from __future__ import annotations

from pydantic import ValidationError

from opsgate.models import Escalation, EscalationReason, Proposal
from opsgate.policy.schema import Policy
from opsgate.store.db import transaction
from opsgate.writers.payables import PayablePosting, find_posted, vendor_key
from tasks.invoice_extraction.models import Extraction

TOOL = "payables.post"
TOOLS_USED = ["inbox.read", "payables.read"]


def _summary(extraction: Extraction) -> str:
    f = extraction.fields
    parts = [f.vendor_name or "unknown vendor", f.invoice_number or "no number", str(f.invoice_date or "no date"), f"{f.currency or ''} {f.total or ''}".strip()]
    return " · ".join(p for p in parts if p)


def propose(extraction: Extraction, policy: Policy, seen: set[tuple[str, str]]) -> Proposal:
    """One proposal per document. ``seen`` holds the (vendor, number) pairs proposed earlier in
    the batch and is updated here."""
    common = {
        "workflow": policy.workflow, "source": extraction.source, "case_type": extraction.document_type,
        "summary": _summary(extraction), "confidence": extraction.confidence,
        "instruction_version": extraction.instruction_version or policy.instruction_version, "tools_used": TOOLS_USED,
    }
    if extraction.status == "error":
        return Proposal(**common, error=extraction.error or "unreadable document")
    if extraction.status == "escalated":
        return Proposal(**common, escalations=extraction.escalations)
    f = extraction.fields
    try:
        posting = PayablePosting(
            vendor_name=f.vendor_name, invoice_number=f.invoice_number or "", document_type=extraction.document_type,
            invoice_date=f.invoice_date, due_date=f.due_date, currency=f.currency, subtotal=f.subtotal, tax_total=f.tax_total,  # type: ignore[arg-type]
            total=f.total, po_number=f.po_number, iban=f.iban, source=extraction.source,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        missing = [Escalation(reason=EscalationReason.MISSING_DATA, field=str(e["loc"][0]), detail=e["msg"]) for e in exc.errors()]
        return Proposal(**common, escalations=missing)
    escalations: list[Escalation] = []
    if policy.escalation.possible_duplicate is None:
        return Proposal(**common, tool=TOOL, payload=posting.model_dump(mode="json"))
    key = (vendor_key(posting.vendor_name), posting.invoice_number.strip())
    with transaction() as session:
        posted = find_posted(session, posting.vendor_name, posting.invoice_number)
    if posted is not None:
        escalations.append(Escalation(reason=EscalationReason.POSSIBLE_DUPLICATE, field="invoice_number", detail=f"already posted as payable {posted.id} from {posted.source}"))
    elif key in seen:
        escalations.append(Escalation(reason=EscalationReason.POSSIBLE_DUPLICATE, field="invoice_number", detail="the same vendor and invoice number appear twice in this batch"))
    seen.add(key)
    return Proposal(**common, tool=TOOL, payload=posting.model_dump(mode="json"), escalations=escalations)
