"""Who scanned: the client's address (behind trusted proxies only) and a device identifier
that stays the same across a phone's reloads, language switches and history navigation.

Pure: no framework, no I/O. A device is a first-party cookie's value; when the request
carries none (a first visit, or a browser that refuses cookies) it is a keyed hash of the
client's network and user agent, and that same value is what the cookie is set to. So the
first load and every later load of one phone name one device, with or without cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

DEVICE_COOKIE = "rg_device"
DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600  # a season and then some (browsers cap at 400 days)
DEVICE_ID_LENGTH = 32  # hex characters
_HEX = frozenset("0123456789abcdef")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """The `trusted_proxies` setting as networks; raises ValueError naming a bad entry."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"REGISTRY_TRUSTED_PROXIES: {value!r} is not an address") from exc
    return tuple(networks)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str | None:
    """The client's address: the TCP peer's, unless the peer is a trusted proxy; then the
    right-most X-Forwarded-For entry that is not itself a trusted proxy (entries to its left
    were written by the client and prove nothing). No header is believed by default."""
    address = _address(peer)
    if address is None or not trusted or not any(address in net for net in trusted):
        return str(address) if address is not None else None
    for hop in reversed((forwarded_for or "").split(",")):
        hop_address = _address(hop)
        if hop_address is None:
            return str(address)  # a malformed chain: stop at the last proxy we trust
        if not any(hop_address in net for net in trusted):
            return str(hop_address)
        address = hop_address
    return str(address)


def network_of(address: str | None) -> str:
    """The client's network, not its address: a /24 for IPv4, a /56 for IPv6 (a phone's
    address changes within its network between reloads; the network rarely does)."""
    parsed = _address(address)
    if parsed is None:
        return ""
    prefix = 24 if parsed.version == 4 else 56
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


def _device_key(secret: str) -> bytes:
    return hashlib.sha256(b"registry-scan-device\x00" + secret.encode()).digest()


def network_device(address: str | None, user_agent: str | None, *, secret: str) -> str:
    """A keyed hash of the client's network and user agent: the same phone on the same
    network gets the same value, and the value names no address."""
    message = f"{network_of(address)}\x00{user_agent or ''}".encode()
    return hmac.new(_device_key(secret), message, hashlib.sha256).hexdigest()[:DEVICE_ID_LENGTH]


def valid_device(value: str | None) -> bool:
    return (
        value is not None and len(value) == DEVICE_ID_LENGTH and all(char in _HEX for char in value)
    )


@dataclass(frozen=True)
class Device:
    """The scanning device; `set_cookie` when the response should (re)set the cookie."""

    id: str
    set_cookie: bool


def identify(
    cookie: str | None, address: str | None, user_agent: str | None, *, secret: str
) -> Device:
    """The device of a request: its cookie when it carries a well-formed one, else the
    network hash (and the cookie is set to it)."""
    if valid_device(cookie):
        assert cookie is not None
        return Device(cookie, set_cookie=False)
    return Device(network_device(address, user_agent, secret=secret), set_cookie=True)
