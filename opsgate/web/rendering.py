"""Pages of the review screen: Jinja2 templates with autoescaping on, and the one filter that shows
what documents and people wrote (``display.visible``: hidden and bidirectional characters as their
code points; the template escapes the rest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from opsgate.display import visible
from opsgate.web import sessions

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.autoescape = True
templates.env.filters["shown"] = lambda value: visible("" if value is None else str(value))


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page with the signed-in person (if any) and the session's CSRF token."""
    base = {"visitor": sessions.visitor(request), "csrf": sessions.csrf_token(request), "oidc": request.app.state.oidc}
    return templates.TemplateResponse(request, template, {**base, **context}, status_code=status, headers=headers)


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this site only (never another site, not even ``//host``)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
