"""Review-screen sessions, kept in the store so that ending one ends it everywhere.

A session is a random token in the browser's (signed) cookie and the token's SHA-256 here, with
who signed in, how, and the groups their sign-in vouched for. A session ends when its person signs
out, when it has been idle for ``review_idle_seconds`` or open for ``review_session_seconds``, when
its local account is disabled or given a new password, or when an operator signs the person out
(``end_sessions``): a cookie copied off an approver's machine is then worth nothing either.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel
from sqlalchemy import select

from opsgate.models import Authentication
from opsgate.policy.runtime import person
from opsgate.settings import get_settings
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.store.tables import ReviewSessionRow, as_utc

AUDIT_WORKFLOW = "opsgate"  # sessions belong to no workflow
SEEN_EVERY = timedelta(seconds=60)  # how often a session's last use is written: not at every request


class SignedIn(BaseModel):
    """Who a live session belongs to, as their sign-in established it."""

    name: str
    authenticated_by: Authentication
    groups: tuple[str, ...]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(name: str, authenticated_by: Authentication, groups: tuple[str, ...] = ()) -> str:
    """A new session for ``name``; its token, for the cookie only."""
    token = secrets.token_urlsafe(32)
    now = _now()
    with transaction() as session:
        session.add(
            ReviewSessionRow(
                digest=_digest(token),
                name=name,
                person=person(name),
                authenticated_by=authenticated_by,
                groups=list(groups),
                started_at=now,
                seen_at=now,
                ended_why="",
            )
        )
    return token


def session_of(token: str) -> SignedIn | None:
    """Who the session of this token belongs to; None when there is none or it has ended (an
    expired one is ended here, with why)."""
    settings = get_settings()
    now = _now()
    with transaction() as session:
        row = session.get(ReviewSessionRow, _digest(token))
        if row is None or row.ended_at is not None:
            return None
        if now - as_utc(row.started_at) > timedelta(seconds=settings.review_session_seconds):
            row.ended_at, row.ended_why = now, "open longer than review_session_seconds"
            return None
        if now - as_utc(row.seen_at) > timedelta(seconds=settings.review_idle_seconds):
            row.ended_at, row.ended_why = now, "idle longer than review_idle_seconds"
            return None
        if now - as_utc(row.seen_at) > SEEN_EVERY:
            row.seen_at = now
        return SignedIn(name=row.name, authenticated_by=row.authenticated_by, groups=tuple(row.groups or ()))


def end_session(token: str, why: str) -> None:
    with transaction() as session:
        row = session.get(ReviewSessionRow, _digest(token))
        if row is not None and row.ended_at is None:
            row.ended_at, row.ended_why = _now(), why


def end_sessions(name: str, why: str, by: str) -> int:
    """End every open session of ``name`` (audited when there was one); how many were open."""
    with transaction() as session:
        rows = (
            session.execute(
                select(ReviewSessionRow).where(
                    ReviewSessionRow.person == person(name), ReviewSessionRow.ended_at.is_(None)
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            row.ended_at, row.ended_why = _now(), why
        if rows:
            audit.append(
                session,
                AuditEvent.SESSIONS_ENDED,
                workflow=AUDIT_WORKFLOW,
                actor=by,
                data={"name": rows[0].name, "sessions": len(rows), "why": why},
            )
        return len(rows)
