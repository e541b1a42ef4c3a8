"""Signing in through an authenticating reverse proxy: nginx (``auth_basic``, ``auth_request``),
oauth2-proxy and the like name the person they authenticated in a header.

Only a proxy is believed: a request whose TCP peer (uvicorn runs with ``proxy_headers=False``, so
``request.client`` is the real peer, never an ``X-Forwarded-For``) is inside one of
``review_trusted_proxies`` and that carries ``review_proxy_user_header`` is the person it names,
with the groups of ``review_proxy_groups_header`` (comma-separated, bounded by
``sessions.vouched``). The same header from any other peer signs nobody in, and is not audited (it
would be one event per request of whoever sends it). The proxy must overwrite the header a client
sends; the README shows nginx doing so.

Design: a pure ASGI middleware inside the session middleware, not a hook in ``sessions.visitor``.
It runs once per request before any route, so every page, the API and the CSRF check see a session
that already follows the header, and ``sessions.visitor`` stays a reader of the cookie (a hook
there would have to write the session, and audit, from wherever a visitor is asked for, including
while a page is rendered). The session follows the header on every request: the proxy's user
starting a session, or another user (or other groups) replacing it, is a fresh sign-in, audited
once through ``record_sign_in``; a trusted request without the header, or any request from an
untrusted peer, ends a session the proxy made (a session signed in with a password is left alone).
The CSRF token lives in that session as for every other way in, so forms are checked as always.
"""

from __future__ import annotations

import logging
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from opsgate.errors import ConfigurationError
from opsgate.web import sessions
from opsgate.web.signin import record_sign_in

logger = logging.getLogger(__name__)
Network = IPv4Network | IPv6Network


def trusted_networks(entries: list[str]) -> tuple[Network, ...]:
    """The trusted proxies' addresses and networks; every entry that is not one is named at once."""
    networks, problems = [], []
    for entry in entries:
        try:
            networks.append(ip_network(entry.strip(), strict=True))
        except ValueError as exc:
            problems.append(f"{entry!r} ({exc})")
    if problems:
        raise ConfigurationError(
            "OPSGATE_REVIEW_TRUSTED_PROXIES must hold addresses or networks such as 127.0.0.1, "
            f"10.0.0.0/8 or ::1; not {', '.join(problems)}"
        )
    return tuple(networks)


def is_trusted(peer: str | None, networks: tuple[Network, ...]) -> bool:
    """Whether the peer address is one of the trusted proxies (an IPv4 peer seen on a dual-stack
    socket as ``::ffff:a.b.c.d`` is the IPv4 address it maps)."""
    try:
        address = ip_address(peer or "")
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


class ProxySignIn:
    """The ASGI middleware; add it inside ``SessionMiddleware`` (it reads and writes the session)."""

    def __init__(self, app: ASGIApp, networks: tuple[Network, ...], user_header: str, groups_header: str) -> None:
        self.app = app
        self.networks = networks
        self.user_header = user_header
        self.groups_header = groups_header

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await run_in_threadpool(self.follow, Request(scope))
        await self.app(scope, receive, send)

    def named(self, request: Request) -> tuple[str, tuple[str, ...]] | None:
        """Who a trusted proxy names in this request, or None (untrusted peer, no header, or a
        header that is not one name: a doubled header is not guessed at)."""
        if request.client is None or not is_trusted(request.client.host, self.networks):
            return None
        users = request.headers.getlist(self.user_header)
        if len(users) != 1 or not users[0].strip():
            return None
        groups = [g for value in request.headers.getlist(self.groups_header) for g in value.split(",")]
        try:
            return sessions.vouched(users[0], groups)
        except ValueError as exc:
            logger.warning("the trusted proxy's %s header is not used: %s", self.user_header, exc)
            return None

    def follow(self, request: Request) -> None:
        current = sessions.visitor(request)
        named = self.named(request)
        by_proxy = current is not None and current.authenticated_by == "proxy"
        if named is None:
            if by_proxy:
                sessions.sign_out(request, "the proxy no longer names anyone")
            return
        name, groups = named
        if by_proxy and current is not None and (current.name, current.groups) == (name, groups):
            return
        record_sign_in(request, name, "proxy", groups)
