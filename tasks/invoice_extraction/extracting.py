"""One document in, one ``Extraction`` out: reading, rules extraction and the completeness check.

This never raises for a problem with the document itself. A batch of inbox files must not stop
at the first bad file, and a person needs to see every outcome: broken files as ``error``,
scans and incomplete invoices as ``escalated`` with the reason spelled out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from opsgate.errors import ConfigurationError, ExtractionError
from opsgate.models import Escalation, EscalationReason
from tasks.invoice_extraction.models import Extraction, InvoiceFields
from tasks.invoice_extraction.reading import DEFAULT_MAX_BYTES, read_document
from tasks.invoice_extraction.rules import extract_fields

_KNOWN_FIELDS = frozenset(InvoiceFields.model_fields)


def extract_document(
    path: Path,
    required_fields: Sequence[str],
    source: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Extraction:
    """Read and extract ``path``; escalate when a required field is missing or the file is a scan.

    ``required_fields`` must name fields of ``InvoiceFields``; an unknown name is a policy
    mistake, so it raises ``ConfigurationError`` instead of silently escalating every file.
    """
    unknown = [name for name in required_fields if name not in _KNOWN_FIELDS]
    if unknown:
        raise ConfigurationError(f"unknown required invoice field(s): {', '.join(unknown)}")
    source = source if source is not None else str(path)
    try:
        text = read_document(Path(path), max_bytes=max_bytes)
    except ExtractionError as exc:
        if exc.reason == "needs_ocr":
            return Extraction(
                source=source,
                status="escalated",
                escalations=[Escalation(reason=EscalationReason.NEEDS_OCR, detail=str(exc))],
            )
        return Extraction(source=source, status="error", error=str(exc))

    result = extract_fields(text)
    escalations = [
        Escalation(reason=EscalationReason.MISSING_DATA, field=name, detail=f"{name} not found in the document")
        for name in required_fields
        if getattr(result.fields, name) in (None, "", [])
    ]
    return Extraction(
        source=source,
        status="escalated" if escalations else "ok",
        document_type=result.document_type,
        fields=result.fields,
        confidence=result.confidence,
        escalations=escalations,
    )
