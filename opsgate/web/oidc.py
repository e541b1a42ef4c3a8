"""Signing in to the review screen through the team's OpenID Connect provider.

Authlib's Starlette client speaks the protocol: the provider's discovery document
(``{issuer}/.well-known/openid-configuration``) names its endpoints and signing keys; the
authorization request carries a state and a nonce, kept in the session, and a PKCE (S256)
challenge; the callback exchanges the code and checks the ID token's signature against the
provider's keys, its expiry and its nonce. Two checks Authlib makes only when told are told here:
the issuer must be the configured one, and the audience must be this client (Authlib's default
accepts any audience beside a matching ``azp``). A token answer without an ID token is refused:
Authlib would hand back the access token unchecked.

The name is the ``oidc_name_claim`` of the ID token, the groups its ``oidc_groups_claim``
(bounded, ``sessions.vouched``). Whatever goes wrong is audited and shows the sign-in page again
with the reason (401), so a provider's error, a replayed or forged callback or a bad token never
ends in a server error. The provider's redirect back is a top-level GET from another site, which
the session cookie's ``SameSite=Lax`` lets through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.starlette_client import OAuth, OAuthError
from authlib.integrations.starlette_client.apps import StarletteOAuth2App
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from joserfc.errors import JoseError
from starlette.concurrency import run_in_threadpool

from opsgate.settings import Settings
from opsgate.web import sessions
from opsgate.web.rendering import page, safe_next
from opsgate.web.signin import record_refusal, record_sign_in

try:  # Authlib's HTTP client is httpx2 where that is installed (as its own shim chooses), else httpx
    import httpx2 as transport
except ImportError:  # an install without the OpenAI client, which brings httpx2
    import httpx as transport

router = APIRouter()
WANTED_SCOPES = ("openid", "profile", "email", "groups")
_NEXT = "oidc_next"
_FAILURES = (AuthlibBaseError, JoseError, transport.HTTPError, ValueError, LookupError, RuntimeError)


@dataclass(frozen=True)
class Provider:
    """The configured provider: ``title`` is what the sign-in page's button names (the issuer's host)."""

    title: str
    issuer: str
    client_id: str
    redirect_uri: str
    name_claim: str
    groups_claim: str
    client: StarletteOAuth2App

    @property
    def claims_options(self) -> dict[str, Any]:
        return {
            "iss": {"essential": True, "values": [self.issuer]},
            "aud": {"essential": True, "values": [self.client_id]},
        }


def provider(settings: Settings) -> Provider | None:
    """The provider the settings name, or None when sign-in through one is not configured."""
    if not settings.oidc_issuer or not settings.oidc_client_id:
        return None
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    client_kwargs: dict[str, Any] = {"code_challenge_method": "S256", "timeout": 15}
    if secret is None:
        client_kwargs["token_endpoint_auth_method"] = "none"  # a public client: PKCE alone binds the code
    client = OAuth().register(
        "oidc",
        client_id=settings.oidc_client_id,
        client_secret=secret,
        server_metadata_url=f"{settings.oidc_issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
    )
    return Provider(
        title=urlsplit(settings.oidc_issuer).hostname or settings.oidc_issuer,
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        redirect_uri=f"{settings.review_url.rstrip('/')}/login/oidc/callback",
        name_claim=settings.oidc_name_claim,
        groups_claim=settings.oidc_groups_claim,
        client=client,
    )


def scopes(metadata: dict[str, Any]) -> str:
    """The scopes asked for: ours, less those a provider that lists its scopes does not offer (some
    refuse a request naming an unknown one; many send groups under another scope or none)."""
    offered = metadata.get("scopes_supported")
    if not isinstance(offered, list):
        return " ".join(WANTED_SCOPES)
    return " ".join(s for s in WANTED_SCOPES if s == "openid" or s in offered)


def _why(exc: Exception) -> str:
    """What went wrong, in words for the person at the sign-in page and the audit log."""
    if isinstance(exc, OAuthError) and exc.error == "mismatching_state":
        return "the answer does not belong to a sign-in started here (its state does not match)"
    if isinstance(exc, OAuthError):
        return f"the provider answered {exc.error}" + (f": {exc.description}" if exc.description else "")
    if isinstance(exc, JoseError):
        return f"the provider's ID token is not valid ({exc.error}{': ' + exc.description if exc.description else ''})"
    if isinstance(exc, transport.HTTPError):
        return f"the provider could not be reached ({type(exc).__name__})"
    return f"the provider's answer could not be used ({type(exc).__name__})"


async def _refused(request: Request, provider: Provider, name: str, why: str, next: str) -> Response:
    await run_in_threadpool(record_refusal, request, name, f"oidc: {why}"[:500])
    error = f"Signing in with {provider.title} did not work: {why[:300]}."
    return page(request, "login.html", {"next": next, "error": error}, 401)


@router.get("/login/oidc")
async def start(request: Request, next: str = "/") -> Response:
    oidc: Provider = request.app.state.oidc
    try:
        metadata = await oidc.client.load_server_metadata()
        if metadata.get("issuer") != oidc.issuer:
            raise ValueError("the discovery document names another issuer")
        request.session[_NEXT] = safe_next(next)
        return await oidc.client.authorize_redirect(request, oidc.redirect_uri, scope=scopes(metadata))
    except _FAILURES as exc:
        return await _refused(request, oidc, "", _why(exc), safe_next(next))


@router.get("/login/oidc/callback")
async def callback(request: Request) -> Response:
    oidc: Provider = request.app.state.oidc
    next = safe_next(str(request.session.pop(_NEXT, "/")))
    try:
        token = await oidc.client.authorize_access_token(request, claims_options=oidc.claims_options)
    except _FAILURES as exc:
        return await _refused(request, oidc, "", _why(exc), next)
    claims = token.get("userinfo")
    if not claims:
        return await _refused(request, oidc, "", "the provider sent no ID token", next)
    named = claims.get(oidc.name_claim)
    if named is None:
        return await _refused(request, oidc, "", f"the ID token has no {oidc.name_claim} claim", next)
    try:
        name, groups = sessions.vouched(named, claims.get(oidc.groups_claim, []))
    except ValueError as exc:
        shown = named if isinstance(named, str) else ""
        return await _refused(
            request, oidc, shown, f"the ID token's {oidc.name_claim} or {oidc.groups_claim}: {exc}", next
        )
    await run_in_threadpool(record_sign_in, request, name, "oidc", groups)
    return RedirectResponse(next, status_code=303)
