"""One document in, one ``Extraction`` out: reading, extraction and the completeness check.

This never raises for a problem with the document itself. A batch of inbox files must not stop
at the first bad file, and a person needs to see every outcome: broken files as ``error``,
scans and incomplete invoices as ``escalated`` with the reason spelled out.

Where a document carries an e-invoice (CII or UBL XML, standalone or embedded in a PDF), the
fields are read from the XML exactly (confidence 1.0) instead of being guessed from text. The
printed total is still compared with the XML's, and a PDF whose embedded XML cannot be used is
read from its text layer with an escalation saying so.

A scan is read by OCR (``reading``, ``ocr``); the confidence of each field read from it is then
lowered by how sure OCR was of the words the value was printed in (``word_confidence``), after
whichever backend read the text, so that a field read from unsure words escalates as usual.

Every extraction of a document whose bytes were read carries their digest and size (``inputs``),
whatever came of them: the proposal stores it, and a replay compares it with the file as it is then.

The work splits in two: ``read_document`` does everything that parses the bytes (and may run in a
reader process, see ``batch``), ``finish_reading`` asks the model, where one is used, in the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opsgate import ConfigurationError, Escalation, EscalationReason, ExtractionError
from tasks.invoice_extraction.backends import Backend, Reading, read_fields
from tasks.invoice_extraction.checks import failed_checks
from tasks.invoice_extraction.einvoice import EInvoice, looks_like_xml, parse_einvoice
from tasks.invoice_extraction.layout import Word
from tasks.invoice_extraction.models import Extraction, InvoiceFields
from tasks.invoice_extraction.ocr import OcrOptions
from tasks.invoice_extraction.reading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_EXPANDED,
    DocumentText,
    check_pdf,
    document_inputs,
    document_text,
    embedded_einvoice,
    is_pdf,
    load_document,
)
from tasks.invoice_extraction.rules import RulesResult, extract_fields
from tasks.invoice_extraction.word_confidence import adjusted_confidence

if TYPE_CHECKING:
    import instructor

    from opsgate import Prompt

_KNOWN_FIELDS = frozenset(InvoiceFields.model_fields)
XML_VERSION = "einvoice-xml"  # read from structured data: no rules or prompt involved


@dataclass(frozen=True)
class ReadOptions:
    """How a document is read: its size limits, whether an embedded e-invoice counts, who reads text, and how scans are read."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_expanded: int = DEFAULT_MAX_EXPANDED
    use_embedded_xml: bool = True
    backend: Backend = "rules"
    ocr: OcrOptions = field(default_factory=OcrOptions)


@dataclass
class TextToRead:
    """What a reader process hands back when a model must read the text: the model's client lives
    in the parent, never where untrusted bytes are parsed. For ``auto`` the rules have read it already.
    ``words`` are the OCR'd words when OCR read any of the text, to weigh the model's fields by."""

    source: str
    text: str
    escalations: list[Escalation]
    rules: RulesResult | None
    inputs: dict[str, Any] = field(default_factory=dict)
    words: list[Word] = field(default_factory=list)


def extract_document(
    path: Path,
    required_fields: Sequence[str],
    source: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    *,
    use_embedded_xml: bool = True,
    backend: Backend = "rules",
    client: instructor.Instructor | None = None,
    prompt: Prompt | None = None,
    ocr: OcrOptions | None = None,
) -> Extraction:
    """Read and extract ``path`` in this process; escalate when a required field is missing or the file is a scan.

    ``required_fields`` must name fields of ``InvoiceFields``; an unknown name is a policy
    mistake, so it raises ``ConfigurationError`` instead of silently escalating every file.
    A standalone XML document is always read as an e-invoice; ``use_embedded_xml=False`` makes
    a PDF be read from its text layer even when it has an e-invoice attached. ``backend`` says
    who reads text (see ``backends``); the LLM backends need ``client`` and read with ``prompt``,
    the newest prompt file unless a replay names another version; ``ocr`` says how scans are read.
    Untrusted inboxes are read through ``batch.extract_documents`` instead, which runs this work
    in reader processes.
    """
    options = ReadOptions(
        max_bytes=max_bytes, use_embedded_xml=use_embedded_xml, backend=backend, ocr=ocr or OcrOptions()
    )
    return finish_reading(
        read_document(path, required_fields, source, options), required_fields, backend, client, prompt
    )


def read_document(
    path: Path, required_fields: Sequence[str], source: str | None, options: ReadOptions, data: bytes | None = None
) -> Extraction | TextToRead:
    """Everything that parses the document's bytes (``data`` when already loaded, else the file):
    the finished extraction, or the text a model still has to read (``llm`` and ``auto``)."""
    check_required(required_fields)  # before reading: a policy mistake raises even for a missing file
    path = Path(path)
    source = source if source is not None else str(path)
    if data is None:
        try:
            data = load_document(path, options.max_bytes)
        except ExtractionError as exc:
            return Extraction(source=source, status="error", error=str(exc))
    read = _extract(data, path.name, required_fields, source, options)
    read.inputs = document_inputs(data)
    return read


def finish_reading(
    read: Extraction | TextToRead,
    required_fields: Sequence[str],
    backend: Backend,
    client: instructor.Instructor | None = None,
    prompt: Prompt | None = None,
) -> Extraction:
    """The extraction, asking the model where the reader left text for it (in the parent process)."""
    if isinstance(read, Extraction):
        return read
    reading = _weighed(read_fields(read.text, backend, client, prompt, rules=read.rules), read.words, read.escalations)
    extraction = _finish(read.source, required_fields, reading, read.text)
    extraction.inputs = read.inputs
    return extraction


def check_required(required_fields: Sequence[str]) -> None:
    unknown = [name for name in required_fields if name not in _KNOWN_FIELDS]
    if unknown:
        raise ConfigurationError(f"unknown required invoice field(s): {', '.join(unknown)}")


def _extract(
    data: bytes, name: str, required_fields: Sequence[str], source: str, options: ReadOptions
) -> Extraction | TextToRead:
    """An e-invoice's XML where there is one (with the printed text to check it against), else the text."""
    if not is_pdf(data) and looks_like_xml(data):
        try:
            einvoice = parse_einvoice(data, name)
        except ExtractionError as exc:
            return Extraction(source=source, status="error", error=str(exc))
        return _finish(source, required_fields, _xml_reading(einvoice, None, []))

    escalations: list[Escalation] = []
    einvoice = None
    try:
        if is_pdf(data):
            check_pdf(data, name, options.max_expanded)
            if options.use_embedded_xml:
                einvoice, escalations = _embedded(data, name, options.max_bytes)
        text: DocumentText | None = document_text(data, name, options.ocr)
    except ExtractionError as exc:
        if exc.reason != "needs_ocr":
            return Extraction(source=source, status="error", error=str(exc))
        if einvoice is None:
            escalations.append(Escalation(reason=EscalationReason.NEEDS_OCR, detail=str(exc)))
            return Extraction(source=source, status="escalated", escalations=escalations)
        text = None  # a scan with an e-invoice attached: the XML is all there is to read

    if einvoice is not None:
        return _finish(source, required_fields, _xml_reading(einvoice, text, escalations))
    assert text is not None
    rules = extract_fields(text.text) if options.backend == "auto" else None
    to_read = TextToRead(source, text.text, escalations, rules, words=text.words)
    return finish_reading(to_read, required_fields, "rules") if options.backend == "rules" else to_read


def _weighed(reading: Reading, words: list[Word], escalations: list[Escalation]) -> Reading:
    """``reading`` after the ``escalations`` of reading the document, each field's confidence lowered
    by how sure OCR was of the ``words`` it was printed in (none when the text was not OCR'd)."""
    result = reading.result
    confidence = adjusted_confidence(result.fields, result.confidence, words)
    weighed = result.model_copy(update={"confidence": confidence})
    return Reading(weighed, reading.instruction_version, escalations + reading.escalations)


def _xml_reading(einvoice: EInvoice, text: DocumentText | None, escalations: list[Escalation]) -> Reading:
    """The e-invoice's fields; where the document prints text too, its total is checked against the
    XML's and the fields the XML leaves out are read from it."""
    fields, confidence = einvoice.fields, einvoice.confidence
    if text is not None:
        printed = extract_fields(text.text)
        weighed = adjusted_confidence(printed.fields, printed.confidence, text.words)
        printed = printed.model_copy(update={"confidence": weighed})
        escalations = escalations + _total_conflict(einvoice, printed.fields.total)
        fields, confidence = _fill_from_text(einvoice, printed)
    result = RulesResult(fields=fields, confidence=confidence, document_type=einvoice.document_type)
    return Reading(result, XML_VERSION, escalations)


def _embedded(data: bytes, name: str, max_bytes: int) -> tuple[EInvoice | None, list[Escalation]]:
    """The PDF's attached e-invoice, or the escalation saying why it cannot be used."""
    try:
        attached = embedded_einvoice(data, name, max_bytes)
        if attached is None:
            return None, []
        return parse_einvoice(attached[1], f"{name}: attachment {attached[0]}"), []
    except ExtractionError as exc:
        if exc.reason in ("corrupt", "encrypted"):
            return None, []  # reading the text reports the PDF itself as the problem
        detail = f"the embedded e-invoice cannot be used, fields were read from the text instead: {exc}"
        return None, [Escalation(reason=EscalationReason.CONFLICTING_SOURCES, detail=detail)]


def _total_conflict(einvoice: EInvoice, printed: Decimal | None) -> list[Escalation]:
    """The printed total must be the XML's grand total or its amount due (after prepayment)."""
    stated = {abs(v) for v in (einvoice.fields.total, einvoice.amount_due) if v is not None}
    if printed is None or abs(printed) in stated:
        return []
    detail = (
        f"the embedded e-invoice says {einvoice.fields.total}, the printed text {printed}; the e-invoice value is kept"
    )
    return [Escalation(reason=EscalationReason.CONFLICTING_SOURCES, field="total", detail=detail)]


def _fill_from_text(einvoice: EInvoice, printed: RulesResult) -> tuple[InvoiceFields, dict[str, float]]:
    """The XML's fields, with those it leaves out (a bank account only printed) read from the text.

    The XML wins wherever it has a value; a field from the text keeps the rules' confidence and
    goes through the same checks, so a printed account that fails its checksum is escalated.
    """
    values = einvoice.fields.model_dump()
    confidence = dict(einvoice.confidence)
    for name, value in printed.fields:
        if values.get(name) in (None, "", []) and value not in (None, "", []):
            values[name] = value
            confidence[name] = printed.confidence.get(name, 0.0)
    return InvoiceFields.model_validate(values), confidence


def _finish(source: str, required_fields: Sequence[str], reading: Reading, text: str | None = None) -> Extraction:
    """The extraction of what was read, escalated for every required field left empty and every failed
    check; ``text``, when the fields were read from text, is kept for the vendor memory (``memory``)."""
    fields = reading.result.fields
    escalations = (
        reading.escalations
        + [
            Escalation(reason=EscalationReason.MISSING_DATA, field=name, detail=f"{name} not found in the document")
            for name in required_fields
            if getattr(fields, name) in (None, "", [])
        ]
        + failed_checks(fields)
    )
    return Extraction(
        source=source,
        status="escalated" if escalations else "ok",
        document_type=reading.result.document_type,
        fields=fields,
        confidence=reading.result.confidence,
        escalations=escalations,
        instruction_version=reading.instruction_version,
        text=text,
    )
