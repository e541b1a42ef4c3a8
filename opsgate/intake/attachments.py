"""The files a message carries, kept beside it for a workflow to read: an AP mailbox's invoices.

A message is untrusted bytes, so it is parsed in a reader process under the platform's limits
(``opsgate.inputs.isolation``): a message that hangs or exhausts its reader costs itself, which is
refused with the reason, never the run. The sender names the files, so the names are cut to a
plain file name (no folder, no leading dot, nothing but letters, digits and ``._-``) and numbered
in the order the message has them, so two attachments called ``invoice.pdf`` are both kept and no
name can point outside the message's folder. Inline pictures (a logo in the signature) are not
attachments; a forwarded message's own attachments are.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from opsgate.inputs.isolation import IsolatedPool
from opsgate.intake.mailbox import MailMessage


@dataclass(frozen=True)
class Unpacked:
    """A message and the files kept from it, or why none could be (``problem``)."""

    message: MailMessage
    files: list[Path]
    problem: str | None = None


def safe_name(name: str | None, number: int) -> str:
    """A sender's file name as a plain one, numbered so names never collide."""
    base = re.sub(r"[^\w.-]+", "_", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).lstrip("._")
    return f"{number:02d}-{base[-100:] or 'attachment'}"


def _files(message: EmailMessage) -> list[tuple[str | None, bytes]]:
    found: list[tuple[str | None, bytes]] = []
    for part in message.iter_attachments():
        disposition = part.get_content_disposition()
        inline_picture = (
            part.get_content_maintype() == "image"
            and disposition != "attachment"
            and (disposition == "inline" or part["Content-ID"] is not None)
        )
        if part.get_content_type() == "message/rfc822":
            for inner in part.iter_parts():
                if isinstance(inner, EmailMessage):
                    found += _files(inner)
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload and not inline_picture:
            found.append((part.get_filename(), payload))
    return found


def unpack_one(job: tuple[Path, Path]) -> list[str]:
    """What a reader process does with one message: write its attachments into ``parts``."""
    path, parts = job
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    parts.mkdir(parents=True, exist_ok=True)
    names = []
    for number, (name, payload) in enumerate(_files(message), start=1):
        target = parts / safe_name(name, number)
        target.write_bytes(payload)
        names.append(target.name)
    return names


def unpack_attachments(messages: Sequence[MailMessage]) -> list[Unpacked]:
    """Each message's attachments, written into its ``parts`` folder, in the messages' order."""
    unpacked = []
    with IsolatedPool(unpack_one) as pool:
        for message, result in zip(messages, pool.imap([(m.path, m.parts) for m in messages]), strict=True):
            if result.failure is not None:
                unpacked.append(Unpacked(message, [], f"the message could not be read: {result.failure}"))
            else:
                assert result.value is not None
                unpacked.append(Unpacked(message, [message.parts / name for name in result.value]))
    return unpacked
