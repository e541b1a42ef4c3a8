"""The test PDF writer produces files pdfium opens as written (no repair needed)."""

from __future__ import annotations

import re

import pypdfium2 as pdfium

from tests.support.pdf_builder import encrypted_pdf, image_only_pdf, text_pdf


def _xref_offsets_point_at_objects(data: bytes) -> bool:
    start = int(re.search(rb"startxref\n(\d+)", data).group(1))
    assert data[start:].startswith(b"xref")
    entries = re.findall(rb"(\d{10}) 00000 n ", data[start:])
    return all(re.match(rb"%d 0 obj" % (n + 1), data[int(off) :]) for n, off in enumerate(entries))


def test_xref_offsets_are_exact() -> None:
    for data in (text_pdf(["a", "b"]), image_only_pdf(), encrypted_pdf(["x"])):
        assert _xref_offsets_point_at_objects(data)


def test_encrypted_pdf_opens_with_its_password() -> None:
    document = pdfium.PdfDocument(encrypted_pdf(["Secret total 12.00"], "pw"), password="pw")
    try:
        page = document[0]
        textpage = page.get_textpage()
        assert textpage.get_text_range().strip() == "Secret total 12.00"
        textpage.close()
        page.close()
    finally:
        document.close()
