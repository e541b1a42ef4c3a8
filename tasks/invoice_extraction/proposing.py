"""From an extraction to a proposal: post this document to payables, or say why not.

The double-payment check reads the payables ledger (the policy's ``payables.read``) and the
batch itself: the same vendor's invoice number twice is escalated, never proposed twice. The
ledger also says whether the vendor was paid before (``vendor_known``), a fact the policy's case
types may test. Every proposal keeps the extraction's ``inputs`` (what exactly was read), failed
and escalated ones too.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from opsgate import Escalation, EscalationReason, PayablePosting, Policy, Proposal, look_up, vendor_key
from tasks.invoice_extraction.models import Extraction

TOOL = "payables.post"
TOOLS_USED = ["inbox.read", "payables.read"]


def _summary(extraction: Extraction) -> str:
    f = extraction.fields
    parts = [
        f.vendor_name or "unknown vendor",
        f.invoice_number or "no number",
        str(f.invoice_date or "no date"),
        f"{f.currency or ''} {f.total or ''}".strip(),
    ]
    return " · ".join(p for p in parts if p)


def _posting(extraction: Extraction, common: dict[str, Any]) -> PayablePosting | Proposal:
    """The posting an extraction asks for, or the proposal that says why there is none."""
    if extraction.status == "error":
        return Proposal(**common, error=extraction.error or "unreadable document")
    if extraction.status == "escalated":
        return Proposal(**common, escalations=extraction.escalations)
    f = extraction.fields
    try:
        return PayablePosting(
            vendor_name=f.vendor_name,
            invoice_number=f.invoice_number or "",
            document_type=extraction.document_type,
            invoice_date=f.invoice_date,
            due_date=f.due_date,
            currency=f.currency,
            subtotal=f.subtotal,
            tax_total=f.tax_total,  # type: ignore[arg-type]
            total=f.total,
            po_number=f.po_number,
            iban=f.iban,
            source=extraction.source,  # type: ignore[arg-type]
        )
    except ValidationError as exc:
        missing = [
            Escalation(reason=EscalationReason.MISSING_DATA, field=str(e["loc"][0]), detail=e["msg"])
            for e in exc.errors()
        ]
        return Proposal(**common, escalations=missing)


def _key(posting: PayablePosting) -> tuple[str, str]:
    return vendor_key(posting.vendor_name), posting.invoice_number.strip()


def propose_all(extractions: list[Extraction], policy: Policy) -> list[Proposal]:
    """One proposal per document, in order. The ledger is read once for the whole batch."""
    commons = [
        {
            "workflow": policy.workflow,
            "source": e.source,
            "case_type": e.document_type,
            "summary": _summary(e),
            "confidence": e.confidence,
            "instruction_version": e.instruction_version or policy.instruction_version,
            "tools_used": TOOLS_USED,
            "inputs": e.inputs,  # the document's digest and size, for the audit and for replay to know a changed file
            "notices": e.notices,  # e.g. the vendor memory disagreeing with the rules: shown to the approver, the case goes on
        }
        for e in extractions
    ]
    postings = [_posting(e, common) for e, common in zip(extractions, commons, strict=True)]
    check = policy.escalation.possible_duplicate is not None
    keys = {_key(p) for p in postings if isinstance(p, PayablePosting)}
    ledger = look_up(keys, postings=check)
    posted, known = ledger.posted, ledger.known_vendors
    seen: set[tuple[str, str]] = set()
    proposals = []
    for posting, common in zip(postings, commons, strict=True):
        if isinstance(posting, Proposal):
            proposals.append(posting)
            continue
        escalations: list[Escalation] = []
        key = _key(posting)
        if check and key in posted:
            row = posted[key]
            escalations.append(
                Escalation(
                    reason=EscalationReason.POSSIBLE_DUPLICATE,
                    field="invoice_number",
                    detail=f"already posted as payable {row.id} from {row.source}",
                )
            )
        elif check and key in seen:
            escalations.append(
                Escalation(
                    reason=EscalationReason.POSSIBLE_DUPLICATE,
                    field="invoice_number",
                    detail="the same vendor and invoice number appear twice in this batch",
                )
            )
        seen.add(key)
        context = {
            "vendor_known": key[0] in known
        }  # for the policy's case types, e.g. small invoices from vendors paid before
        proposals.append(
            Proposal(
                **common, tool=TOOL, payload=posting.model_dump(mode="json"), escalations=escalations, context=context
            )
        )
    return proposals
