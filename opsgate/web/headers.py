"""Security headers on every response of the review screen.

The pages load nothing from elsewhere and run no inline script, so the content security policy can
forbid both: text a document smuggles into a page (already escaped) still could not run. Pages are
never framed (no clickjacking of the approve button) and never cached (a shared machine's back
button does not show yesterday's invoices after sign-out)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=()",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Pure ASGI middleware (no response buffering): adds ``HEADERS``, and HSTS when served over https."""

    def __init__(self, app: ASGIApp, https: bool) -> None:
        self.app = app
        self.extra = {**HEADERS, **({"strict-transport-security": "max-age=31536000"} if https else {})}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                static = scope.get("path", "").startswith("/static/")
                message["headers"] = list(message.get("headers", [])) + [
                    (k.encode(), v.encode())
                    for k, v in self.extra.items()
                    if k.encode() not in present and not (static and k == "cache-control")
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
