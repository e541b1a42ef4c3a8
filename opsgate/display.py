"""Showing text that others wrote (documents, input files, models, approvers, the store's copies of
them) so that it cannot act on whoever reads it: one function per medium, used wherever such text
is shown, and nothing else.

- terminal: ``terminal_text`` gives a rich ``Text``, which rich never parses as markup (a vendor
  called ``[conceal]Acme[/conceal]`` shows those brackets) nor colours with its highlighter;
  ``terminal_json`` shows a payload as JSON the same way.
- Markdown (Prefect artifacts, whose table cells Prefect's UI also renders as Markdown, the approval
  form, reports, channel text): ``markdown_text`` escapes every character Markdown gives a meaning,
  raw HTML included, defuses bare links, and folds whitespace into single spaces, so the text is
  also a safe table cell (``|`` escaped, no newline can end a row).
- HTML: ``html_text``. Slack mrkdwn: ``slack_text`` (``&``, ``<`` and ``>``, the characters Slack
  reads as control: ``<!channel>`` would notify everyone).
- CSV that a spreadsheet may open: ``csv_cell`` (formula cells).

Every medium but CSV first makes invisible characters visible (``visible``): bidirectional
controls (``invoice_``, a right-to-left override and ``fdp.exe`` read as ``invoice_exe.pdf``), zero-width
and other format characters (Unicode category Cf) and control characters other than tab and
newline (an ESC starts a terminal escape sequence, a CR overwrites the line). Each is shown as its
code point, ``⟨U+202E⟩``, so a reader sees that something is there and what it is.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from typing import Any

from rich.highlighter import JSONHighlighter
from rich.text import Text

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SHOWN_AS_IS = frozenset("\t\n")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")
_AUTOLINK = re.compile(r"\b(https?|ftp|www)([:.])|@", re.IGNORECASE)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _hidden(char: str) -> bool:
    return char not in _SHOWN_AS_IS and unicodedata.category(char) in ("Cf", "Cc")


def code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


def visible(text: str) -> str:
    """``text`` with every bidirectional control, format character (Cf) and control character
    (C0, DEL, C1) other than tab and newline replaced by a marker such as ``⟨U+202E⟩``."""
    if text.isprintable():  # the common case: nothing hidden (tab and newline are not printable)
        return text
    return "".join(f"⟨{code_point(char)}⟩" if _hidden(char) else char for char in text)


def bidi_controls(text: str) -> list[str]:
    """The bidirectional controls in ``text`` as code points (``U+202E``), each once, in order."""
    return list(dict.fromkeys(code_point(char) for char in text if char in BIDI_CONTROLS))


def terminal_text(text: str, style: str = "") -> Text:
    """Text for the terminal (a table cell, a line, part of ``Text.assemble``): shown as it is."""
    return Text(visible(text), style=style)


def terminal_json(data: Any) -> Text:
    """A payload as indented JSON, coloured by JSON syntax only; its strings never act as markup."""
    shown = Text(visible(json.dumps(data, indent=2, ensure_ascii=False, default=str)))
    shown.no_wrap = True
    return JSONHighlighter()(shown)


def markdown_text(text: str) -> str:
    """Text shown as it is in Markdown, on one line: no links, images, HTML, emphasis or table
    breaks. Prefect's UI also links bare web and e-mail addresses, so their ``:``, ``.`` or ``@``
    is escaped too."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(visible(text).split()))
    return _AUTOLINK.sub(lambda m: f"{m.group(1)}\\{m.group(2)}" if m.group(1) else "\\@", escaped)


def html_text(text: str) -> str:
    """Text shown as it is in HTML, in an element or an attribute."""
    return html.escape(visible(text))


def slack_text(text: str) -> str:
    """Text for Slack's mrkdwn: ``&``, ``<`` and ``>`` escaped as Slack asks, so no mention, link
    or command comes out of it."""
    return visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def csv_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows instead of running (OWASP, CSV injection): a text that
    starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``.

    A cell that is a plain decimal number (``-12.50``) is left as it is, so amounts stay numbers a
    spreadsheet can add up: no formula looks like that. Anything more (``-12.50+1``, ``-1e3``) is
    neutralised. Values that are not text are not formulas and pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value
