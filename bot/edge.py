"""What every HTTP answer shares: who the client is behind a proxy, and the security headers.

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from a peer listed in
``[server] trusted_proxies``: the client is then the right-most address in X-Forwarded-For
that is not itself a trusted proxy, and the scheme is the proxy's last X-Forwarded-Proto. From
anyone else both headers are ignored, so a client cannot choose its own address (and with it
its login back-off or its access to ``/metrics``).

Every response (pages, callbacks, errors, redirects, static files) carries the security headers;
an answer over HTTPS (directly or through a trusted TLS proxy) also carries HSTS.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web

from bot.keys import SETTINGS

__all__ = ["Networks", "NETWORKS", "resolve_client", "forwarded_middleware", "add_security_headers",
           "is_allowed", "CONSOLE_CSP"]

CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": CONSOLE_CSP,
}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def is_allowed(address: str | None, networks: Iterable[Network]) -> bool:
    ip = _address(address)
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


@dataclass(frozen=True)
class Networks:
    """The parsed ``trusted_proxies`` and ``metrics_allow`` of the settings."""

    trusted_proxies: tuple[Network, ...]
    metrics_allow: tuple[Network, ...]

    @classmethod
    def parse(cls, trusted_proxies: Iterable[str], metrics_allow: Iterable[str]) -> Networks:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in trusted_proxies),
                   tuple(ipaddress.ip_network(n, strict=False) for n in metrics_allow))


NETWORKS = web.AppKey("networks", Networks)


def resolve_client(request: web.BaseRequest, trusted: tuple[Network, ...]) -> tuple[str | None, str]:
    """(client address, scheme) of a request, believing forwarded headers only from a trusted proxy."""
    remote = request.remote
    if not trusted or not is_allowed(remote, trusted):
        return remote, request.scheme
    hops = [hop.strip() for value in request.headers.getall("X-Forwarded-For", []) for hop in value.split(",")]
    client = remote
    for hop in reversed(hops):
        if _address(hop) is None:
            break  # a malformed hop: stop believing what lies beyond it
        client = hop.strip("[]")
        if not is_allowed(hop, trusted):
            break
    protos = [p.strip().lower() for v in request.headers.getall("X-Forwarded-Proto", []) for p in v.split(",")]
    scheme = protos[-1] if protos and protos[-1] in ("http", "https") else request.scheme
    return client, scheme


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def forwarded_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Hand on a request whose ``remote`` and ``scheme`` are the client's, when a trusted proxy says so."""
    trusted = request.app[NETWORKS].trusted_proxies
    if trusted:
        client, scheme = resolve_client(request, trusted)
        if client is not None and (client != request.remote or scheme != request.scheme):
            request = request.clone(remote=client, scheme=scheme)
    return await handler(request)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every answer, errors and redirects included, carries the headers."""
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    app = request.config_dict
    max_age = app[SETTINGS].server.hsts_max_age_s
    if max_age and resolve_client(request, app[NETWORKS].trusted_proxies)[1] == "https":
        response.headers.setdefault("Strict-Transport-Security", f"max-age={max_age}; includeSubDomains")
