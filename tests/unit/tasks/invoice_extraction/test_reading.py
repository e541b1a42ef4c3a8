"""The reader returns text for good files and a precise reason code for every bad one."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsgate.errors import ExtractionError
from tasks.invoice_extraction.reading import read_document
from tests.support.pdf_builder import encrypted_pdf, image_only_pdf, text_pdf


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _reason(path: Path, **kwargs) -> str:
    with pytest.raises(ExtractionError) as info:
        read_document(path, **kwargs)
    assert str(info.value), "the error must carry a human message"
    return info.value.reason


def test_text_pdf_keeps_line_order_and_non_ascii(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.pdf", text_pdf(["Rechnung (Kopie)", "Fällig am: 06.03.2024", "Summe 1.234,56 €"]))
    text = read_document(path)
    lines = [line.strip() for line in text.splitlines()]
    assert lines == ["Rechnung (Kopie)", "Fällig am: 06.03.2024", "Summe 1.234,56 €"]


def test_multi_page_pdf_joins_pages_in_order(tmp_path: Path) -> None:
    lines = [f"Line number {i:03d} of the document" for i in range(100)]  # 48 lines per page -> 3 pages
    text = read_document(_write(tmp_path, "long.pdf", text_pdf(lines)))
    assert text.count("\f") == 2
    found = [line.strip() for line in text.replace("\f", "\n").splitlines() if line.strip()]
    assert found == lines


def test_pdf_detected_by_magic_bytes_not_extension(tmp_path: Path) -> None:
    path = _write(tmp_path, "scan_from_mail.bin", text_pdf(["Invoice No: 77"]))
    assert "Invoice No: 77" in read_document(path)


def test_plain_text_utf8_and_cp1252(tmp_path: Path) -> None:
    utf8 = _write(tmp_path, "r.txt", "Total € 12,00\n".encode())
    legacy = _write(tmp_path, "r2.txt", "Total € 12,00 Straße\n".encode("cp1252"))
    assert read_document(utf8).strip() == "Total € 12,00"
    assert read_document(legacy).strip() == "Total € 12,00 Straße"


def test_missing_file(tmp_path: Path) -> None:
    assert _reason(tmp_path / "nope.pdf") == "not_found"


def test_empty_file(tmp_path: Path) -> None:
    assert _reason(_write(tmp_path, "empty.pdf", b"")) == "empty"


def test_whitespace_only_text_is_empty(tmp_path: Path) -> None:
    assert _reason(_write(tmp_path, "blank.txt", b"  \n\n \t")) == "empty"


def test_too_large(tmp_path: Path) -> None:
    path = _write(tmp_path, "big.pdf", text_pdf(["Invoice"]))
    assert _reason(path, max_bytes=100) == "too_large"
    assert "Invoice" in read_document(path, max_bytes=10_000)


def test_corrupt_pdf(tmp_path: Path) -> None:
    assert _reason(_write(tmp_path, "broken.pdf", b"%PDF-1.4\n\x00\x01 garbage not a pdf")) == "corrupt"


def test_pdf_extension_without_pdf_content_is_corrupt(tmp_path: Path) -> None:
    assert _reason(_write(tmp_path, "fake.pdf", b"Invoice No 1 but saved as .pdf")) == "corrupt"


def test_truncated_pdf_is_corrupt(tmp_path: Path) -> None:
    data = text_pdf(["Invoice No: 12"])
    path = _write(tmp_path, "cut.pdf", data[: len(data) // 3])  # a third of it: no cross-reference table, no trailer
    assert _reason(path) == "corrupt"


def test_image_only_pdf_needs_ocr(tmp_path: Path) -> None:
    assert _reason(_write(tmp_path, "scan.pdf", image_only_pdf())) == "needs_ocr"


def test_encrypted_pdf(tmp_path: Path) -> None:
    assert _reason(_write(tmp_path, "locked.pdf", encrypted_pdf(["Invoice No: 9"]))) == "encrypted"


def test_damaged_png_is_corrupt_whatever_its_name(tmp_path: Path) -> None:
    """PNG, JPEG and TIFF are read by OCR, so one that cannot be decoded is damaged, not unsupported."""
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64))
    assert _reason(_write(tmp_path, "photo.txt", png)) == "corrupt"


def test_gif_is_unsupported(tmp_path: Path) -> None:
    assert _reason(_write(tmp_path, "photo.txt", b"GIF89a" + bytes(range(64)))) == "unsupported_format"


def test_other_binary_is_unsupported(tmp_path: Path) -> None:
    assert _reason(_write(tmp_path, "blob.dat", bytes(range(256)) * 4)) == "unsupported_format"
