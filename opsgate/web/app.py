"""The review screen as an ASGI application: ``create_app`` wires sessions, security headers, the
sign-in ways the settings turn on, the pages and their static files.

Run it with ``opsgate review serve``; behind a reverse proxy that terminates TLS, set
``OPSGATE_REVIEW_URL`` to its https address so cookies are sent only over https."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from opsgate.integrity import key
from opsgate.settings import Settings, get_settings
from opsgate.web import escalated, oidc, pages, proxy, signin
from opsgate.web.headers import SecurityHeaders
from opsgate.web.pages import SignInRequired
from opsgate.web.previews import Previewer
from opsgate.web.rendering import HERE, page
from opsgate.web.throttle import LoginThrottle

SESSION_COOKIE = "opsgate_review"


def session_secret(settings: Settings) -> str:
    """The key session cookies are signed with: the configured one, or one derived from the audit
    key (so a fresh install needs no second secret, and neither can be read from the other)."""
    if settings.review_secret is not None:
        return settings.review_secret.get_secret_value()
    return hmac.new(key(), b"opsgate review sessions", hashlib.sha256).hexdigest()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    https = settings.review_url.startswith("https://")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """The reader processes that draw and search documents live as long as the server, so a
        page does not wait for them to start."""
        with Previewer(settings) as previewer:
            app.state.previewer = previewer
            yield

    app = FastAPI(title="opsgate review", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.throttle = LoginThrottle(settings.review_login_attempts, settings.review_login_window_seconds)
    app.state.oidc = oidc.provider(settings)
    app.include_router(signin.router)
    if app.state.oidc is not None:
        app.include_router(oidc.router)
    app.include_router(pages.router)
    app.include_router(escalated.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(SignInRequired)
    def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "sign in first"}, status_code=401)
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @app.exception_handler(HTTPException)
    def _refused(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/") or "/pages/" in request.url.path:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        return page(request, "refused.html", {"detail": exc.detail}, exc.status_code, exc.headers)

    # the outermost layer runs first: headers on every response, then the session under them, then
    # a trusted proxy's header, which reads and writes that session
    if networks := proxy.trusted_networks(settings.review_trusted_proxies):
        user, groups = settings.review_proxy_user_header, settings.review_proxy_groups_header
        app.add_middleware(proxy.ProxySignIn, networks=networks, user_header=user, groups_header=groups)
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings),
        session_cookie=SESSION_COOKIE,
        max_age=settings.review_idle_seconds,
        same_site="lax",
        https_only=https,
    )
    app.add_middleware(SecurityHeaders, https=https)
    return app
