"""The pre-checks that give a clear reason before pdfium touches a PDF: what its compressed
streams expand to, how deep it nests, and whether it starts like another format."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgate.errors import ExtractionError
from tasks.invoice_extraction.extracting import extract_document
from tasks.invoice_extraction.reading import check_pdf, document_text, is_pdf
from tests.support.pdf_builder import (
    deeply_nested_pdf,
    flate_bomb_pdf,
    image_only_pdf,
    object_stream_pdf,
    text_pdf,
    zipped,
)
from tests.support.samples import US_INVOICE

MB = 1024 * 1024


def _refusal(data: bytes, budget: int = 256 * MB) -> ExtractionError:
    with pytest.raises(ExtractionError) as raised:
        check_pdf(data, "x.pdf", budget)
    return raised.value


def test_flate_streams_are_measured_against_the_budget_without_being_kept() -> None:
    bomb = flate_bomb_pdf(24)
    assert len(bomb) < MB, "a small file on disk"
    refused = _refusal(bomb, budget=16 * MB)
    assert refused.reason == "too_large_when_expanded" and "more than 16 MB" in str(refused)
    check_pdf(bomb, "x.pdf", 32 * MB)  # the same stream under a larger budget is fine


def test_a_400_mb_bomb_is_refused_by_the_default_budget() -> None:
    assert _refusal(flate_bomb_pdf(400)).reason == "too_large_when_expanded"


def test_image_streams_do_not_count() -> None:
    check_pdf(image_only_pdf(), "scan.pdf", 1)  # its image is a Flate stream; reading text never decodes it


def test_nesting_past_the_bound_is_corrupt_and_names_the_depth() -> None:
    refused = _refusal(deeply_nested_pdf(["Invoice 1"], 200_000))
    assert refused.reason == "corrupt" and "nested more than 256 deep" in str(refused)
    check_pdf(deeply_nested_pdf(["Invoice 1"], 40), "x.pdf")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    check_pdf(text_pdf(["[" * 1000 + " (<<" * 300, "Total 12.00"]), "x.pdf")


def test_nesting_inside_an_object_stream_counts() -> None:
    assert _refusal(object_stream_pdf(["Invoice 1"], b"[" * 1000 + b"]" * 1000)).reason == "corrupt"
    check_pdf(object_stream_pdf(["Invoice 1"], b"<< /A [1 2 [3]] >>"), "x.pdf")


def test_a_zip_holding_a_pdf_is_not_read_as_that_pdf() -> None:
    archive = zipped("invoice.pdf", text_pdf(US_INVOICE))
    assert b"%PDF-" in archive[:1024] and not is_pdf(archive)
    with pytest.raises(ExtractionError) as raised:
        document_text(archive, "invoice.pdf")
    assert raised.value.reason == "unsupported_format" and "ZIP archive" in str(raised.value)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (deeply_nested_pdf(["Invoice 1"], 200_000), "corrupt: dictionaries and arrays nested more than 256 deep"),
        (flate_bomb_pdf(300), "too_large_when_expanded"),
        (zipped("invoice.pdf", text_pdf(US_INVOICE)), "is not a supported document"),
    ],
)
def test_extraction_fails_with_the_reason(tmp_path: Path, data: bytes, error: str) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    result = extract_document(path, ["total"])
    assert result.status == "error" and result.error is not None and error in result.error
