"""The words a person wrote in an e-mail: the text part (or the HTML one as text), without the
quoted message it replies to or the signature under it; attachments listed, not read."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html.parser import HTMLParser

from tasks.request_triage.models import Attachment

# "On Mon, 3 Jun 2024, Ana <ana@example.com> wrote:" and its translations; Outlook's header block.
_REPLY_HEADER = re.compile(
    r"^\s*(?:on\b.{0,200}\bwrote:|am\b.{0,200}\bschrieb\b.*:|le\b.{0,200}\ba écrit\s*:|el\b.{0,200}\bescribió:"
    r"|-{2,}\s*original message\s*-{2,}|-{2,}\s*ursprüngliche nachricht\s*-{2,}|from:\s.+|von:\s.+|de\s*:\s.+)\s*$",
    re.IGNORECASE,
)
_FORWARDED = re.compile(r"^\s*-{2,}\s*(?:forwarded message|weitergeleitete nachricht|message transféré)", re.IGNORECASE)
_SIGNATURE = re.compile(r"^(?:-- ?|—|_{3,}|sent from my \w+.*|von meinem \w+ gesendet.*)$", re.IGNORECASE)
_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre"}


class _Text(HTMLParser):
    """HTML as the text a mail reader shows: blocks on lines of their own, scripts, styles and
    quoted blocks left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "blockquote"):
            self._hidden += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "blockquote"):
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = (re.sub(r"[ \t\xa0]+", " ", line).strip() for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def own_words(text: str) -> str:
    """The lines the sender wrote: up to a quoted reply or the signature, quoted lines dropped. A
    forwarded message is kept: what was forwarded is the request."""
    kept: list[str] = []
    forwarded = False
    for line in text.splitlines():
        stripped = line.strip()
        if _FORWARDED.match(stripped):
            forwarded = True
            kept.append(line)
            continue
        if _REPLY_HEADER.match(stripped):
            if forwarded:
                continue  # the forwarded message's own header lines: what follows them is kept
            if any(k.strip() for k in kept):
                break
        if _SIGNATURE.match(stripped) and any(k.strip() for k in kept):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept).strip()


def message_text(message: EmailMessage) -> str:
    """The message's own words: its plain text part, else its HTML part as text."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    content = _content(body)
    return own_words(html_text(content) if body.get_content_type() == "text/html" else content)


def attachments(message: EmailMessage) -> list[Attachment]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        found.append(
            Attachment(
                filename=part.get_filename() or "unnamed",
                content_type=part.get_content_type(),
                size=len(payload) if isinstance(payload, bytes) else 0,
            )
        )
    return found


def _content(part: EmailMessage) -> str:
    """A text part decoded by its declared charset; a wrong or unknown charset read as Latin-1
    rather than failing the request."""
    try:
        return str(part.get_content())
    except (LookupError, UnicodeDecodeError):
        payload = part.get_payload(decode=True)
        return payload.decode("latin-1") if isinstance(payload, bytes) else ""
