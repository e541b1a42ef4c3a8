"""Bytes of a plain-text document (an e-mail, an exported note) as text, whatever it was saved in."""

from __future__ import annotations


def decode_text(data: bytes) -> str:
    """UTF-16 by its byte-order mark; else UTF-8 (with or without BOM); else cp1252, the usual legacy
    Windows export; latin-1 never fails, so a document is always shown and read, never refused for
    its encoding."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")
