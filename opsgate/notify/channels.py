"""Channels: post a workflow's messages (published reports, approval notices) to the webhooks its
policy names.

Delivery retries here, briefly, because a receiver can tell a retry from a new message: every
attempt carries the same ``Idempotency-Key`` and the same body. Whatever still fails raises
``DeliveryFailed``, whose ``retryable`` flag tells the caller whether a later try can help.
Error messages and logs name the channel and its host only: webhook URLs carry their token.

What people read (title, text, fields) may quote documents and approvers: it is shown with its
hidden characters made visible (``display.visible``), and Slack's control characters escaped
(``display.slack_text``); ``data`` is for machines and goes as it is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field

from opsgate.display import slack_text, visible
from opsgate.errors import ConfigurationError, OpsgateError
from opsgate.policy.schema import Channel, is_http_url

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Opsgate-Signature"
FIRST_BACKOFF = 0.5  # seconds; doubles per attempt, so three attempts wait 1.5 s in all
MAX_RETRY_AFTER = 5.0  # seconds; a receiver asking for longer gets the caller's retry instead

# Slack's limits: a longer header or section, a field or more blocks make it refuse the message.
SLACK_HEADER_LIMIT = 150
SLACK_SECTION_LIMIT = 3000
SLACK_FIELD_LIMIT = 2000
SLACK_MAX_FIELDS = 10
SLACK_MAX_BLOCKS = 50

sleep = time.sleep  # module-level so tests can record the waits instead of waiting


class Message(BaseModel):
    """What a workflow says, independent of where it goes; each channel kind renders it."""

    model_config = ConfigDict(extra="forbid")

    event: str = Field(min_length=1, description="What happened, e.g. report.published; receivers route on it.")
    title: str = Field(min_length=1)
    text: str = Field(description="Markdown.")
    link: str | None = None
    fields: dict[str, str] = Field(default_factory=dict, description="Short facts shown beside the text.")
    data: dict[str, Any] = Field(default_factory=dict, description="Structured payload for machines.")


class Delivery(BaseModel):
    channel: str
    status_code: int
    attempts: int


class DeliveryFailed(OpsgateError):
    """A channel did not take a message. Retryable when the last failure may pass (no connection,
    timeout, 408, 429, 5xx); a refusal such as 400 or 404 will recur until someone fixes it."""


def post(
    name: str, channel: Channel, message: Message, idempotency_key: str, *, client: httpx.Client | None = None
) -> Delivery:
    """Deliver ``message`` to the channel, retrying what may pass; raise ``DeliveryFailed`` otherwise.

    ``idempotency_key`` must be the same when the same message is posted again (a re-run step),
    so the receiver can drop the duplicate. ``client`` lets the caller share a connection pool."""
    url = _url(name, channel)
    body = json.dumps(
        generic_body(message, idempotency_key) if channel.kind == "webhook" else slack_body(message), ensure_ascii=False
    ).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "opsgate", "Idempotency-Key": idempotency_key}
    if channel.secret_env:
        secret = _env_value(name, channel.secret_env, "the signing key").encode()
        headers[SIGNATURE_HEADER] = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    parts = urlsplit(url)
    where = f"channel {name!r} ({parts.hostname}{f':{parts.port}' if parts.port else ''})"

    http = client or httpx.Client()
    try:
        return _send(http, url, body, headers, channel, name, where)
    finally:
        if client is None:
            http.close()


def _send(
    http: httpx.Client, url: str, body: bytes, headers: dict[str, str], channel: Channel, name: str, where: str
) -> Delivery:
    cause: httpx.TransportError | None = None
    for attempt in range(1, channel.attempts + 1):
        wait = FIRST_BACKOFF * 2 ** (attempt - 1)
        try:
            response = http.post(url, content=body, headers=headers, timeout=channel.timeout)
        except httpx.TimeoutException as exc:
            cause, problem = exc, f"no answer within {channel.timeout:g} s"
        except httpx.TransportError as exc:
            cause, problem = exc, type(exc).__name__
        else:
            if response.is_success:
                logger.info("%s accepted the message (HTTP %s, attempt %d)", where, response.status_code, attempt)
                return Delivery(channel=name, status_code=response.status_code, attempts=attempt)
            cause, problem = None, f"HTTP {response.status_code}"
            if response.status_code not in (408, 429) and response.status_code < 500:
                reply = " ".join(response.text.split())[:200]
                raise DeliveryFailed(
                    f"{where} refused the message with HTTP {response.status_code} after {attempt} attempt(s){f': {reply}' if reply else ''}",
                    retryable=False,
                )
            asked = _retry_after(response)
            wait = wait if asked is None else asked
        if attempt < channel.attempts:
            logger.warning(
                "%s: %s; trying again in %.1f s (attempt %d of %d)", where, problem, wait, attempt, channel.attempts
            )
            sleep(wait)
    raise DeliveryFailed(
        f"{where}: not delivered after {channel.attempts} attempt(s); last: {problem}", retryable=True
    ) from cause


def _url(name: str, channel: Channel) -> str:
    if channel.url_env is None:
        return str(channel.url)  # the schema requires one of the two
    url = _env_value(name, channel.url_env, "the webhook URL")
    if not is_http_url(url):
        raise ConfigurationError(
            f"channel {name!r}: environment variable {channel.url_env} does not hold an http(s) URL"
        )
    return url


def _env_value(name: str, variable: str, holds: str) -> str:
    value = os.environ.get(variable, "").strip()
    if not value:
        raise ConfigurationError(
            f"channel {name!r}: environment variable {variable} is not set; it should hold {holds}"
        )
    return value


def _retry_after(response: httpx.Response) -> float | None:
    """The receiver's requested wait in seconds, capped; HTTP dates are not honoured."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else None


def generic_body(message: Message, idempotency_key: str) -> dict[str, Any]:
    """The message as JSON, with the key and send time so receivers can drop duplicates and stale replays."""
    shown = {
        "title": visible(message.title),
        "text": visible(message.text),
        "fields": {visible(k): visible(v) for k, v in message.fields.items()},
    }
    return {
        **message.model_dump(mode="json"),
        **shown,
        "idempotency_key": idempotency_key,
        "sent_at": datetime.now(UTC).isoformat(),
    }


def slack_body(message: Message) -> dict[str, Any]:
    """Block Kit for Slack-compatible webhooks; ``text`` is the fallback shown in notifications
    and by receivers that ignore blocks."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _truncate(visible(message.title), SLACK_HEADER_LIMIT)},
        }
    ]
    tail: list[dict[str, Any]] = []
    if message.fields:
        facts = list(message.fields.items())[:SLACK_MAX_FIELDS]
        tail.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": _truncate(f"*{slack_text(k)}*\n{slack_text(v)}", SLACK_FIELD_LIMIT)}
                    for k, v in facts
                ],
            }
        )
    if message.link:
        tail.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"<{message.link}>"}]})
    sections = split_sections(markdown_to_mrkdwn(message.text))
    room = SLACK_MAX_BLOCKS - len(blocks) - len(tail)
    if len(sections) > room:
        sections = sections[: room - 1] + [
            _truncate(sections[room - 1], SLACK_SECTION_LIMIT - 20) + "\n_(text shortened)_"
        ]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": section}} for section in sections]
    fallback = slack_text(f"{message.title}\n{message.link}" if message.link else message.title)
    body = markdown_to_mrkdwn(message.text).strip()
    if body:  # receivers that ignore blocks (Mattermost, Rocket.Chat) show only this
        fallback = f"{fallback}\n\n{_truncate(body, SLACK_SECTION_LIMIT)}"
    return {"text": fallback, "blocks": blocks + tail}


_HEADING = re.compile(r"^#{1,6}[ \t]+(.*?)[ \t#]*$", re.MULTILINE)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
_BACKSLASH = re.compile(r"\\([!-/:-@\[-`{-~])")  # Markdown's escaped punctuation: Slack shows the backslash, so drop it


def markdown_to_mrkdwn(text: str) -> str:
    """Slack's mrkdwn from the Markdown workflows write: headings become bold lines, ``**bold**``
    becomes ``*bold*``, ``[label](url)`` becomes ``<url|label>``; ``&``, ``<`` and ``>`` are
    escaped as Slack requires and hidden characters made visible; Markdown's backslash escapes
    (``\\(``) lose their backslash, which Slack would show. Other Markdown passes through, readable
    as it is. Text quoted from documents or people comes escaped as Markdown, so it forms no link."""
    text = slack_text(text)
    text = _HEADING.sub(lambda m: f"*{m.group(1).replace('**', '')}*" if m.group(1) else "", text)
    text = _BOLD.sub(r"*\1*", text)
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1).replace('|', '/')}>", text)
    return _BACKSLASH.sub(r"\1", text)


def split_sections(text: str, limit: int = SLACK_SECTION_LIMIT) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at line ends where possible so that a link or a
    bold run is not split in two."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if current and len(current) + len(line) > limit:
            pieces.append(current)
            current = ""
        while len(line) > limit:
            pieces.append(line[:limit])
            line = line[limit:]
        current += line
    pieces.append(current)
    return [piece.strip("\n") for piece in pieces if piece.strip()]


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
