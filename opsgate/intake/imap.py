"""One conversation with an IMAP server, in the few words intake needs: list, peek, fetch, move.

Every message is read with ``BODY.PEEK`` so reading marks nothing as seen (a person looking at the
same mailbox sees what they saw before), and by UID, which with the folder's UIDVALIDITY names a
message for good. TLS is always on: IMAPS from the first byte, or STARTTLS before the password is
sent; the server's certificate is checked against the system's authorities or the policy's
``ca_file``. A message is moved with ``MOVE`` (RFC 6851) where the server has it, else copied,
flagged deleted and expunged by UID, so nothing else in the folder is touched.
"""

from __future__ import annotations

import imaplib
import os
import re
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import default

from opsgate.errors import ConfigurationError, InputError
from opsgate.policy.schema import Mailbox


@dataclass(frozen=True)
class Envelope:
    """What is known of a message before its body is read: enough to decide whether to read it."""

    uid: int
    size: int
    message_id: str | None


def _quoted(folder: str) -> str:
    """A folder name as an IMAP string (imaplib sends arguments as they are)."""
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(result: tuple[str, list[object]], what: str) -> list[object]:
    status, data = result
    if status != "OK":
        detail = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise InputError(f"the mail server refused to {what}: {detail or status}")
    return data


class Session:
    """A logged-in session with one folder selected for reading and moving."""

    def __init__(self, client: imaplib.IMAP4, folder: str) -> None:
        self._client = client
        self.folder = folder
        _ok(client.select(_quoted(folder)), f"open the folder {folder!r}")
        validity = client.untagged_responses.get("UIDVALIDITY") or [b"0"]
        self.uidvalidity = int(validity[-1])  # type: ignore[arg-type]
        self._can_move = "MOVE" in client.capabilities
        self._known_folders: set[str] = set()

    def uids(self) -> list[int]:
        """Every message in the folder, oldest first."""
        data = _ok(self._client.uid("SEARCH", "ALL"), "list the folder")
        return sorted(int(uid) for uid in (data[0] or b"").split())  # type: ignore[union-attr]

    def envelopes(self, uids: list[int]) -> list[Envelope]:
        """Size and Message-ID of each message, without reading its body."""
        if not uids:
            return []
        data = _ok(
            self._client.uid(
                "FETCH", ",".join(map(str, uids)), "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"
            ),
            "describe the messages",
        )
        found = []
        for item in data:
            if not isinstance(item, tuple):
                continue
            head, header = item
            uid = re.search(rb"\bUID (\d+)", head)
            size = re.search(rb"\bRFC822\.SIZE (\d+)", head)
            if uid is None or size is None:
                continue
            message_id = BytesHeaderParser(policy=default).parsebytes(header).get("Message-ID")
            found.append(Envelope(int(uid.group(1)), int(size.group(1)), str(message_id or "").strip() or None))
        return sorted(found, key=lambda e: e.uid)

    def fetch(self, uid: int) -> bytes:
        """The whole message as the server keeps it, unread (no \\Seen flag is set)."""
        data = _ok(self._client.uid("FETCH", str(uid), "(BODY.PEEK[])"), f"read message {uid}")
        for item in data:
            if isinstance(item, tuple):
                return bytes(item[1])
        raise InputError(f"message {uid} is no longer in {self.folder!r}")

    def move(self, uid: int, folder: str) -> None:
        """Move the message out of the folder; a folder that is missing is made."""
        self._ensure(folder)
        if self._can_move:
            _ok(self._client.uid("MOVE", str(uid), _quoted(folder)), f"move message {uid} to {folder!r}")
            return
        _ok(self._client.uid("COPY", str(uid), _quoted(folder)), f"copy message {uid} to {folder!r}")
        _ok(self._client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)"), f"flag message {uid}")
        if "UIDPLUS" in self._client.capabilities:
            _ok(self._client.uid("EXPUNGE", str(uid)), f"expunge message {uid}")
        else:
            _ok(self._client.expunge(), "expunge the folder")

    def _ensure(self, folder: str) -> None:
        if folder in self._known_folders:
            return
        self._client.create(_quoted(folder))  # NO when it exists: either way it is there, which the move checks
        self._known_folders.add(folder)


def _context(mailbox: Mailbox) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=mailbox.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(f"the mailbox's ca_file {mailbox.ca_file!r} cannot be used: {exc}") from None


@contextmanager
def session(mailbox: Mailbox) -> Iterator[Session]:
    """Log in to the mailbox over TLS and select its folder; log out on the way out."""
    password = os.environ.get(mailbox.password_env)
    if not password:
        raise ConfigurationError(f"set {mailbox.password_env} to the password of {mailbox.address}")
    context = _context(mailbox)
    port = mailbox.port or (993 if mailbox.security == "ssl" else 143)
    try:
        if mailbox.security == "ssl":
            client: imaplib.IMAP4 = imaplib.IMAP4_SSL(mailbox.host, port, ssl_context=context, timeout=mailbox.timeout)
        else:
            client = imaplib.IMAP4(mailbox.host, port, timeout=mailbox.timeout)
            client.starttls(ssl_context=context)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise InputError(f"cannot reach the mailbox {mailbox.address} over {mailbox.security}: {exc}") from None
    try:
        try:
            client.login(mailbox.user, password)
        except imaplib.IMAP4.error as exc:
            raise InputError(f"the mailbox {mailbox.address} refused the login: {exc}") from None
        yield Session(client, mailbox.folder)
    except (OSError, imaplib.IMAP4.abort) as exc:
        raise InputError(f"the connection to {mailbox.address} broke: {exc}") from None
    finally:
        try:
            client.logout()
        except (OSError, imaplib.IMAP4.error):
            pass
