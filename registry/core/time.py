"""UTC timestamps and RFC 3339 formatting shared by storage, hashing and responses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Databases hand back naive (SQLite) or session-zoned (PostgreSQL) values; pin to UTC."""
    if value.tzinfo is UTC:  # most are (utcnow), and astimezone costs microseconds
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rfc3339_utc(value: datetime) -> str:
    """The one textual form of an instant used in hashes: microseconds, `Z` suffix."""
    if value.year < 1000 or (value.tzinfo is not None and value.year == 1000):
        # strftime's %Y does not pad these years; keep their hashed form
        return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # isoformat is 5x faster than strftime; a naive value is UTC already (as_utc)
    if value.tzinfo is None:
        return value.isoformat(timespec="microseconds") + "Z"
    return value.astimezone(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def format_offset(value: datetime) -> str:
    """`+08:00` style offset of an aware datetime (EPCIS eventTimeZoneOffset)."""
    delta = value.utcoffset() or timedelta(0)
    sign = "-" if delta < timedelta(0) else "+"
    minutes = abs(int(delta.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


@lru_cache(maxsize=256)
def parse_offset(offset: str) -> timezone:
    sign = -1 if offset.startswith("-") else 1
    hours, minutes = offset[1:].split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def in_offset(value: datetime, offset: str) -> datetime:
    """The instant `value` shown in its original `offset`."""
    return as_utc(value).astimezone(parse_offset(offset))
