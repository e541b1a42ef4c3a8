"""Where each proposed value stands in its source document, and pictures of the document's pages,
for the review screen.

Extraction does not record where it found a value, so the screen looks for each value at review
time, in the forms it is printed in (``printed``). Documents are untrusted, so every byte of them is
parsed in ``opsgate.inputs.isolation``'s worker processes (``page_reading``); here, only their size
is checked and their bytes hashed. The caller's process never opens a PDF or decodes an image. A
document those workers cannot read gives a ``Preview`` of kind ``none`` (or a
``PreviewUnavailable`` for a page picture) whose reason a person can act on.

Starting a worker costs a fresh interpreter and pdfium's import, far over the budget of a page of
proposals, so a ``Previewer`` keeps its workers for its lifetime. A web server calls it from many
threads, but a pool must be used from the thread that opened it: a worker dies with the thread
that started it (``PR_SET_PDEATHSIG``), and a server's request threads come and go. So a
``Previewer`` owns one thread that opens the pool and serves every request; callers hand it their
jobs and wait. Jobs that arrive together go to the workers together, so the pictures a browser asks
for at once are rendered in parallel.

Pictures are cached as PNG files under ``data_dir/previews``, named by the SHA-256 of the bytes
they were rendered from, the page and the width: the second view of a page is a file read, and a
document changed since has another name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import tempfile
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from opsgate.errors import OpsgateError
from opsgate.inputs.isolation import Failure, IsolatedPool, Limits, Result
from opsgate.settings import Settings, get_settings
from opsgate.web.page_reading import Locate, Preview, Render, read_preview
from opsgate.web.printed import value_pattern

logger = logging.getLogger(__name__)

MIN_WIDTH, MAX_WIDTH = 200, 2000
_FAILURES = {
    "too_large_when_expanded": "the document needs more memory to read than it is allowed",
    "reader_crashed": "the document crashed its reader",
    "read_timeout": "reading the document took too long",
    "reader_failed": "the document could not be read",
}


class PreviewUnavailable(OpsgateError):
    """No picture of that page: the document is missing, too large, unreadable, or has no such page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retryable=False)
        self.reason = reason


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
        job = Render(data, Path(source).name, page, width, self.settings.reader_max_image_pixels)
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
                Locate(self._load(source), source.name, patterns, self.settings.reader_max_image_pixels)
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

    def _submit(self, job: Locate | Render) -> Future[Result[Any]]:
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
