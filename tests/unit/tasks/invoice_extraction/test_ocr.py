"""Scans are read by OCR into the same fields as a text layer; OCR that finds nothing, or cannot
run, escalates with the reason; an image too large to decode is refused before it is decoded;
and OCR stays inside the reader's limits."""

from __future__ import annotations

import os
import struct
import time
import zlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from pydantic import ValidationError

from opsgate.errors import ExtractionError
from opsgate.inputs.isolation import MB, Limits
from opsgate.models import EscalationReason
from opsgate.settings import get_settings
from tasks.invoice_extraction.batch import ReadJob, extract_documents, read_options
from tasks.invoice_extraction.extracting import ReadOptions, extract_document
from tasks.invoice_extraction.layout import Word
from tasks.invoice_extraction.llm_extraction import CONFIDENCE
from tasks.invoice_extraction.ocr import Ocr, OcrOptions
from tasks.invoice_extraction.reading import document_text, read_document
from tests.support.fake_llm import FakeLlm, llm_configured
from tests.support.pdf_builder import image_only_pdf, text_pdf
from tests.support.samples import DE_INVOICE, US_INVOICE
from tests.support.scans import blank_page, image_file, page_images

REQUIRED = ["invoice_number", "invoice_date", "currency", "total"]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _reason(data: bytes, name: str = "scan.png", ocr: OcrOptions | None = None) -> ExtractionError:
    with pytest.raises(ExtractionError) as raised:
        document_text(data, name, ocr)
    return raised.value


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_an_invoice_image_is_read_into_the_same_fields_as_its_text_layer(tmp_path: Path, kind: str) -> None:
    scan = extract_document(_write(tmp_path, f"de.{kind.lower()}", image_file(page_images(DE_INVOICE), kind)), REQUIRED)
    printed = extract_document(_write(tmp_path, "de.pdf", text_pdf(DE_INVOICE)), REQUIRED)

    assert (scan.status, scan.escalations) == ("ok", [])
    fields = scan.fields
    assert (fields.invoice_number, fields.invoice_date, fields.due_date) == (
        "NT-2024-0815",
        date(2024, 2, 5),
        date(2024, 3, 6),
    )
    assert (fields.currency, fields.subtotal, fields.tax_total, fields.total) == (
        "EUR",
        Decimal("1255.00"),
        Decimal("238.45"),
        Decimal("1493.45"),
    )
    assert (fields.vendor_name, fields.vendor_tax_id, fields.iban) == (
        "Nordlicht Technik GmbH",
        "DE287451934",
        "DE12500105170648489890",
    )
    assert fields == printed.fields
    for name, score in printed.confidence.items():  # OCR is never surer than a text layer, and clean print is read well
        assert 0.5 < scan.confidence[name] <= score, name
    assert sum(scan.confidence.values()) < sum(printed.confidence.values())


def test_fields_a_model_read_from_a_scan_are_weighed_by_the_words_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = {
        "document_type": "invoice",
        "vendor_name": "Nordlicht Technik GmbH",
        "invoice_number": "NT-2024-0815",
        "invoice_date": "2024-02-05",
        "currency": "EUR",
        "total": 1493.45,
    }
    scan = _write(tmp_path, "de.png", image_file(page_images(DE_INVOICE), "PNG"))
    with llm_configured(monkeypatch):
        result = extract_document(scan, REQUIRED, backend="llm", client=FakeLlm(answer).client())

    assert (result.status, result.fields.invoice_number, result.fields.total) == (
        "ok",
        "NT-2024-0815",
        Decimal("1493.45"),
    )
    assert all(0.5 < result.confidence[name] < CONFIDENCE for name in answer if name != "document_type")


def test_the_ocr_settings_reach_the_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPSGATE_OCR_LANGUAGES", "deu")
    monkeypatch.setenv("OPSGATE_OCR_DPI", "200")
    monkeypatch.setenv("OPSGATE_READER_WALL_SECONDS", "30")
    get_settings.cache_clear()
    try:
        assert read_options().ocr == OcrOptions(languages="deu", dpi=200, seconds=30, max_pixels=60_000_000)
        monkeypatch.setenv("OPSGATE_OCR_LANGUAGES", "deu --user-words /etc/passwd")
        get_settings.cache_clear()
        with pytest.raises(ValidationError, match="ocr_languages"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_an_image_only_pdf_is_read_by_ocr(tmp_path: Path) -> None:
    result = extract_document(_write(tmp_path, "scan.pdf", image_file(page_images(US_INVOICE), "PDF")), REQUIRED)

    assert (result.status, result.escalations) == ("ok", [])
    fields = result.fields
    assert (fields.invoice_number, fields.invoice_date, fields.po_number) == (
        "BOS-24-0317",
        date(2024, 3, 15),
        "PO-55821",
    )
    assert (fields.currency, fields.total) == ("USD", Decimal("1222.56"))
    assert all(score < 1.0 for score in result.confidence.values())


def test_every_page_of_a_tiff_is_read_in_order(tmp_path: Path) -> None:
    pages = (
        page_images(["Brightline Office Supply LLC", "Invoice Number: BOS-24-0317"])
        + [blank_page()]
        + page_images(["Total Due $1,222.56"])
    )
    text = read_document(_write(tmp_path, "fax.tif", image_file(pages, "TIFF")))

    first, second, third = text.split("\f")
    assert "Invoice Number: BOS-24-0317" in first and second == "" and "Total Due $1,222.56" in third


def test_a_pdf_reads_its_text_layer_and_ocr_only_the_pages_without_one(tmp_path: Path) -> None:
    text_only = document_text(text_pdf(["Invoice Number: BOS-24-0317"]), "a.pdf")
    assert text_only.words == [], "no OCR, so no word confidences to weigh the fields by"
    scan = document_text(image_file(page_images(["Invoice Number: BOS-24-0317"]), "PDF"), "b.pdf")
    assert "Invoice Number: BOS-24-0317" in scan.text and all(0 < w.confidence <= 1 for w in scan.words)


def test_pale_print_and_text_on_a_shaded_row_are_read() -> None:
    """Pale grey print beside black print, and black print on a grey band, as invoice templates have them."""
    page = Image.new("L", (1650, 900), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=36)
    draw.text((100, 100), "Invoice Number: BOS-24-0317", fill=0, font=font)
    draw.text((100, 200), "Room Charges Grand Total", fill=205, font=font)
    draw.rectangle((80, 300, 1570, 380), fill=225)
    draw.text((100, 315), "Payment due by 14 April 2024", fill=0, font=font)

    text = document_text(image_file([page], "PNG", dpi=200), "pale.png").text
    lines = [
        line.strip() for line in text.splitlines() if line.strip()
    ]  # the layout marks the wide gaps between them with blank lines

    assert lines == ["Invoice Number: BOS-24-0317", "Room Charges Grand Total", "Payment due by 14 April 2024"]


def test_a_blank_scan_needs_ocr_and_says_it_is_blank(tmp_path: Path) -> None:
    error = _reason(image_file([blank_page()], "PNG"))
    assert error.reason == "needs_ocr" and "blank" in str(error) and "scan.png" in str(error)

    result = extract_document(_write(tmp_path, "scan.pdf", image_only_pdf()), REQUIRED)
    assert (result.status, [e.reason for e in result.escalations]) == ("escalated", [EscalationReason.NEEDS_OCR])
    assert "no text layer" in result.escalations[0].detail and "page 1: blank" in result.escalations[0].detail


def test_a_page_of_unsure_words_is_illegible(monkeypatch: pytest.MonkeyPatch) -> None:
    unsure = [
        Word("lnvo1ce", 10, 10, 80, 30, 0.35),
        Word("N0:", 90, 10, 120, 30, 0.4),
        Word("4?11", 130, 10, 170, 30, 0.55),
    ]
    monkeypatch.setattr(Ocr, "_tesseract", lambda self, image, dpi: unsure)
    page = Ocr("x.png", OcrOptions()).page(blank_page(72), 72)
    assert page.words == [] and page.problem is not None and "illegible" in page.problem and "0.43" in page.problem


def test_without_tesseract_the_scan_is_escalated_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = extract_document(_write(tmp_path, "scan.png", image_file(page_images(US_INVOICE), "PNG")), REQUIRED)
    assert (result.status, [e.reason for e in result.escalations]) == ("escalated", [EscalationReason.NEEDS_OCR])
    assert "tesseract program is not installed" in result.escalations[0].detail


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels and holds almost nothing: a decompression bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_an_image_too_large_to_decode_is_refused_undecoded() -> None:
    bomb = _reason(_png_header(100_000, 100_000))
    assert bomb.reason == "too_large_when_expanded" and "scan.png" in str(bomb)

    over = _reason(_png_header(10_000, 7_000))  # 70 million pixels: past the default budget, below Pillow's own check
    assert over.reason == "too_large_when_expanded" and "10000x7000 pixels" in str(over)

    image_bomb = _reason(image_only_pdf(50_000, 50_000), "scan.pdf")
    assert image_bomb.reason == "too_large_when_expanded" and "50000x50000-pixel image" in str(image_bomb)

    small_budget = _reason(
        image_file(page_images(["Invoice Number: 1"], dpi=100), "TIFF"), "fax.tif", OcrOptions(max_pixels=500_000)
    )
    assert small_budget.reason == "too_large_when_expanded" and "page 1" in str(small_budget)


def test_a_damaged_image_is_corrupt() -> None:
    data = image_file(page_images(["Invoice Number: 1"], dpi=100), "PNG")
    assert _reason(data[: len(data) // 2]).reason == "corrupt"


def test_ocr_past_its_time_needs_ocr_and_says_so() -> None:
    error = _reason(image_file(page_images(US_INVOICE), "PNG"), ocr=OcrOptions(seconds=0.01))
    assert error.reason == "needs_ocr" and "took longer than 0.01 s" in str(error)


def test_ocr_is_killed_with_a_reader_killed_at_its_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in ``tesseract`` that hangs: the reader is killed at its wall-clock limit, and the
    OCR process it started goes with it instead of running on."""
    bin_dir, pid_file = tmp_path / "bin", tmp_path / "tesseract.pid"
    bin_dir.mkdir()
    fake = bin_dir / "tesseract"
    fake.write_text(f"#!/bin/sh\necho $$ > {pid_file}\nexec sleep 300\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    scan = _write(tmp_path, "scan.png", image_file(page_images(["Invoice Number: 1"], dpi=100), "PNG"))

    (result,) = extract_documents(
        [ReadJob(scan, "scan.png", tuple(REQUIRED), ReadOptions())], limits=Limits(512 * MB, 60, 3, 64 * MB, 1)
    )

    assert result.status == "error" and "read_timeout" in (result.error or "")
    pid = int(pid_file.read_text())
    for _ in range(50):
        if not _alive(pid):
            break
        time.sleep(0.1)
    assert not _alive(pid), "the OCR process outlived the reader that started it"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[-1][0] != "Z"  # a zombie has died, waiting for its parent to reap it
    except FileNotFoundError:
        return False
