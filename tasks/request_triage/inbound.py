"""Requests read from files: e-mails (``.eml``, mbox), plain text, and ticket exports (CSV or JSON
lines with a ``text`` column, or ``body``, ``description`` or ``message``, and an optional ``id``,
``subject`` and sender), in input order.

Every file is parsed in a reader process under the platform's memory, CPU and time limits
(``opsgate.inputs.isolation``), so a malformed or hostile file costs its own requests, which end as
errors with the reason, never the batch. An e-mail's id is its Message-ID, else the file's name; a
row's is its ``id`` column, else its position ("row 7").
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import mailbox
from collections.abc import Callable, Iterator, Sequence
from email.message import EmailMessage
from pathlib import Path

from opsgate import IsolatedPool, decode_text, get_settings
from tasks.request_triage.history import column
from tasks.request_triage.mime import attachments, message_text
from tasks.request_triage.models import InboundRequest

TABLES = (".csv", ".jsonl", ".ndjson", ".json")
MAILS = (".eml", ".msg")
MBOXES = (".mbox", ".mbx")


def read_requests(paths: Sequence[Path], progress: Callable[[int], None] | None = None) -> list[InboundRequest]:
    """Every request in ``paths``, in order; a file that could not be read is one request in error."""
    found: list[InboundRequest] = []
    with IsolatedPool(read_file) as pool:
        for path, result in zip(paths, pool.imap(list(paths), progress), strict=True):
            if result.failure is not None:
                found.append(InboundRequest(source=str(path), id=path.name, error=f"{path.name}: {result.failure}"))
            else:
                assert result.value is not None
                found.extend(result.value)
    return found


def read_file(path: Path) -> list[InboundRequest]:
    """What a reader process does with one file (also callable in-process, for tests)."""
    source = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return [InboundRequest(source=source, id=path.name, error=f"{path.name}: cannot read: {exc.strerror}")]
    settings = get_settings()
    suffix = path.suffix.lower()
    if suffix in MBOXES:
        return list(_mbox(path, settings.max_message_bytes))
    mail = suffix in MAILS or _looks_like_mail(path)
    limit = settings.max_message_bytes if mail else settings.max_document_bytes
    if size > limit:
        return [
            InboundRequest(source=source, id=path.name, error=f"{path.name}: {size} bytes, over the {limit}-byte limit")
        ]
    if suffix in TABLES:
        return list(_rows(path, source))
    if mail:
        return [_mail(email.message_from_bytes(path.read_bytes(), policy=email.policy.default), source, path.name)]
    return [InboundRequest(source=source, id=path.stem, text=decode_text(path.read_bytes()).strip())]


def _looks_like_mail(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(2048).decode("latin-1")
    return any(
        head.lower().startswith(h) for h in ("from:", "received:", "return-path:", "message-id:", "mime-version:")
    )


def _mail(message: EmailMessage, source: str, fallback_id: str) -> InboundRequest:
    subject = str(message.get("subject", "") or "")
    body = message_text(message)
    return InboundRequest(
        source=source,
        id=str(message.get("message-id", "") or "").strip() or fallback_id,
        subject=subject,
        sender=str(message.get("from", "") or ""),
        text="\n".join(part for part in (subject, body) if part).strip(),
        attachments=attachments(message),
    )


def _mbox(path: Path, limit: int) -> Iterator[InboundRequest]:
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        for n, key in enumerate(box.keys(), start=1):
            data = box.get_bytes(key)
            where = f"{path.name} message {n}"
            if len(data) > limit:
                yield InboundRequest(
                    source=str(path), id=where, error=f"{where}: {len(data)} bytes, over the {limit}-byte limit"
                )
                continue
            yield _mail(email.message_from_bytes(data, policy=email.policy.default), str(path), where)
    finally:
        box.close()


# A ticket export's columns, by header (case and spaces aside), the first a file has: what helpdesks
# call the request's words, its subject and who sent it. The subject is read with the text, as an
# e-mail's is; the sender is what the policy's customer list is matched against.
TEXT_COLUMNS = ("text", "body", "description", "message")
SUBJECT_COLUMNS = ("subject", "summary", "title")
SENDER_COLUMNS = ("sender", "from", "email")


def _value(row: dict[str, object], column: str | None) -> str:
    return "" if column is None else str(row.get(column) or "").strip()


def _rows(path: Path, source: str) -> Iterator[InboundRequest]:
    """A ticket export, one request per row; a row without text, or one that cannot be parsed, is an
    error in its place."""
    text = decode_text(path.read_bytes())
    rows = _csv_rows(text) if path.suffix.lower() == ".csv" else _json_rows(text)
    for n, (row, problem) in enumerate(rows, start=1):
        if row is None:
            yield InboundRequest(source=source, id=f"row {n}", error=f"{path.name} row {n}: {problem}")
            continue
        identifier, words = column(row, ("id",)), column(row, TEXT_COLUMNS)
        given = _value(row, identifier)
        subject, body = _value(row, column(row, SUBJECT_COLUMNS)), _value(row, words)
        context = {str(k): str(v) for k, v in row.items() if k not in (identifier, words) and v is not None}
        if not body:
            yield InboundRequest(
                source=source, id=given or f"row {n}", context=context, error=f"{path.name} row {n}: no text"
            )
            continue
        yield InboundRequest(
            source=source,
            id=given or f"row {n}",
            text="\n".join(part for part in (subject, body) if part),
            subject=subject,
            sender=_value(row, column(row, SENDER_COLUMNS)),
            context=context,
        )


Row = tuple[dict[str, object] | None, str]  # a row, or None and why it could not be read


def _csv_rows(text: str) -> Iterator[Row]:
    csv.field_size_limit(get_settings().reader_max_csv_field_bytes)
    reader = csv.DictReader(io.StringIO(text))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the parser cannot go on past it: this row says so, the rows above stand
            yield None, f"{exc}; the rows after it were not read"
            return
        yield row, ""


def _json_rows(text: str) -> Iterator[Row]:
    """JSON lines; or one JSON array of objects, as some helpdesks export."""
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            yield None, f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            return
        for value in values:
            yield (value, "") if isinstance(value, dict) else (None, "not a JSON object")
        return
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield None, f"not JSON: {exc.msg} at column {exc.colno}"
            continue
        yield (value, "") if isinstance(value, dict) else (None, "not a JSON object")
