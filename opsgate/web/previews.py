"""Where each proposed value stands in its source document, and pictures of the document's pages.

Extraction does not record where it found a value, so the review screen looks for each value at
review time: in a PDF's text layer (boxes, as fractions of the page, so the browser can place them
over a picture of any width) or in a text file (character offsets). Values are looked for in the
forms they are printed in, not in one template's: an amount in its usual groupings and decimal
marks ("1,234.50", "1.234,50", "1 234,50"), a date in its numeric and named-month forms, a currency
code also as its sign ("EUR", "€"), any other string case-insensitively with runs of whitespace
matched loosely. Every occurrence is kept (up to
``MAX_BOXES`` a field): a value found twice may be right in one place and wrong in the other.

Documents are untrusted, so every byte of them is parsed in ``opsgate.inputs.isolation``'s worker
processes; here, only their size is checked and their bytes hashed. The caller's process never
opens a PDF or decodes an image. A document those workers cannot read gives a ``Preview`` of kind
``none`` (or a ``PreviewUnavailable`` for a page picture) whose reason a person can act on.

Starting a worker costs a fresh interpreter and pdfium's import, far over the budget of a page of
proposals, so a ``Previewer`` keeps its workers for its lifetime. A web server calls it from many
threads, but a pool must be used from the thread that opened it: a worker dies with the thread
that started it (``PR_SET_PDEATHSIG``), and a server's request threads come and go. So a
``Previewer`` owns one thread that opens the pool and serves every request; callers hand it their
jobs and wait. Jobs that arrive together go to the workers together, so the pictures a browser asks
for at once are rendered in parallel. ``locate`` and ``render_page`` at module level are for a
single use (a script, a test): each starts and stops its own workers.

Pictures are cached as PNG files under ``data_dir/previews``, named by the SHA-256 of the bytes
they were rendered from, the page and the width: the second view of a page is a file read, and a
document changed since has another name.
"""

from __future__ import annotations

import ctypes
import hashlib
import io
import logging
import math
import os
import queue
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from babel.dates import get_month_names
from babel.numbers import get_currency_symbol, list_currencies
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel

from opsgate.errors import OpsgateError
from opsgate.inputs.isolation import Failure, IsolatedPool, Limits, Result
from opsgate.inputs.text import decode_text
from opsgate.settings import Settings, get_settings

logger = logging.getLogger(__name__)

MAX_BOXES = 20  # occurrences shown per field: more is noise on the screen
MAX_TEXT_CHARS = 200_000  # of a text document, sent to the browser
MAX_PAGES_SEARCHED = 50  # an invoice has a few; a 2,000-page file must not hold up a page of proposals
MIN_WIDTH, MAX_WIDTH = 200, 2000
LOCALES = ("en", "de", "fr", "nl", "es", "it")  # whose month names and currency signs are looked for
_DEVICE = 100_000  # device units across a page when its boxes are mapped: fine enough for any screen
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
_OTHER_BINARY = {
    b"GIF8": "a GIF image",
    b"BM": "a BMP image",
    b"PK\x03\x04": "a ZIP archive",
    b"\xd0\xcf\x11\xe0": "an Office file",
}
_NO_TEXT_LAYER = "a scan: no text layer to find values in"
_FAILURES = {
    "too_large_when_expanded": "the document needs more memory to read than it is allowed",
    "reader_crashed": "the document crashed its reader",
    "read_timeout": "reading the document took too long",
    "reader_failed": "the document could not be read",
}


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


class PreviewUnavailable(OpsgateError):
    """No picture of that page: the document is missing, too large, unreadable, or has no such page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)
        self.reason = reason


# -- the forms a value is printed in ------------------------------------------------------------

_AMOUNT = re.compile(r"[+-]?(?:0|[1-9]\d*)(?:\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def value_pattern(value: object) -> re.Pattern[str] | None:
    """A case-insensitive pattern for the printed forms of ``value``; None for a value not worth
    looking for (None, a bool, a collection, or under two characters: those match everywhere)."""
    if value is None or isinstance(value, (bool, Mapping, list, tuple, set, frozenset)):
        return None
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return re.compile(_date_source(value), re.IGNORECASE)
    text = str(value).strip()
    if len(text) < 2:
        return None
    if isinstance(value, (int, float, Decimal)) or _AMOUNT.fullmatch(text):
        return re.compile(_amount_source(Decimal(text)), re.IGNORECASE) if _finite(text) else None
    if text.isupper() and text in _currencies():  # "EUR", not the word "all" (ALL is a currency too)
        signs = sorted({get_currency_symbol(text, locale) for locale in LOCALES} - {text}, key=len)
        return re.compile("|".join([*map(re.escape, reversed(signs)), _literal_source(text)]), re.IGNORECASE)
    if _ISO_DATE.fullmatch(text):
        try:
            return re.compile(_date_source(date.fromisoformat(text)), re.IGNORECASE)
        except ValueError:
            pass  # "2024-13-45" is no date: looked for as written
    return re.compile(_literal_source(text), re.IGNORECASE)


def _finite(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def _literal_source(text: str) -> str:
    """The text as written, any run of whitespace standing for any other, not inside a longer word."""
    body = r"\s+".join(re.escape(token) for token in text.split())
    before = r"(?<!\w)" if re.match(r"\w", text) else ""
    after = r"(?!\w)" if re.search(r"\w$", text) else ""
    return f"{before}{body}{after}"


def _amount_source(number: Decimal) -> str:
    """An amount grouped by thousands or not, with a decimal point or comma, with its decimals as
    given, as significant, or two ("1234.5", "1234.50"); an integral one also bare ("1234", "100,-")
    when that is two digits or more."""
    whole, _, given = f"{abs(number):f}".partition(".")
    significant = given.rstrip("0")
    fractions = {given, significant, significant.ljust(2, "0")} - {""}
    groups = [whole[max(0, end - 3) : end] for end in range(len(whole), 0, -3)][::-1]
    wholes = [(whole, "[.,]")]
    if len(groups) > 1:
        for separator, decimal in ((",", r"\."), (r"\.", ","), ("[ \u00a0\u202f]", "[.,]"), ("['\u2019]", "[.,]")):
            wholes.append((separator.join(groups), decimal))
    forms = []
    for digits, decimal in wholes:
        forms += [f"{digits}{decimal}{fraction}" for fraction in sorted(fractions, key=len, reverse=True)]
        if not significant:
            forms.append(f"{digits}(?:{decimal}-)?" if len(whole) >= 2 else f"{digits}{decimal}-")
    # not the tail of a longer number ("1.234,50" holds no 234.50), nor its head ("1234.50" no 1234)
    return r"(?<!\d)(?<!\d[.,'\u00a0\u202f])(?:" + "|".join(forms) + r")(?!\d)(?![.,'\u00a0\u202f]\d)"


def _date_source(day: date) -> str:
    """A date day-first, month-first or year-first with dots, slashes or dashes, with a two- or
    four-digit year, or with its month named ("5 March 2024", "Mar 5, 2024", "5. März 2024")."""
    d, m = f"0?{day.day}" if day.day < 10 else str(day.day), f"0?{day.month}" if day.month < 10 else str(day.month)
    year, short = str(day.year), f"{day.year % 100:02d}"
    y = f"(?:{year}|'?{short})"
    forms = []
    for sep in (r"\.\s?", "/", "-"):
        forms += [f"{d}{sep}{m}{sep}{y}", f"{m}{sep}{d}{sep}{y}", f"{year}{sep}{m}{sep}{d}"]
    names = "|".join(re.escape(name) for name in _month_names(day.month))
    forms.append(rf"{d}(?:st|nd|rd|th|er|\.)?(?:\s*of)?[\s/-]*(?:{names})\.?[\s/,-]*{y}")
    forms.append(rf"(?:{names})\.?[\s/-]*{d}(?:st|nd|rd|th|\.)?,?[\s/-]*{y}")
    return r"(?<![\w])(?:" + "|".join(forms) + r")(?!\d)"


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    return frozenset(list_currencies())


@lru_cache(maxsize=12)
def _month_names(month: int) -> tuple[str, ...]:
    """The month's names and abbreviations in the languages invoices come in, longest first."""
    names = {
        get_month_names(width, context, locale)[month].lower().rstrip(".")
        for locale in LOCALES
        for width in ("wide", "abbreviated")
        for context in ("format", "stand-alone")
    }
    return tuple(sorted(names, key=len, reverse=True))


# -- what the worker processes do ------------------------------------------------------------


class _Unreadable(Exception):
    """A document that cannot be previewed, with the reason for people."""


@dataclass(frozen=True)
class _Locate:
    data: bytes
    name: str
    patterns: dict[str, re.Pattern[str]]
    max_pixels: int


@dataclass(frozen=True)
class _Render:
    data: bytes
    name: str
    page: int
    width: int
    max_pixels: int


@dataclass(frozen=True)
class _Rendered:
    png: bytes | None = None
    reason: str = ""


def read_preview(job: _Locate | _Render | None) -> Preview | _Rendered | None:
    """What a worker process runs for one job (``None`` only starts the worker)."""
    if job is None:
        return None
    try:
        kind = _kind(job.data, job.name)
        if isinstance(job, _Render):
            if kind == "text":
                raise _Unreadable("a text document has no pages to picture")
            return _Rendered(png=_render_pdf(job) if kind == "pdf" else _render_image(job))
        if kind == "pdf":
            return _locate_pdf(job)
        if kind == "image":
            return Preview(kind="image", pages=_image_pages(job), reason="a scan: values are not located on images")
        return _locate_text(job)
    except _Unreadable as exc:
        return _Rendered(reason=str(exc)) if isinstance(job, _Render) else Preview(kind="none", reason=str(exc))


def _kind(data: bytes, name: str) -> Literal["pdf", "image", "text"]:
    """By the bytes, not the name: inbox files are often misnamed."""
    if data.startswith(_IMAGE_MAGIC):
        return "image"
    for magic, kind in _OTHER_BINARY.items():
        if data.startswith(magic):
            raise _Unreadable(f"{kind} is not previewed")
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if name.lower().endswith(".pdf"):
        raise _Unreadable("named .pdf but not a PDF file")
    head = data[:8192]
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _Unreadable("a binary file of a kind that is not previewed")
    return "text"


def _open_pdf(data: bytes) -> pdfium.PdfDocument:
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if exc.err_code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise _Unreadable("the PDF is password-protected") from exc
        raise _Unreadable(f"the PDF is damaged and cannot be opened ({exc})") from exc
    if len(document) == 0:
        document.close()
        raise _Unreadable("the PDF has no pages")
    return document


def _locate_pdf(job: _Locate) -> Preview:
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
        raise _Unreadable(f"a page of the PDF cannot be read ({exc})") from exc
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
        raise _Unreadable(f"a page of the PDF has no size ({width:g} x {height:g})")
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


def _render_pdf(job: _Render) -> bytes:
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
                    raise _Unreadable(f"the page holds an image of {pixels} pixels, over the limit of {job.max_pixels}")
            bitmap = page.render(scale=scale, may_draw_forms=True)
            try:
                return _png(bitmap.to_pil())
            finally:
                bitmap.close()
        finally:
            page.close()
    except pdfium.PdfiumError as exc:
        raise _Unreadable(f"the page cannot be rendered ({exc})") from exc
    finally:
        document.close()


def _open_image(job: _Locate | _Render) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(job.data))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _Unreadable(f"the image is damaged and cannot be decoded ({exc})") from exc
    if image.width * image.height > job.max_pixels:
        raise _Unreadable(f"the image is {image.width}x{image.height} pixels, over the limit of {job.max_pixels}")
    return image


def _image_pages(job: _Locate) -> int:
    return getattr(_open_image(job), "n_frames", 1)


def _render_image(job: _Render) -> bytes:
    image = _open_image(job)
    _check_page(job.page, getattr(image, "n_frames", 1))
    try:
        image.seek(job.page)
        if image.width * image.height > job.max_pixels:  # a TIFF's later pages have sizes of their own
            raise _Unreadable(f"page {job.page + 1} is {image.width}x{image.height} pixels, over the limit")
        height = max(1, round(image.height * job.width / image.width))
        picture = image.convert("RGBA" if "A" in image.getbands() else "RGB")
        return _png(picture.resize((job.width, height), Image.Resampling.BILINEAR, reducing_gap=2.0))
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise _Unreadable(f"the image is damaged and cannot be decoded ({exc})") from exc


def _check_page(page: int, pages: int) -> None:
    if not 0 <= page < pages:
        raise _Unreadable(f"there is no page {page + 1}: the document has {pages}")


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)  # a fast, larger file: it is cached and sent once per view
    return out.getvalue()


def _locate_text(job: _Locate) -> Preview:
    text = decode_text(job.data).replace("\r\n", "\n").replace("\r", "\n")
    shown = text[:MAX_TEXT_CHARS]
    spans = {
        field: [Span(start=m.start(), end=m.end()) for m, _ in zip(pattern.finditer(shown), range(MAX_BOXES))]
        for field, pattern in job.patterns.items()
    }
    reason = f"only the first {MAX_TEXT_CHARS} characters are shown" if len(text) > MAX_TEXT_CHARS else ""
    return Preview(kind="text", text=shown, spans={f: s for f, s in spans.items() if s}, reason=reason)


# -- the caller's side ---------------------------------------------------------------------------


class Previewer:
    """Worker processes kept for previews, served by one thread of their own; use as a context
    manager (the review server opens one at start-up). Safe to call from any thread."""

    def __init__(self, settings: Settings | None = None, limits: Limits | None = None, warm: bool = True) -> None:
        self.settings = settings or get_settings()
        self.limits = limits or Limits.from_settings(self.settings)
        self.cache = self.settings.data_dir / "previews"
        self._jobs: queue.SimpleQueue[tuple[Any, Future[Result[Any]]] | None] = queue.SimpleQueue()
        self._open = threading.Lock()  # held while a job is handed in, and when the serving thread ends
        self._closed = False
        self._thread = threading.Thread(target=self._serve, args=(warm,), name="opsgate-previews", daemon=True)
        self._thread.start()

    def __enter__(self) -> Previewer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers once the jobs already handed in are done."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()

    def locate(self, source: Path, values: Mapping[str, object]) -> Preview:
        """Where each of ``values`` (field name -> value) stands in ``source``."""
        return self.locate_many([(source, values)])[0]

    def locate_many(self, requests: Sequence[tuple[Path, Mapping[str, object]]]) -> list[Preview]:
        """``locate`` for several documents at once, read in parallel: a page of proposals."""
        pending = [self._ask_locate(Path(source), values) for source, values in requests]
        return [_located(answer) for answer in pending]

    def render_page(self, source: Path, page: int, width: int) -> bytes:
        """A PNG of the page (0-based) of a PDF or image file, ``width`` pixels wide (kept within
        ``MIN_WIDTH``..``MAX_WIDTH``; narrower for a page so tall it would pass the pixel limit)."""
        width = min(max(int(width), MIN_WIDTH), MAX_WIDTH)
        if page < 0:
            raise PreviewUnavailable(f"there is no page {page + 1}")
        data = self._load(Path(source))
        cached = self.cache / f"{hashlib.sha256(data).hexdigest()}-{page}-{width}.png"
        try:
            return cached.read_bytes()
        except FileNotFoundError:
            pass
        job = _Render(data, Path(source).name, page, width, self.settings.reader_max_image_pixels)
        result = self._submit(job).result()
        if result.failure is not None:
            raise PreviewUnavailable(_failure_reason(result.failure))
        if result.value.png is None:
            raise PreviewUnavailable(result.value.reason)
        self._keep(cached, result.value.png)
        return result.value.png

    def _ask_locate(self, source: Path, values: Mapping[str, object]) -> Future[Result[Any]] | Preview:
        """The job handed to the workers, or at once the preview of a document that is not read."""
        patterns = {field: p for field, value in values.items() if (p := value_pattern(value)) is not None}
        try:
            return self._submit(
                _Locate(self._load(source), source.name, patterns, self.settings.reader_max_image_pixels)
            )
        except PreviewUnavailable as exc:
            return Preview(kind="none", reason=exc.reason)

    def _load(self, source: Path) -> bytes:
        """The document's bytes, if it is there and within ``max_document_bytes``."""
        limit = self.settings.max_document_bytes
        try:
            size = source.stat().st_size
            if size > limit:
                raise PreviewUnavailable(f"the file is {size} bytes, over the limit of {limit} for documents")
            with source.open("rb") as file:
                data = file.read(limit + 1)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise PreviewUnavailable("the file is not there any more") from exc
        except PermissionError as exc:
            raise PreviewUnavailable("the file cannot be read (permission denied)") from exc
        if len(data) > limit:  # it grew since the check
            raise PreviewUnavailable(f"the file is over the limit of {limit} bytes for documents")
        if not data:
            raise PreviewUnavailable("the file is empty")
        return data

    def _keep(self, path: Path, png: bytes) -> None:
        """Write the picture under its final name in one step: a reader never sees half a file.
        A cache that cannot be written costs the next view a rendering, not this one its picture."""
        part = None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".part", delete=False) as part:
                part.write(png)
            os.replace(part.name, path)
        except OSError as exc:
            logger.warning("a page picture could not be cached in %s: %s", path.parent, exc)
            if part is not None:
                Path(part.name).unlink(missing_ok=True)

    def _submit(self, job: _Locate | _Render) -> Future[Result[Any]]:
        future: Future[Result[Any]] = Future()
        with self._open:
            if self._closed:
                raise PreviewUnavailable("previews are closed")
            self._jobs.put((job, future))
        return future

    def _serve(self, warm: bool) -> None:
        """The pool's own thread: take every job waiting, read them together, answer each as it is done."""
        stopping = False
        try:
            with IsolatedPool(read_preview, self.limits) as pool:
                if warm:  # start every worker now, not on the first page of proposals
                    pool.map([None] * self.limits.workers)
                while not stopping:
                    batch = [self._jobs.get()]
                    while True:
                        try:
                            batch.append(self._jobs.get_nowait())
                        except queue.Empty:
                            break
                    stopping = None in batch
                    jobs = [entry for entry in batch if entry is not None]
                    try:
                        for (_, future), result in zip(jobs, pool.imap(job for job, _ in jobs)):
                            future.set_result(result)
                    except Exception:  # the pool itself failed (no process could start): this batch only
                        logger.exception("previews failed for %d documents", len(jobs))
                    finally:
                        self._fail([future for _, future in jobs])
        finally:
            with self._open:
                self._closed = True
            waiting = []
            while not self._jobs.empty():
                entry = self._jobs.get_nowait()
                waiting += [entry[1]] if entry is not None else []
            self._fail(waiting)

    @staticmethod
    def _fail(futures: list[Future[Result[Any]]]) -> None:
        """Answer the jobs the pool did not: it broke, or the previewer closed."""
        for future in futures:
            if not future.done():
                future.set_exception(PreviewUnavailable("previews are not available (the preview service stopped)"))


def _located(answer: Future[Result[Any]] | Preview) -> Preview:
    try:
        result = answer.result() if isinstance(answer, Future) else answer
    except PreviewUnavailable as exc:
        return Preview(kind="none", reason=exc.reason)
    if isinstance(result, Preview):
        return result
    return result.value if result.failure is None else Preview(kind="none", reason=_failure_reason(result.failure))


def _failure_reason(failure: Failure) -> str:
    logger.warning("a preview could not be made: %s", failure)
    return f"{_FAILURES[failure.reason]} ({failure.detail})"
