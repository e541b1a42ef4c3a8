"""Local accounts: who an approver is, checked by a password rather than taken from a typed name.

A name typed into an answer proves nothing: anyone who can reach the gate can type anyone's name.
An account holds the name (reduced as ``policy.runtime.person`` reduces it, so case and surrounding
spaces do not make another account) and an argon2 hash of the password, never the password. An
answer whose approver gave the right password is recorded as authenticated by ``password``; a
policy with ``approvals.identity: verified`` refuses every other (``review.problems``).

Checking costs the same whether the name is unknown, disabled or the password wrong, and all three
fail with one message: a refusal does not tell a guesser which names have accounts.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel
from sqlalchemy import select

from opsgate.errors import ApprovalRejected, ConfigurationError
from opsgate.governance import signins
from opsgate.models import Authentication
from opsgate.policy.runtime import person
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import UserRow, as_utc

PASSWORD_ENV = "OPSGATE_APPROVER_PASSWORD"  # for scripts: the password `opsgate approvals` would ask for
MIN_PASSWORD = 12
NAME_CHARS = 100
AUDIT_WORKFLOW = "opsgate"  # account changes belong to no workflow
REFUSED = "the name and password do not match an enabled account"

_hasher = PasswordHasher()


@cache
def _nobody() -> str:
    """The hash checked against when there is no account, so an unknown name costs what a wrong
    password does (made once, when first needed: hashing is slow on purpose)."""
    return _hasher.hash("no account has this password")


class User(BaseModel):
    """An account as it is listed: never its hash."""

    name: str
    created_at: datetime
    disabled: bool


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > NAME_CHARS or not name.isprintable():
        raise ConfigurationError(f"an account's name is 1 to {NAME_CHARS} printable characters, got {name!r}")
    return name


def add_user(name: str, password: str, by: str) -> User:
    """Open an account for ``name`` (audited, ``by`` whom). A name that has an account, enabled or
    disabled, cannot have a second one: a disabled account stays, so its past decisions keep their name."""
    name = _valid_name(name)
    if len(password) < MIN_PASSWORD:
        raise ConfigurationError(f"a password needs at least {MIN_PASSWORD} characters")
    with transaction() as session:
        if session.get(UserRow, person(name)) is not None:
            raise ConfigurationError(f"{name!r} already has an account")
        row = UserRow(key=person(name), name=name, password_hash=_hasher.hash(password), disabled=False)
        session.add(row)
        session.flush()
        audit.append(session, AuditEvent.ACCOUNT_ADDED, workflow=AUDIT_WORKFLOW, actor=by, data={"name": name})
        return User(name=row.name, created_at=as_utc(row.created_at), disabled=False)


def disable_user(name: str, by: str) -> None:
    """Disable ``name``'s account (audited): its password no longer authenticates anyone, and its
    review-screen sessions end."""
    with transaction() as session:
        row = session.get(UserRow, person(name))
        if row is None:
            raise ConfigurationError(f"{name.strip()!r} has no account")
        if not row.disabled:
            row.disabled = True
            audit.append(
                session, AuditEvent.ACCOUNT_DISABLED, workflow=AUDIT_WORKFLOW, actor=by, data={"name": row.name}
            )
    signins.end_sessions(name, "the account was disabled", by)


def enable_user(name: str, by: str) -> None:
    """Enable a disabled account again (audited): its password authenticates again."""
    with transaction() as session:
        row = session.get(UserRow, person(name))
        if row is None:
            raise ConfigurationError(f"{name.strip()!r} has no account")
        if row.disabled:
            row.disabled = False
            audit.append(
                session, AuditEvent.ACCOUNT_ENABLED, workflow=AUDIT_WORKFLOW, actor=by, data={"name": row.name}
            )


def set_password(name: str, password: str, by: str) -> None:
    """Give an account a new password (audited, never the password): the old one stops working, and
    every review-screen session of the account ends. A forgotten password is replaced, never read back."""
    if len(password) < MIN_PASSWORD:
        raise ConfigurationError(f"a password needs at least {MIN_PASSWORD} characters")
    with transaction() as session:
        row = session.get(UserRow, person(name))
        if row is None:
            raise ConfigurationError(f"{name.strip()!r} has no account")
        row.password_hash = _hasher.hash(password)
        audit.append(session, AuditEvent.PASSWORD_SET, workflow=AUDIT_WORKFLOW, actor=by, data={"name": row.name})
    signins.end_sessions(name, "the account was given a new password", by)


def list_users() -> list[User]:
    """Every account, by name."""
    with transaction() as session:
        rows = session.execute(select(UserRow).order_by(UserRow.key)).scalars()
        return [User(name=r.name, created_at=as_utc(r.created_at), disabled=r.disabled) for r in rows]


def has_account(name: str) -> bool:
    """Whether ``name`` has an enabled account (an approver who has one is asked for its password)."""
    with transaction() as session:
        row = session.get(UserRow, person(name))
        return row is not None and not row.disabled


def verify_password(name: str, password: str, client: str = "cli") -> Authentication:
    """``password`` when ``name`` has an enabled account and this is its password; else
    ``ApprovalRejected``, the same for an unknown name, a disabled account and a wrong password,
    and a ``sign_in_failed`` audit event saying from where (``client``: the CLI, or the review
    screen's client address)."""
    with transaction() as session:
        row = session.get(UserRow, person(name))
        stored, enabled = (row.password_hash, not row.disabled) if row is not None else (_nobody(), False)
    try:
        matches = _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        matches = False
    if not (matches and enabled):
        refused(name, REFUSED, client)
        raise ApprovalRejected(REFUSED)
    return "password"


def refused(name: str, why: str, client: str) -> None:
    """Audit a refused sign-in or password check: who was named, why, from where."""
    with transaction() as session:
        audit.append(
            session,
            AuditEvent.SIGN_IN_FAILED,
            workflow=AUDIT_WORKFLOW,
            actor=name.strip()[:NAME_CHARS] or "unknown",
            data={"name": name.strip()[:NAME_CHARS], "why": why, "client": client},
        )
