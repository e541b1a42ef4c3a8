"""Reading a batch of documents in reader processes: the one way the workflow, `opsgate extract`
and the replay read untrusted documents.

Everything that parses a document's bytes (loading, the pre-checks, the PDF text layer, OCR of
scans, embedded attachments, e-invoice XML, the rules over the text) runs in ``opsgate.inputs.isolation``'s workers
under memory, CPU, wall-clock and output limits, so a compression bomb or a reader that aborts
costs that document, not the batch. The model (``llm`` and ``auto``) is asked here, in the
caller's process, with what the worker read: its client never meets the bytes.

A document whose reader went over a limit or died is an ``error`` extraction whose message names
the reason (``too_large_when_expanded``, ``reader_crashed``, ``read_timeout``, ``reader_failed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opsgate import MB, IsolatedPool, Limits, get_settings
from tasks.invoice_extraction.backends import Backend
from tasks.invoice_extraction.extracting import ReadOptions, TextToRead, check_required, finish_reading, read_document
from tasks.invoice_extraction.models import Extraction
from tasks.invoice_extraction.ocr import OcrOptions

if TYPE_CHECKING:
    import instructor

    from opsgate import Prompt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReadJob:
    """One document to read: its file, the name its case goes by, and the bytes when the caller
    has loaded (and checked) them already."""

    path: Path
    source: str
    required: tuple[str, ...]
    options: ReadOptions
    data: bytes | None = None


def read_options(backend: Backend | None = None) -> ReadOptions:
    """The configured limits, with ``backend`` (the configured one when omitted); OCR may take
    what is left of a reader's wall-clock limit, which kills it anyway."""
    settings = get_settings()
    ocr = OcrOptions(
        languages=settings.ocr_languages,
        dpi=settings.ocr_dpi,
        seconds=settings.reader_wall_seconds,
        max_pixels=settings.reader_max_image_pixels,
    )
    return ReadOptions(
        max_bytes=settings.max_document_bytes,
        max_expanded=settings.reader_max_expanded_mb * MB,
        backend=backend or settings.backend,
        ocr=ocr,
    )


def read_job(job: ReadJob) -> Extraction | TextToRead:
    """What the reader process runs for one document."""
    return read_document(job.path, job.required, job.source, job.options, job.data)


def extract_documents(
    jobs: Sequence[ReadJob],
    *,
    client: instructor.Instructor | None = None,
    prompt: Prompt | None = None,
    progress: Callable[[int], None] | None = None,
    limits: Limits | None = None,
) -> Iterator[Extraction]:
    """One extraction per job, in order, each as soon as it is ready; the LLM backends need ``client``."""
    for required in {job.required for job in jobs}:
        check_required(required)  # a policy mistake raises here, not once per document in a worker
    with IsolatedPool(read_job, limits) as pool:
        for job, result in zip(jobs, pool.imap(jobs, progress), strict=True):
            if result.failure is not None:
                logger.warning("%s: %s", job.source, result.failure)
                yield Extraction(source=job.source, status="error", error=f"{job.path.name}: {result.failure}")
                continue
            assert result.value is not None
            try:
                yield finish_reading(result.value, job.required, job.options.backend, client, prompt)
            except Exception as exc:  # a bug on one document must not cost the batch: that input fails, recorded
                logger.exception("extracting %s failed unexpectedly", job.source)
                yield Extraction(
                    source=job.source,
                    status="error",
                    error=f"extraction failed unexpectedly: {type(exc).__name__}: {exc}",
                )
