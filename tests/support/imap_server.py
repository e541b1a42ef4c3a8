"""A real IMAP server for tests: Debian's Dovecot in the foreground on the loopback, with IMAPS and
STARTTLS listeners, a self-signed certificate for 127.0.0.1 (its own CA file), one user and a
Maildir under the test's directory. Messages are put in with APPEND, as a mail client does."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

USER, PASSWORD = "ap", "letmein-imap"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ImapServer:
    root: Path
    imap_port: int
    imaps_port: int
    cert: Path
    maildir: Path
    process: subprocess.Popen[bytes] | None = None

    def mailbox(self, password_env: str, **changes: object) -> dict[str, object]:
        """A policy's settings for this server's inbox over IMAPS, the password in ``password_env``."""
        return {
            "host": "127.0.0.1",
            "port": self.imaps_port,
            "security": "ssl",
            "user": USER,
            "password_env": password_env,
            "ca_file": str(self.cert),
            **changes,
        }

    def rebuild_inbox(self) -> None:
        """What a restore or a migration of the mail store does: the inbox's UID list and indexes
        are gone, so Dovecot numbers its messages anew under another UIDVALIDITY."""
        inbox = self.maildir / USER
        for kept in [inbox / "dovecot-uidlist", *inbox.glob("dovecot.index*")]:
            kept.unlink(missing_ok=True)

    def client(self) -> imaplib.IMAP4_SSL:
        context = ssl.create_default_context(cafile=str(self.cert))
        client = imaplib.IMAP4_SSL("127.0.0.1", self.imaps_port, ssl_context=context, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.client()
        try:
            status, data = client.append(f'"{folder}"', None, None, raw)
            assert status == "OK", data
        finally:
            client.logout()

    def uids(self, folder: str = "INBOX") -> list[int]:
        client = self.client()
        try:
            status, _ = client.select(f'"{folder}"', readonly=True)
            if status != "OK":
                return []
            _, data = client.uid("SEARCH", "ALL")
            return sorted(int(u) for u in (data[0] or b"").split())
        finally:
            client.logout()

    def flags(self, uid: int, folder: str = "INBOX") -> bytes:
        client = self.client()
        try:
            client.select(f'"{folder}"', readonly=True)
            _, data = client.uid("FETCH", str(uid), "(FLAGS)")
            return data[0] if isinstance(data[0], bytes) else b""
        finally:
            client.logout()

    def start(self) -> None:
        conf = self.root / "dovecot.conf"
        self.process = subprocess.Popen(
            ["dovecot", "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.client().logout()
                return
            except (OSError, imaplib.IMAP4.error):
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"dovecot exited: {self.process.stderr.read().decode() if self.process.stderr else ''}"
                    ) from None
                time.sleep(0.2)
        raise RuntimeError("dovecot did not answer within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def require_dovecot() -> str:
    found = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    if found is None:
        pytest.fail("the IMAP tests need Debian's dovecot-imapd (apt-get install dovecot-imapd); .ci/run installs it")
    return found


@contextmanager
def dovecot(root: Path) -> Iterator[ImapServer]:
    """Dovecot serving ``root/mail`` to one user over IMAPS and IMAP + STARTTLS on free ports."""
    require_dovecot()
    root.mkdir(parents=True, exist_ok=True)
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    # Dovecot will not deliver as root: the Maildir belongs to Debian's `mail` user, outside the
    # test's directory (which only root may enter)
    owner = pwd.getpwnam("mail")
    mail = Path(tempfile.mkdtemp(prefix="opsgate-maildir-"))
    os.chown(mail, owner.pw_uid, owner.pw_gid)
    server = ImapServer(root, _free_port(), _free_port(), cert, mail)
    # Dovecot's sockets live under base_dir, whose path must fit a socket address (108 bytes): a
    # short directory of its own, not the test's, whose name grows with the test's and the worker's
    run = Path(tempfile.mkdtemp(prefix="opsgate-dovecot-"))
    (root / "state").mkdir(exist_ok=True)
    (root / "dovecot.conf").write_text(
        f"""
protocols = imap
listen = 127.0.0.1
base_dir = {run}
state_dir = {root / "state"}
log_path = {root / "dovecot.log"}
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain
mail_location = maildir:{mail}/%u
mail_uid = {owner.pw_uid}
mail_gid = {owner.pw_gid}
first_valid_uid = 1
first_valid_gid = 1
default_internal_user = dovecot
default_login_user = dovenull
passdb {{
  driver = static
  args = password={PASSWORD}
}}
userdb {{
  driver = static
  args = uid={owner.pw_uid} gid={owner.pw_gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {server.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {server.imaps_port}
    ssl = yes
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(mail, ignore_errors=True)
        shutil.rmtree(run, ignore_errors=True)
