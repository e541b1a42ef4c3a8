"""What a preview worker process does with a document's bytes: find the proposed values in a PDF's
text layer (boxes, as fractions of the page, so the browser can place them over a picture of any
width) or in a text file (character offsets), and draw a page as a PNG.

Runs only inside ``opsgate.inputs.isolation``'s worker processes (``read_preview`` is the reader):
documents are untrusted, and pdfium or an image decoder may allocate without bound or abort. The
kind of a document comes from its bytes, not its name (inbox files are often misnamed). Every
occurrence of a value is kept, up to ``MAX_BOXES`` a field: a value found twice may be right in one
place and wrong in the other.
"""

from __future__ import annotations

import ctypes
import io
import math
import re
from dataclasses import dataclass
from typing import Literal

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel

from opsgate.inputs.text import decode_text

MAX_BOXES = 20  # occurrences shown per field: more is noise on the screen
MAX_TEXT_CHARS = 200_000  # of a text document, sent to the browser
MAX_PAGES_SEARCHED = 50  # an invoice has a few; a 2,000-page file must not hold up a page of proposals
_DEVICE = 100_000  # device units across a page when its boxes are mapped: fine enough for any screen
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
_OTHER_BINARY = {
    b"GIF8": "a GIF image",
    b"BM": "a BMP image",
    b"PK\x03\x04": "a ZIP archive",
    b"\xd0\xcf\x11\xe0": "an Office file",
}
_NO_TEXT_LAYER = "a scan: no text layer to find values in"


class Box(BaseModel):
    """A highlighted value on a page, as fractions of the page (0..1), top-left origin."""

    page: int
    left: float
    top: float
    width: float
    height: float


class Span(BaseModel):
    """A highlighted value in a plain-text document: character offsets into ``Preview.text``."""

    start: int
    end: int


class Preview(BaseModel):
    """What the screen shows beside a proposal; ``reason`` says, for people, why a preview or a highlight is missing."""

    kind: Literal["pdf", "image", "text", "none"]
    pages: int = 0
    text: str | None = None
    boxes: dict[str, list[Box]] = {}
    spans: dict[str, list[Span]] = {}
    reason: str = ""


class Unreadable(Exception):
    """A document that cannot be previewed, with the reason for people."""


@dataclass(frozen=True)
class Locate:
    data: bytes
    name: str
    patterns: dict[str, re.Pattern[str]]
    max_pixels: int


@dataclass(frozen=True)
class Render:
    data: bytes
    name: str
    page: int
    width: int
    max_pixels: int


@dataclass(frozen=True)
class Rendered:
    png: bytes | None = None
    reason: str = ""


def read_preview(job: Locate | Render | None) -> Preview | Rendered | None:
    """What a worker process runs for one job (``None`` only starts the worker)."""
    if job is None:
        return None
    try:
        kind = _kind(job.data, job.name)
        if isinstance(job, Render):
            if kind == "text":
                raise Unreadable("a text document has no pages to picture")
            return Rendered(png=_render_pdf(job) if kind == "pdf" else _render_image(job))
        if kind == "pdf":
            return _locate_pdf(job)
        if kind == "image":
            return Preview(kind="image", pages=_image_pages(job), reason="a scan: values are not located on images")
        return _locate_text(job)
    except Unreadable as exc:
        return Rendered(reason=str(exc)) if isinstance(job, Render) else Preview(kind="none", reason=str(exc))


def _kind(data: bytes, name: str) -> Literal["pdf", "image", "text"]:
    """By the bytes, not the name: inbox files are often misnamed."""
    if data.startswith(_IMAGE_MAGIC):
        return "image"
    for magic, kind in _OTHER_BINARY.items():
        if data.startswith(magic):
            raise Unreadable(f"{kind} is not previewed")
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if name.lower().endswith(".pdf"):
        raise Unreadable("named .pdf but not a PDF file")
    head = data[:8192]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Unreadable("a binary file of a kind that is not previewed")
    return "text"


def _open_pdf(data: bytes) -> pdfium.PdfDocument:
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise Unreadable("the PDF is password-protected") from exc
        raise Unreadable(f"the PDF is damaged and cannot be opened ({exc})") from exc
    if len(document) == 0:
        document.close()
        raise Unreadable("the PDF has no pages")
    return document


def _locate_pdf(job: Locate) -> Preview:
    document = _open_pdf(job.data)
    boxes: dict[str, list[Box]] = {field: [] for field in job.patterns}
    has_text = False
    try:
        pages = len(document)
        for index in range(min(pages, MAX_PAGES_SEARCHED)):
            page = document[index]
            textpage = page.get_textpage()
            try:
                text = _page_text(textpage)
                has_text = has_text or bool(text.strip())
                for field, pattern in job.patterns.items():
                    for match in pattern.finditer(text):
                        if len(boxes[field]) >= MAX_BOXES:
                            break
                        boxes[field] += _match_boxes(page, textpage, text, match.start(), match.end(), index)
                        del boxes[field][MAX_BOXES:]
            finally:
                textpage.close()
                page.close()
    except pdfium.PdfiumError as exc:
        raise Unreadable(f"a page of the PDF cannot be read ({exc})") from exc
    finally:
        document.close()
    reason = "" if has_text else _NO_TEXT_LAYER
    if has_text and pages > MAX_PAGES_SEARCHED:
        reason = f"values are looked for on the first {MAX_PAGES_SEARCHED} of its {pages} pages only"
    return Preview(kind="pdf", pages=pages, boxes={f: b for f, b in boxes.items() if b}, reason=reason)


def _page_text(textpage: pdfium.PdfTextPage) -> str:
    """The text layer, one character per pdfium character index, so a match's offsets are indices."""
    return "".join(chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i)) for i in range(textpage.count_chars()))


def _match_boxes(
    page: pdfium.PdfPage, textpage: pdfium.PdfTextPage, text: str, start: int, end: int, index: int
) -> list[Box]:
    """One box per line the match runs over: a value broken across lines is two boxes, not one
    spanning both lines' full width."""
    rect = pdfium_c.FS_RECTF()
    lines: list[list[float]] = []  # left, bottom, right, top in page space (y up)
    for i in range(start, end):
        if text[i].isspace() or not pdfium_c.FPDFText_GetLooseCharBox(textpage.raw, i, rect):
            continue
        box = [rect.left, rect.bottom, rect.right, rect.top]
        line = lines[-1] if lines else None
        if line and min(line[3], box[3]) - max(line[1], box[1]) > 0.5 * min(line[3] - line[1], box[3] - box[1]):
            lines[-1] = [min(line[0], box[0]), min(line[1], box[1]), max(line[2], box[2]), max(line[3], box[3])]
        else:
            lines.append(box)
    return [_fractions(page, line, index) for line in lines]


def _page_size(page: pdfium.PdfPage) -> tuple[float, float]:
    width, height = page.get_size()
    if not (width > 0 and height > 0):
        raise Unreadable(f"a page of the PDF has no size ({width:g} x {height:g})")
    return width, height


def _fractions(page: pdfium.PdfPage, line: list[float], index: int) -> Box:
    """A box in page space as fractions of the page as displayed: pdfium's own mapping, so a
    rotated page or one whose media box is not at the origin comes out where it is drawn."""
    width, height = _page_size(page)
    size_y = max(1, round(_DEVICE * height / width))
    corners = []
    for x, y in ((line[0], line[1]), (line[2], line[3])):
        dx, dy = ctypes.c_int(), ctypes.c_int()
        pdfium_c.FPDF_PageToDevice(page.raw, 0, 0, _DEVICE, size_y, 0, x, y, dx, dy)
        corners.append((dx.value / _DEVICE, dy.value / size_y))
    (x0, y0), (x1, y1) = corners
    left, top = max(0.0, min(x0, x1)), max(0.0, min(y0, y1))
    right, bottom = min(1.0, max(x0, x1)), min(1.0, max(y0, y1))
    return Box(page=index, left=left, top=top, width=max(0.0, right - left), height=max(0.0, bottom - top))


def _render_pdf(job: Render) -> bytes:
    document = _open_pdf(job.data)
    try:
        _check_page(job.page, len(document))
        page = document[job.page]
        try:
            width, height = _page_size(page)
            scale = (job.width - 0.001) / width  # pdfium rounds the bitmap's size up
            if width * height * scale * scale > job.max_pixels:  # a page far taller than wide
                scale = math.sqrt(job.max_pixels / (width * height))
            for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
                pixels = math.prod(image.get_px_size())
                if pixels > job.max_pixels:  # rendering decodes it; its size is in its dictionary
                    raise Unreadable(f"the page holds an image of {pixels} pixels, over the limit of {job.max_pixels}")
            bitmap = page.render(scale=scale, may_draw_forms=True)
            try:
                return _png(bitmap.to_pil())
            finally:
                bitmap.close()
        finally:
            page.close()
    except pdfium.PdfiumError as exc:
        raise Unreadable(f"the page cannot be rendered ({exc})") from exc
    finally:
        document.close()


def _open_image(job: Locate | Render) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(job.data))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise Unreadable(f"the image is damaged and cannot be decoded ({exc})") from exc
    if image.width * image.height > job.max_pixels:
        raise Unreadable(f"the image is {image.width}x{image.height} pixels, over the limit of {job.max_pixels}")
    return image


def _image_pages(job: Locate) -> int:
    return getattr(_open_image(job), "n_frames", 1)


def _render_image(job: Render) -> bytes:
    image = _open_image(job)
    _check_page(job.page, getattr(image, "n_frames", 1))
    try:
        image.seek(job.page)
        if image.width * image.height > job.max_pixels:  # a TIFF's later pages have sizes of their own
            raise Unreadable(f"page {job.page + 1} is {image.width}x{image.height} pixels, over the limit")
        height = max(1, round(image.height * job.width / image.width))
        picture = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        return _png(picture.resize((job.width, height), Image.Resampling.BILINEAR, reducing_gap=2.0))
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise Unreadable(f"the image is damaged and cannot be decoded ({exc})") from exc


def _check_page(page: int, pages: int) -> None:
    if not 0 <= page < pages:
        raise Unreadable(f"there is no page {page + 1}: the document has {pages}")


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)  # a fast, larger file: it is cached and sent once per view
    return out.getvalue()


def _locate_text(job: Locate) -> Preview:
    text = decode_text(job.data).replace("\r\n", "\n").replace("\r", "\n")
    shown = text[:MAX_TEXT_CHARS]
    spans = {
        field: [Span(start=m.start(), end=m.end()) for m, _ in zip(pattern.finditer(shown), range(MAX_BOXES))]
        for field, pattern in job.patterns.items()
    }
    reason = f"only the first {MAX_TEXT_CHARS} characters are shown" if len(text) > MAX_TEXT_CHARS else ""
    return Preview(kind="text", text=shown, spans={f: s for f, s in spans.items() if s}, reason=reason)
