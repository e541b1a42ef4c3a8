"""Turn a document file into plain text, or say precisely why that is not possible.

The workflow needs to tell "this document is broken" (an error a person must fix at the source)
from "this document is a scan nobody can read" (a person must read it). So every failure is an
``ExtractionError`` with a short ``reason`` code; nothing here guesses or silently returns "".

Scans are read by OCR (``ocr``): a PDF page without a text layer and a PNG, JPEG or TIFF file
(every page of it). ``needs_ocr`` then means OCR found no usable text, and the message says why
(blank, illegible, OCR not installed or too slow). What OCR read comes back with its words, so
that the confidence of a field read from unsure words can be lowered (``word_confidence``).

PDFs are recognised by their magic bytes, not by their name, because inbox files are often
misnamed; a file that starts like another format (a zip holding a PDF) is that format, whatever
follows.

Before pdfium sees a PDF, ``check_pdf`` walks its bytes for what pdfium would choke on without
saying so: compressed streams that expand past a budget (a zip bomb for PDF readers:
``too_large_when_expanded``) and dictionaries or arrays nested absurdly deep (``corrupt``). It
cannot see everything (other filters, images decoded later): the reader's process limits
(``opsgate.inputs.isolation``) are the backstop.

What a document was read from is its bytes: ``document_inputs`` digests the bytes already
loaded, so a proposal can say exactly which file content it came from and a replay can tell a
document changed in place from the original.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from opsgate import ExtractionError, decode_text
from tasks.invoice_extraction.einvoice import looks_like_einvoice
from tasks.invoice_extraction.layout import Word, layout_text_lines, page_text
from tasks.invoice_extraction.ocr import Ocr, OcrOptions, PageWords, image_pages, render_scale

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
DEFAULT_MAX_EXPANDED = 256 * 1024 * 1024
MAX_NESTING = 256  # real PDFs nest a few levels; pdfium gives up silently far below what a hostile file can do
PAGE_SEPARATOR = "\f"
# pdfium marks a hyphen it found at a line end (a word broken across lines) with U+FFFE; U+00AD is the soft hyphen.
_SOFT_HYPHENS = frozenset("\ufffe\u00ad")
_LAYOUT_GAP = re.compile(r"\S {3,}\S")
# File names the e-invoice standards prescribe for the XML inside a PDF/A-3 (compared lower-case).
EINVOICE_FILE_NAMES = frozenset({"factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml"})

# Images read by OCR; their signatures are also in _BINARY_MAGIC, so no image is ever read as text.
_IMAGE_MAGIC: dict[bytes, str] = {
    b"\x89PNG\r\n\x1a\n": "PNG image",
    b"\xff\xd8\xff": "JPEG image",
    b"II*\x00": "TIFF image",
    b"MM\x00*": "TIFF image",
}
# Signatures of common binary formats that arrive in inboxes; only the images above are read.
_BINARY_MAGIC: dict[bytes, str] = {
    b"\x89PNG\r\n\x1a\n": "PNG image",
    b"\xff\xd8\xff": "JPEG image",
    b"GIF8": "GIF image",
    b"II*\x00": "TIFF image",
    b"MM\x00*": "TIFF image",
    b"BM": "BMP image",
    b"PK\x03\x04": "ZIP archive (or Office document)",
    b"\xd0\xcf\x11\xe0": "legacy Office document",
}


@dataclass(frozen=True)
class DocumentText:
    """A document's text, and when any of it was read by OCR, the words of every page with how
    sure the reader was of each (1.0 for a text layer)."""

    text: str
    words: list[Word] = field(default_factory=list)


def read_document(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, ocr: OcrOptions | None = None) -> str:
    """Return the text of a PDF (text layer, OCR for pages without one), an image (OCR) or a text file.

    Pages are joined with a form feed so callers can still tell where a page ends.
    Raises ``ExtractionError`` with reason ``not_found``, ``empty``, ``too_large``,
    ``too_large_when_expanded``, ``corrupt``, ``encrypted``, ``needs_ocr`` or ``unsupported_format``.
    """
    path = Path(path)
    return document_text(load_document(path, max_bytes), path.name, ocr).text


def load_document(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of ``path``; ``ExtractionError`` ``not_found``, ``empty`` or ``too_large`` otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ExtractionError("not_found", f"{path.name}: file not found")
    size = path.stat().st_size
    if size == 0:
        raise ExtractionError("empty", f"{path.name}: the file is empty")
    if size > max_bytes:
        raise ExtractionError(
            "too_large", f"{path.name}: {size} bytes is over the {max_bytes}-byte limit for documents"
        )
    return path.read_bytes()


def document_inputs(data: bytes) -> dict[str, Any]:
    """What a case was proposed from, as stored with it: the SHA-256 of the document's bytes and their size."""
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}


def document_text(data: bytes, name: str, ocr: OcrOptions | None = None) -> DocumentText:
    """The text of a document already loaded; ``name`` is for messages and the ``.pdf`` check."""
    ocr = ocr or OcrOptions()
    if _binary_kind(data, _IMAGE_MAGIC) is not None:
        return _read_image(data, name, ocr)
    _refuse_binary(data, name)
    if is_pdf(data):
        return _read_pdf(data, name, ocr)
    if name.lower().endswith(".pdf"):
        raise ExtractionError("corrupt", f"{name}: named .pdf but does not start like a PDF file")
    return DocumentText(_read_text(data, name))


def embedded_einvoice(data: bytes, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[str, bytes] | None:
    """The e-invoice XML attached to a PDF (Factur-X, ZUGFeRD, XRechnung) as (file name, bytes).

    Attachments with a known e-invoice file name come first; any other ``.xml`` attachment counts
    only when its root element is CII or UBL. ``None`` for a PDF without one, or not a PDF.
    Raises ``ExtractionError`` (``corrupt``/``encrypted``) when the PDF cannot be opened, and
    ``too_large`` when the attachment is over ``max_bytes``.
    """
    if not is_pdf(data):
        return None
    document = _open_pdf(data, name)
    try:
        candidates = []
        for index in range(document.count_attachments()):
            attachment = document.get_attachment(index)
            try:
                file_name = attachment.get_name()
            except pdfium.PdfiumError:
                continue
            if file_name.lower().endswith(".xml"):
                candidates.append((file_name.lower() not in EINVOICE_FILE_NAMES, index, file_name, attachment))
        for unknown_name, _, file_name, attachment in sorted(candidates, key=lambda c: c[:2]):
            try:
                content = bytes(attachment.get_data())
            except pdfium.PdfiumError:
                continue  # an empty or unreadable attachment carries no invoice
            if len(content) > max_bytes:
                raise ExtractionError("too_large", f"{name}: attachment {file_name} is over the {max_bytes}-byte limit")
            if not unknown_name or looks_like_einvoice(content):
                return file_name, content
        return None
    finally:
        document.close()


def is_pdf(data: bytes) -> bool:
    """PDF readers accept the header anywhere in the first 1024 bytes; so do we, unless the file
    starts like another format (an uncompressed zip shows its PDF's header within that range)."""
    return b"%PDF-" in data[:1024] and _binary_kind(data) is None


def check_pdf(data: bytes, name: str, max_expanded: int = DEFAULT_MAX_EXPANDED) -> None:
    """Refuse a PDF whose compressed streams expand past ``max_expanded`` bytes in total
    (``too_large_when_expanded``), or whose dictionaries and arrays nest deeper than ``MAX_NESTING``
    (``corrupt``), outside strings and stream data and inside object streams, before pdfium parses it.

    FlateDecode streams are inflated incrementally and thrown away, so the check itself uses little
    memory; image streams are not counted (reading text does not decode them).
    """
    _PdfWalk(data, name, max_expanded).walk(data)


_TOKEN = re.compile(rb"<<|>>|[\[\]()<%]|(?<=[\s>])stream(?=\r\n|\n|\r)")
_STRING_TOKEN = re.compile(rb"[()\\]")
_EOL = re.compile(rb"[\r\n]")
_FLATE = re.compile(rb"/FlateDecode\b|/Fl\b")
_IMAGE = re.compile(rb"/Subtype\s*/Image\b")
_OBJECT_STREAM = re.compile(rb"/Type\s*/ObjStm\b")
_CHUNK = 64 * 1024


class _PdfWalk:
    """One pass over a PDF's tokens: nesting depth, and the expanded size of its Flate streams."""

    def __init__(self, data: bytes, name: str, budget: int) -> None:
        self.data, self.name, self.budget, self.expanded = data, name, budget, 0

    def walk(self, data: bytes, streams: bool = True) -> None:
        depth, pos = 0, 0
        while (match := _TOKEN.search(data, pos)) is not None:
            token, pos = match.group(), match.end()
            if token in (b"<<", b"["):
                depth += 1
                if depth > MAX_NESTING:
                    raise ExtractionError(
                        "corrupt",
                        f"{self.name}: corrupt: dictionaries and arrays nested more than {MAX_NESTING} deep (at byte {match.start()})",
                    )
            elif token in (b">>", b"]"):
                depth = max(0, depth - 1)
            elif token == b"(":
                pos = _string_end(data, pos)
            elif token == b"<":
                pos = (data.find(b">", pos) + 1) or len(data)
            elif token == b"%":
                found = _EOL.search(data, pos)
                pos = found.end() if found else len(data)
            elif streams:
                pos = self._stream(match.start(), pos)

    def _stream(self, keyword: int, pos: int) -> int:
        """Inflate the stream after ``keyword`` if its dictionary says FlateDecode; where it ends."""
        start = pos + (2 if self.data.startswith(b"\r\n", pos) else 1)
        end = self.data.find(b"endstream", start)
        end = len(self.data) if end < 0 else end
        dictionary = self.data[max(self.data.rfind(b"obj", 0, keyword), 0) : keyword]
        if _FLATE.search(dictionary) and not _IMAGE.search(dictionary):
            inflated = self._inflate(start, keep=_OBJECT_STREAM.search(dictionary) is not None)
            if inflated:
                self.walk(inflated, streams=False)  # objects packed in an object stream nest like any others
        return end + len(b"endstream")

    def _inflate(self, start: int, keep: bool) -> bytes:
        inflater, kept = zlib.decompressobj(), []
        view = memoryview(self.data)
        try:
            for offset in range(start, len(self.data), _CHUNK):
                pending = view[offset : offset + _CHUNK]
                while pending and not inflater.eof:
                    out = inflater.decompress(pending, _CHUNK * 16)
                    self.expanded += len(out)
                    if self.expanded > self.budget:
                        raise ExtractionError(
                            "too_large_when_expanded",
                            f"{self.name}: too_large_when_expanded: its compressed streams expand to more than {self.budget // (1024 * 1024)} MB; not read",
                        )
                    if keep:
                        kept.append(out)
                    pending = inflater.unconsumed_tail
                if inflater.eof:
                    break
        except zlib.error:
            pass  # not (or no longer) Flate data: pdfium reads what inflated, as counted
        return b"".join(kept)


def _string_end(data: bytes, pos: int) -> int:
    """Where the literal string opened just before ``pos`` ends (balanced parentheses, escapes)."""
    depth = 1
    while depth and (match := _STRING_TOKEN.search(data, pos)) is not None:
        pos = match.end() + (1 if match.group() == b"\\" else 0)
        depth += {b"(": 1, b")": -1}.get(match.group(), 0)
    return pos if depth == 0 else len(data)


def _open_pdf(data: bytes, name: str) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise ExtractionError("encrypted", f"{name}: the PDF is password-protected") from exc
        raise ExtractionError("corrupt", f"{name}: the PDF is damaged and cannot be opened ({exc})") from exc


def _read_pdf(data: bytes, name: str, options: OcrOptions) -> DocumentText:
    """Read the text layer page by page, OCR for a page without one; every pdfium handle is closed before returning."""
    document = _open_pdf(data, name)
    ocr = Ocr(name, options)
    try:
        page_count = len(document)
        if page_count == 0:
            raise ExtractionError("corrupt", f"{name}: the PDF has no pages")
        pages = [_page_words_or_ocr(document, index, ocr) for index in range(page_count)]
    except pdfium.PdfiumError as exc:
        raise ExtractionError("corrupt", f"{name}: a page of the PDF cannot be read ({exc})") from exc
    finally:
        document.close()
    return _joined(pages, name, "the PDF has no text layer and")


def _read_image(data: bytes, name: str, options: OcrOptions) -> DocumentText:
    ocr = Ocr(name, options)
    return _joined([ocr.page(image, dpi) for image, dpi in image_pages(data, name, options.max_pixels)], name, "")


def _joined(pages: list[PageWords], name: str, preamble: str) -> DocumentText:
    """The pages' text in order; their words too when OCR read any. ``needs_ocr`` naming each
    page's problem when none has usable text."""
    if not any(page.words for page in pages):
        problems = "; ".join(f"page {i}: {page.problem}" for i, page in enumerate(pages, 1) if page.problem)
        raise ExtractionError(
            "needs_ocr", f"{name}: {preamble + ' ' if preamble else ''}OCR found no usable text ({problems})"
        )
    text = PAGE_SEPARATOR.join(page_text(page.words) for page in pages)
    return DocumentText(text, [w for page in pages for w in page.words] if any(page.by_ocr for page in pages) else [])


def _page_words_or_ocr(document: pdfium.PdfDocument, index: int, ocr: Ocr) -> PageWords:
    """The page's words from its text layer, or from OCR of the rendered page when it has none."""
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            words = _page_words(textpage, page.get_height())
        finally:
            textpage.close()
        if any(w.text.strip() for w in words):
            return PageWords(words, by_ocr=False)
        _check_images(page, ocr, index)
        width, height = page.get_size()
        scale = render_scale(width, height, ocr.options.dpi, ocr.options.max_pixels)
        bitmap = page.render(scale=scale, grayscale=True)
        try:
            image = bitmap.to_pil()
        finally:
            bitmap.close()
    finally:
        page.close()
    return ocr.page(image, scale * 72)


def _check_images(page: pdfium.PdfPage, ocr: Ocr, index: int) -> None:
    """Refuse to render a page holding an image larger than the pixel budget: its size is in the
    image's dictionary, its pixels would be decoded by rendering (the pre-check leaves images alone)."""
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]):
        width, height = image.get_px_size()
        if width * height > ocr.options.max_pixels:
            raise ExtractionError(
                "too_large_when_expanded",
                (
                    f"{ocr.name}: too_large_when_expanded: page {index + 1} holds a {width}x{height}-pixel "
                    f"image, over the {ocr.options.max_pixels}-pixel limit; not rendered"
                ),
            )


def _page_words(textpage: pdfium.PdfTextPage, height: float) -> list[Word]:
    """Words from the text layer's characters: a space, a line break or a jump along the line ends one.

    A character's band is cut from its baseline and font size, not from its glyph (a "g" reaches
    lower than an "a", a loose box reaches into the next line), so that glyphs of one line share a
    band whatever their shape; y is flipped to a top-left origin. pdfium generates spaces where
    glyphs merely sit a little apart ("Ver käufer"): a generated space counts only where the gap
    is one a reader would see.
    """
    origin_x, origin_y = ctypes.c_double(), ctypes.c_double()
    rect = pdfium_c.FS_RECTF()  # the glyph's advance box: the gap between two of them is the gap a reader sees
    words: list[Word] = []
    chars: list[str] = []
    box = [0.0, 0.0, 0.0, 0.0]
    baseline = 0.0
    spaced = False  # pdfium generated a space since the last character: real only if the glyphs stand apart

    def close() -> None:
        if chars:
            words.append(Word("".join(chars), box[0], height - box[3], box[2], height - box[1]))
            chars.clear()

    high = 0  # pdfium gives UTF-16 code units: a character beyond the BMP comes as a surrogate pair
    for i in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
        if 0xD800 <= code < 0xDC00:
            high = code
            continue
        if 0xDC00 <= code < 0xE000:
            code, high = (0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00), 0) if high else (0xFFFD, 0)
        char = chr(code)
        if char in _SOFT_HYPHENS:
            continue
        if char.isspace() or char == "\x00":
            if char == " " and pdfium_c.FPDFText_IsGenerated(textpage.raw, i) == 1:
                spaced = True
            else:
                close()
            continue
        if not pdfium_c.FPDFText_GetLooseCharBox(textpage.raw, i, rect):
            continue  # a character without a place on the page carries nothing a reader sees
        left, right = rect.left, rect.right
        pdfium_c.FPDFText_GetCharOrigin(textpage.raw, i, origin_x, origin_y)
        size = pdfium_c.FPDFText_GetFontSize(textpage.raw, i) or 10.0
        gap = left - box[2]
        if chars and (
            (spaced and gap > size * 0.15)
            or gap > size * 0.6
            or left < box[0]
            or abs(origin_y.value - baseline) > size * 0.3
        ):
            close()  # a space, a gap, a step back or another baseline
        spaced = False
        low, high_y = origin_y.value - 0.2 * size, origin_y.value + 0.8 * size
        if not chars:
            box, baseline = [left, low, right, high_y], origin_y.value
        else:
            box = [box[0], min(box[1], low), max(box[2], right), max(box[3], high_y)]
        chars.append(char)
    close()
    return words


def _binary_kind(data: bytes, signatures: dict[bytes, str] = _BINARY_MAGIC) -> str | None:
    return next((kind for magic, kind in signatures.items() if data.startswith(magic)), None)


def _refuse_binary(data: bytes, name: str) -> None:
    kind = _binary_kind(data)
    if kind is not None:
        raise ExtractionError("unsupported_format", f"{name}: a {kind} is not a supported document")


def _read_text(data: bytes, name: str) -> str:
    """Decode a text file, refusing binaries rather than returning mojibake."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    elif b"\x00" in data[:8192] or _control_ratio(data[:8192]) > 0.1:
        raise ExtractionError("unsupported_format", f"{name}: binary file, not a PDF or text document")
    else:
        text = decode_text(data)
    if not text.strip():
        raise ExtractionError("empty", f"{name}: the file contains only whitespace")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _LAYOUT_GAP.search(text):  # layout text (pdftotext -layout, OCR output): columns by runs of spaces
        return PAGE_SEPARATOR.join("\n".join(layout_text_lines(page)) for page in text.split(PAGE_SEPARATOR))
    return text


def _control_ratio(chunk: bytes) -> float:
    """Share of control bytes other than tab/newline/CR/form feed: high means binary."""
    if not chunk:
        return 0.0
    controls = sum(1 for b in chunk if b < 32 and b not in (9, 10, 12, 13))
    return controls / len(chunk)
