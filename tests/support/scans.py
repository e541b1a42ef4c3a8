"""Scans made in the test: pages of the PDF builder's invoices rendered to images, as a scanner
or a phone would deliver them (PNG, JPEG, multi-page TIFF, an image-only PDF)."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
from PIL import Image

from tests.support.pdf_builder import text_pdf


def page_images(lines: list[str], dpi: int = 300) -> list[Image.Image]:
    """The pages of ``text_pdf(lines)`` as grey images at ``dpi``: the printed invoice, scanned."""
    document = pdfium.PdfDocument(text_pdf(lines))
    try:
        return [document[i].render(scale=dpi / 72, grayscale=True).to_pil().convert("L") for i in range(len(document))]
    finally:
        document.close()


def image_file(pages: list[Image.Image], kind: str, dpi: int = 300) -> bytes:
    """``pages`` saved as one file of ``kind`` (PNG, JPEG, TIFF or PDF); TIFF and PDF keep every page."""
    out = io.BytesIO()
    more = {"save_all": True, "append_images": pages[1:]} if kind in ("TIFF", "PDF") else {}
    resolution = {"resolution": dpi} if kind == "PDF" else {"dpi": (dpi, dpi)}
    pages[0].save(out, format=kind, **more, **resolution)
    return out.getvalue()


def blank_page(dpi: int = 300) -> Image.Image:
    """An empty white A4 page."""
    return Image.new("L", (round(8.27 * dpi), round(11.69 * dpi)), 255)
