"""The key that makes tampering evident to someone who can rewrite the database but not read it.

An unkeyed SHA-256 proves nothing against a database administrator: whoever changes an approved
action can recompute its digest, and whoever rewrites the audit log can recompute every hash after
the row they changed. Keyed with a secret that lives outside the database (HMAC-SHA256), the same
digests and hashes can only be made by a process that holds the key: opsgate's own.

The key comes from ``OPSGATE_AUDIT_KEY``, else from the file ``OPSGATE_AUDIT_KEY_FILE``, else from
``audit.key`` in the data directory, created on first use (readable by its owner only). Every
process that proposes, approves, executes or verifies must use the same key: set it on the workers
and on the approvers' CLI alike.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from opsgate.errors import ConfigurationError
from opsgate.settings import get_settings

MIN_KEY_CHARS = 32


def _checked(key: str, where: str) -> bytes:
    key = key.strip()
    if len(key) < MIN_KEY_CHARS:
        raise ConfigurationError(
            f"the audit key in {where} is {len(key)} characters; it needs at least {MIN_KEY_CHARS} (e.g. `openssl rand -hex 32`)"
        )
    return key.encode("utf-8")


def _from_file(path: Path, create: bool) -> bytes:
    """The key in ``path``; the default file is created once, atomically, so two processes starting
    together agree on one key."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
    try:
        return _checked(path.read_text(encoding="utf-8"), str(path))
    except FileNotFoundError:
        raise ConfigurationError(f"audit key file {path} does not exist (OPSGATE_AUDIT_KEY_FILE)") from None


@lru_cache(maxsize=8)
def _key(secret: str | None, file: Path | None, data_dir: Path) -> bytes:
    if secret is not None:
        return _checked(secret, "OPSGATE_AUDIT_KEY")
    if file is not None:
        return _from_file(file, create=False)
    return _from_file(data_dir / "audit.key", create=True)


def key() -> bytes:
    """The audit key of this process's settings."""
    settings = get_settings()
    secret = settings.audit_key.get_secret_value() if settings.audit_key else None
    return _key(secret, settings.audit_key_file, settings.data_dir)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the one byte form that digests are taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)


def mac(value: Any) -> str:
    """HMAC-SHA256 of ``value``'s canonical JSON under the audit key, as hex."""
    return hmac.new(key(), canonical_json(value).encode("utf-8"), hashlib.sha256).hexdigest()


def verifies(value: Any, tag: str | None) -> bool:
    """Whether ``tag`` is ``value``'s MAC (compared in constant time)."""
    return tag is not None and hmac.compare_digest(mac(value), tag)
