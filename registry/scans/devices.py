"""Who scanned: a device identifier that stays the same across a phone's reloads, language
switches and history navigation. (The client's address itself comes from
`registry.core.clients.client_address`, the registry's one trusted-proxy rule.)

Pure: no framework, no I/O. A device is a first-party cookie's value; when the request
carries none (a first visit, or a browser that refuses cookies) it is a keyed hash of the
client's network and user agent, and that same value is what the cookie is set to. So the
first load and every later load of one phone name one device, with or without cookies.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from functools import lru_cache

DEVICE_COOKIE = "rg_device"
DEVICE_COOKIE_MAX_AGE = 400 * 24 * 3600  # a season and then some (browsers cap at 400 days)
DEVICE_ID_LENGTH = 32  # hex characters
_HEX = frozenset("0123456789abcdef")


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def network_of(address: str | None) -> str:
    """The client's network, not its address: a /24 for IPv4, a /56 for IPv6 (a phone's
    address changes within its network between reloads; the network rarely does)."""
    parsed = _address(address)
    if parsed is None:
        return ""
    prefix = 24 if parsed.version == 4 else 56
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


@lru_cache(maxsize=8)
def _device_key(secret: str) -> bytes:
    return hashlib.sha256(b"registry-scan-device\x00" + secret.encode()).digest()


# A phone reloading, or many phones of one network with one browser, ask for the same value
# again and again, so the last answers are kept: a few thousand, since a user agent may be
# kilobytes long (4,096 of 8 KiB headers would be 32 MiB at most).
@lru_cache(maxsize=4_096)
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
