"""Who is signed in to the review screen, and the token every form must carry.

The session lives in a cookie Starlette signs (``itsdangerous``) with the review secret; its
signature's age ends it after ``review_idle_seconds`` without use, and the sign-in time it holds ends
it after ``review_session_seconds`` whatever happens. Signing in replaces whatever the cookie held,
so a session fixed before sign-in is worth nothing after it. The approver's name, how they were
authenticated and the identity provider's groups that vouched for them come only from here: no form
field can say who answers.

Every form carries the session's CSRF token and every state-changing request is checked against it
(``check_csrf``): a page on another site cannot make a signed-in approver's browser decide.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from fastapi import HTTPException, Request

from opsgate.governance import identity
from opsgate.governance.answers import Authentication
from opsgate.settings import get_settings

_WHO = "who"
_CSRF = "csrf"
CSRF_FIELD = "csrf"
MAX_GROUPS = 32  # the groups ride in the session cookie, which a browser keeps only up to 4 KB
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
    """Start a fresh session for ``name``: everything the cookie held before is dropped, and a new
    CSRF token is made. A session signed in with a local account's password keeps the account's
    stamp, and ends when the password changes or the account is disabled."""
    request.session.clear()
    now = time.time()
    request.session[_WHO] = {"name": name, "how": authenticated_by, "groups": list(groups), "issued": now}
    if authenticated_by == "password":
        request.session[_WHO]["stamp"] = identity.stamp(name)
    return Visitor(name, authenticated_by, groups, csrf_token(request))


def sign_out(request: Request) -> None:
    request.session.clear()


def visitor(request: Request) -> Visitor | None:
    """The signed-in approver, or None: nobody signed in, the session is past its lifetime, or a
    local account was disabled or given a new password since (its sessions end with it)."""
    who = request.session.get(_WHO)
    if not isinstance(who, dict):
        return None
    issued = who.get("issued")
    if not isinstance(issued, (int, float)) or time.time() - issued > get_settings().review_session_seconds:
        sign_out(request)
        return None
    name, how = str(who.get("name", "")), who.get("how")
    if how == "password" and (who.get("stamp") is None or who.get("stamp") != identity.stamp(name)):
        sign_out(request)
        return None
    return Visitor(name, how, tuple(str(g) for g in who.get("groups") or ()), csrf_token(request))
