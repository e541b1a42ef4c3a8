"""Signing in to the review screen with a local account, and signing out.

The password is checked by ``governance.identity`` (argon2; an unknown name, a disabled account and
a wrong password cost the same and read the same). Failures are throttled per name and per client
address (``throttle``) and every sign-in, and every refusal, is audited with the client address.
Other ways in (the team's OpenID Connect provider, a trusted proxy) end in the same ``record_sign_in``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from opsgate.errors import ApprovalRejected
from opsgate.governance import identity
from opsgate.models import Authentication
from opsgate.policy.runtime import person
from opsgate.store import audit
from opsgate.store.audit import AuditEvent
from opsgate.store.db import transaction
from opsgate.web import sessions
from opsgate.web.rendering import page, safe_next

router = APIRouter()


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def record_sign_in(request: Request, name: str, how: Authentication, groups: tuple[str, ...] = ()) -> None:
    """Start the session and audit it: every way in ends here."""
    sessions.sign_in(request, name, how, groups)
    with transaction() as session:
        audit.append(
            session,
            AuditEvent.SIGNED_IN,
            workflow=identity.AUDIT_WORKFLOW,
            actor=name,
            data={"name": name, "authenticated_by": how, "groups": list(groups), "client": client_address(request)},
        )


def record_refusal(request: Request, name: str, why: str) -> None:
    identity.refused(name, why, client_address(request))


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return page(request, "login.html", {"next": safe_next(next), "error": ""})


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=identity.NAME_CHARS * 4)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    sessions.check_csrf(request, csrf)
    throttle = request.app.state.throttle
    keys = (f"name:{person(username)}", f"client:{client_address(request)}")
    if wait := throttle.wait_seconds(*keys):
        record_refusal(request, username, "too many failed sign-ins")
        error = f"Too many failed sign-ins. Try again in {wait} seconds."
        return page(request, "login.html", {"next": safe_next(next), "error": error}, 429, {"Retry-After": str(wait)})
    try:
        how = identity.verify_password(username, password, client_address(request))
    except ApprovalRejected:  # audited by the check
        throttle.failed(*keys)
        error = "The name and password do not match an account."
        return page(request, "login.html", {"next": safe_next(next), "error": error}, 401)
    throttle.succeeded(f"name:{person(username)}")
    record_sign_in(request, username.strip(), how)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    sessions.check_csrf(request, csrf)
    sessions.sign_out(request)
    return RedirectResponse("/login", status_code=303)
