"""Who the client is and whether the connection is https, believing proxies only if trusted.

uvicorn runs with ``proxy_headers`` off, so ``request.client`` is always the peer that opened
the connection. Its ``X-Forwarded-*`` headers count only when that peer is one of
``console.trusted_proxies``; anyone else could write them.
"""

from __future__ import annotations

import ipaddress

from fastapi import Request

from config.console_settings import ConsoleSettings


def _peer(request: Request) -> str:
    return request.client.host if request.client else ""


def peer_is_trusted(request: Request, settings: ConsoleSettings) -> bool:
    """Whether the connection comes from a configured reverse proxy."""
    try:
        address = ipaddress.ip_address(_peer(request))
    except ValueError:
        return False
    return any(address in network for network in settings.trusted_proxies)


def client_address(request: Request, settings: ConsoleSettings) -> str:
    """The client's address: the peer, or the address a trusted proxy says it forwarded for."""
    if peer_is_trusted(request, settings):
        # The proxy appends the address it saw last; entries before it are the client's word.
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
        if forwarded:
            return forwarded[:100]
    return _peer(request)


def is_https(request: Request, settings: ConsoleSettings) -> bool:
    """Whether the browser reached us over https (directly, or through a trusted proxy)."""
    if peer_is_trusted(request, settings):
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto:
            return proto == "https"
    return request.url.scheme == "https"


def proxy_user(request: Request, settings: ConsoleSettings) -> str | None:
    """The user a trusted authenticating proxy names, or None."""
    header = settings.proxy_user_header
    if header is None or not peer_is_trusted(request, settings):
        return None
    return request.headers.get(header) or None
