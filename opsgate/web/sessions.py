"""Who is signed in to the review screen, and the token every form must carry.

The cookie Starlette signs (``itsdangerous``) with the review secret carries only a random session
token and the CSRF token; who the session belongs to is kept in the store (``governance.signins``),
which ends it when its person signs out, after ``review_idle_seconds`` without use or
``review_session_seconds`` in all, and when the account is disabled or given a new password or an
operator signs the person out. Signing in replaces whatever the cookie held, so a session fixed
before sign-in is worth nothing after it. The approver's name, how they were authenticated and the
identity provider's groups that vouched for them come only from here: no form field can say who
answers.

Every form carries the session's CSRF token and every state-changing request is checked against it
(``check_csrf``): a page on another site cannot make a signed-in approver's browser decide.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from fastapi import HTTPException, Request

from opsgate.governance import identity, signins
from opsgate.models import Authentication

_TOKEN = "session"
_CSRF = "csrf"
CSRF_FIELD = "csrf"
MAX_GROUPS = 32  # more is a misconfigured claim or header, not a person's groups
GROUP_CHARS = 64


@dataclass(frozen=True)
class Visitor:
    """The signed-in approver, as their sign-in established them."""

    name: str
    authenticated_by: Authentication
    groups: tuple[str, ...]
    csrf: str


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first need (the sign-in form has one before anyone signs in)."""
    token = request.session.get(_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[_CSRF] = token
    return token


def check_csrf(request: Request, sent: str | None) -> None:
    """Refuse (403) a state-changing request whose token is not the session's."""
    expected = request.session.get(_CSRF)
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        raise HTTPException(
            status_code=403,
            detail="this form has expired or did not come from this site: reload the page and try again",
        )


def vouched(name: object, groups: object) -> tuple[str, tuple[str, ...]]:
    """The name and groups an identity provider or proxy vouched for, as a session may hold them;
    ValueError says why not. Too many or too long groups are refused rather than cut short: a
    group left out could be the one a policy counts."""
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > identity.NAME_CHARS:
        raise ValueError(f"the name is not 1 to {identity.NAME_CHARS} characters")
    if not name.strip().isprintable():
        raise ValueError("the name holds characters that cannot be shown")
    if not isinstance(groups, (list, tuple)) or not all(isinstance(g, str) for g in groups):
        raise ValueError("the groups are not a list of names")
    kept = tuple(dict.fromkeys(g.strip() for g in groups if g.strip()))
    if len(kept) > MAX_GROUPS or any(len(g) > GROUP_CHARS or not g.isprintable() for g in kept):
        raise ValueError(f"opsgate takes at most {MAX_GROUPS} groups of at most {GROUP_CHARS} printable characters")
    return name.strip(), kept


def sign_in(request: Request, name: str, authenticated_by: Authentication, groups: tuple[str, ...] = ()) -> Visitor:
    """Start a fresh session for ``name``: whatever the cookie held before is dropped (and its
    session ended), and a new CSRF token is made."""
    sign_out(request, "signed in again")
    request.session[_TOKEN] = signins.open_session(name, authenticated_by, groups)
    return Visitor(name, authenticated_by, groups, csrf_token(request))


def sign_out(request: Request, why: str = "signed out") -> None:
    token = request.session.get(_TOKEN)
    if isinstance(token, str):
        signins.end_session(token, why)
    request.session.clear()


def visitor(request: Request) -> Visitor | None:
    """The signed-in approver, or None: nobody signed in, or the session has ended (see the module)."""
    token = request.session.get(_TOKEN)
    if not isinstance(token, str):
        return None
    who = signins.session_of(token)
    if who is None:
        request.session.clear()
        return None
    return Visitor(who.name, who.authenticated_by, who.groups, csrf_token(request))
