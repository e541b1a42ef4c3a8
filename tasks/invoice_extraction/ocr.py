"""Words of a scanned page: Tesseract over page images, with the image bounded before it is decoded.

A scan (a PDF page without a text layer, or a PNG, JPEG or TIFF) is read by the ``tesseract``
program, not a library in this process: its output (TSV) gives every word with its box and how
sure the engine is of it, which ``layout`` turns into lines exactly as it does a text layer's
boxes, and which ``word_confidence`` uses to lower the confidence of fields read from unsure words.

Untrusted images are bounded before pixels are decoded: Pillow reads only the header first, and
an image (or any frame of a TIFF) over ``max_pixels`` is refused as ``too_large_when_expanded``;
a PDF page is rendered at a lower resolution when its size at ``dpi`` would pass the same budget.
Tesseract runs under a deadline for the whole document, with one thread (readers already run in
parallel), is killed with the process that started it (``die_with_parent``: a reader killed at
its wall-clock limit takes its OCR along), and what it prints is capped.

Every way OCR can come up empty (no ``tesseract`` installed, a language missing, the deadline,
a blank or illegible page) is an ``ExtractionError`` ``needs_ocr`` whose message says which: a
person has to read that document.
"""

from __future__ import annotations

import functools
import io
import math
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, ImageSequence, UnidentifiedImageError

from opsgate import ExtractionError, die_with_parent
from tasks.invoice_extraction.layout import Word

DEFAULT_LANGUAGES = "eng+deu+fra"
DEFAULT_DPI = 300
DEFAULT_SECONDS = 120.0
# An A4 page at 300 dpi is 8.7 million pixels; a poster at 600 dpi about 200 million.
DEFAULT_MAX_PIXELS = 60_000_000
MAX_FRAMES = 200  # pages of one TIFF that are read at all
# Below this mean word confidence a page's words are noise (a photo, a texture, text far too small).
MIN_MEAN_CONFIDENCE = 0.5
MAX_TSV_BYTES = 16 * 1024 * 1024
FAINT_INK = 230  # on a clean page, greys darker than this are print (pale grey text), lighter ones paper
_STDERR_SHOWN = 300


@dataclass(frozen=True)
class OcrOptions:
    """How scans are read: Tesseract's languages, the resolution PDF pages are rendered at, the
    seconds OCR may take for one document, and the largest image (in pixels) that is decoded."""

    languages: str = DEFAULT_LANGUAGES
    dpi: int = DEFAULT_DPI
    seconds: float = DEFAULT_SECONDS
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class PageWords:
    """The words of one page, or why it holds no usable text; ``by_ocr`` is False for a text layer's."""

    words: list[Word]
    problem: str | None = None
    by_ocr: bool = True


class Ocr:
    """OCR for one document: the options and the deadline all its pages share."""

    def __init__(self, name: str, options: OcrOptions) -> None:
        self.name, self.options = name, options
        self.deadline = time.monotonic() + options.seconds

    def page(self, image: Image.Image, dpi: float) -> PageWords:
        """The words of one page image, or the reason it has none that can be used."""
        words = self._tesseract(prepared(image), dpi)
        if not words:
            return PageWords([], "blank: no text found")
        mean = sum(w.confidence for w in words) / len(words)
        if mean < MIN_MEAN_CONFIDENCE:
            return PageWords(
                [],
                f"illegible: mean word confidence {mean:.2f} is below {MIN_MEAN_CONFIDENCE} (text too small, blurred or not text)",
            )
        return PageWords(words)

    def _tesseract(self, image: Image.Image, dpi: float) -> list[Word]:
        program = shutil.which("tesseract")
        if program is None:
            raise ExtractionError(
                "needs_ocr", f"{self.name}: OCR is not available: the tesseract program is not installed"
            )
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise ExtractionError(
                "needs_ocr", f"{self.name}: OCR took longer than {self.options.seconds:g} s; not read"
            )
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", compress_level=1, dpi=(dpi, dpi))
        command = [
            program,
            "stdin",
            "stdout",
            "-l",
            self.options.languages,
            "--dpi",
            str(round(dpi)),
            "--psm",
            "3",
            "tsv",
        ]
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        try:
            done = subprocess.run(
                command,
                input=buffer.getvalue(),
                capture_output=True,
                timeout=remaining,
                env=env,
                # preexec_fn is unsafe beside other threads; documents are read in single-threaded reader processes
                preexec_fn=functools.partial(die_with_parent, os.getpid()),
            )
        except subprocess.TimeoutExpired as exc:
            raise ExtractionError(
                "needs_ocr", f"{self.name}: OCR took longer than {self.options.seconds:g} s; not read"
            ) from exc
        if done.returncode != 0:
            said = done.stderr.decode("utf-8", errors="replace").strip()[-_STDERR_SHOWN:]
            raise ExtractionError(
                "needs_ocr", f"{self.name}: OCR failed (tesseract exit status {done.returncode}): {said}"
            )
        if len(done.stdout) > MAX_TSV_BYTES:
            raise ExtractionError(
                "needs_ocr", f"{self.name}: OCR output is over {MAX_TSV_BYTES} bytes for one page; not read"
            )
        return words_of_tsv(done.stdout.decode("utf-8", errors="replace"))


def words_of_tsv(tsv: str) -> list[Word]:
    """Tesseract's TSV as words: level-5 rows with text, confidence from 0..100 to 0..1, in reading order."""
    words = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        left, top, width, height = (int(c) for c in cells[6:10])
        confidence = float(cells[10])
        if confidence < 0:
            continue  # not recognised as a word
        words.append(Word(cells[11].strip(), left, top, left + width, top + height, min(confidence, 100.0) / 100.0))
    return words


def image_pages(data: bytes, name: str, max_pixels: int) -> Iterator[tuple[Image.Image, float]]:
    """The pages of an image file (every frame of a TIFF) with their resolution, each decoded only
    after its size was checked against ``max_pixels``."""
    try:
        image = Image.open(io.BytesIO(data))  # reads the header only
        frames = getattr(image, "n_frames", 1)
        pages = ImageSequence.Iterator(image) if image.format == "TIFF" else [image]  # an animated PNG is one page
        for index, frame in enumerate(pages):
            if index >= MAX_FRAMES:
                raise ExtractionError(
                    "too_large", f"{name}: {frames} pages is over the {MAX_FRAMES}-page limit for one image file"
                )
            width, height = frame.size
            if width * height > max_pixels:
                raise ExtractionError(
                    "too_large_when_expanded",
                    f"{name}: too_large_when_expanded: page {index + 1} is {width}x{height} pixels, over the {max_pixels}-pixel limit; not decoded",
                )
            frame.load()
            yield frame, _resolution(frame)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ExtractionError("corrupt", f"{name}: the image is damaged and cannot be decoded ({exc})") from exc
    except Image.DecompressionBombError as exc:  # Pillow's own check, where the header lied
        raise ExtractionError("too_large_when_expanded", f"{name}: too_large_when_expanded: {exc}") from exc


def render_scale(width_points: float, height_points: float, dpi: int, max_pixels: int) -> float:
    """The scale to render a PDF page at: ``dpi``, or less when that would pass ``max_pixels``."""
    scale = dpi / 72
    pixels = width_points * height_points * scale * scale
    return scale if pixels <= max_pixels else scale * math.sqrt(max_pixels / pixels)


def _resolution(image: Image.Image) -> float:
    """The image's own resolution if it states a plausible one; else the usual scan resolution."""
    dpi = image.info.get("dpi")
    try:
        x = float(dpi[0]) if dpi else 0.0
    except (TypeError, ValueError, IndexError):
        x = 0.0
    return x if 70 <= x <= 1200 else DEFAULT_DPI


def prepared(image: Image.Image) -> Image.Image:
    """The page as Tesseract reads it best: one grey channel, shaded backgrounds made paper-white,
    and on a clean page faint (light grey) print made dark.

    Tesseract finds text on a page binarised by one global threshold: pale grey print next to black
    print falls on the paper's side of it, and text on a shaded table row sits on a background
    that is neither. So the background (the page with its ink closed over: a grey-level closing
    wider than a stroke, on a quarter-size copy) is divided out where it is light, and, when the
    page has no grain, every grey darker than ``FAINT_INK`` is pushed below mid-grey. On a grainy
    scan the same push would turn grain into ink, so there the page goes as it is.
    """
    grey = _grey(image)
    pixels = np.asarray(grey, dtype=np.float32)
    closed = grey.reduce(4).filter(ImageFilter.MaxFilter(5)).filter(ImageFilter.MinFilter(5))
    background = np.asarray(closed.resize(grey.size, Image.Resampling.BILINEAR), dtype=np.float32)
    flat = np.where(background >= 160, np.clip(pixels * 255 / np.maximum(background, 1), 0, 255), pixels)
    if _grain(grey, pixels) > 1:
        return Image.fromarray(flat.astype(np.uint8), "L")
    lifted = np.where(flat < FAINT_INK, flat * 128 / FAINT_INK, 128 + (flat - FAINT_INK) * 127 / (255 - FAINT_INK))
    return Image.fromarray(np.round(lifted).astype(np.uint8), "L")


def _grain(grey: Image.Image, pixels: np.ndarray) -> float:
    """How grainy the paper is: the median difference between a light pixel and its neighbourhood (0 for a rendered page)."""
    smooth = np.asarray(grey.filter(ImageFilter.BoxBlur(2)), dtype=np.float32)
    paper = smooth > 200
    return float(np.median(np.abs(pixels - smooth)[paper])) if paper.any() else 0.0


def _grey(image: Image.Image) -> Image.Image:
    """One 8-bit grey channel, transparency on white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return image.convert("L")
