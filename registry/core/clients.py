"""The client's network address: the socket peer, or what a trusted proxy says it saw.

`X-Forwarded-For` is believed only when the peer is one of `REGISTRY_TRUSTED_PROXIES`
(none by default), and then only as far back as the chain of trusted proxies goes: the
first address from the right that is not a trusted proxy is the client. Anything a client
writes into the header itself lies to the left of that and is never used; a hop that is
not an address ends the chain at the last trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.requests import HTTPConnection
from starlette.types import Scope

from registry.core.config import Network, get_settings

UNKNOWN = "unknown"
_CLIENT_KEY = "registry.client"  # a request's answer, kept in its scope


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def resolve_client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The client of a request whose socket peer is `peer`, given the `X-Forwarded-For`
    header values in order and the trusted proxy networks (pure; see the module doc)."""
    if not peer:
        return UNKNOWN
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for value in forwarded_for for h in value.split(",") if h.strip()]
    client = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return client  # a malformed chain: stop at the last proxy we trust
        client = hop
        if not _trusted(hop, trusted):
            break
    return client


def client_address(connection: HTTPConnection | Scope) -> str:
    """The address this request came from, by the registry's trusted-proxy setting. The one
    notion of "the client" for rate limits and device counting."""
    scope = connection.scope if isinstance(connection, HTTPConnection) else connection
    known = scope.get(_CLIENT_KEY)
    if known is not None:  # the guard's rate limit asked first; a scan asks again
        return str(known)
    client = scope.get("client")
    peer = client[0] if client else None
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    address = resolve_client_address(peer, forwarded, get_settings().trusted_proxy_networks)
    scope[_CLIENT_KEY] = address
    return address
