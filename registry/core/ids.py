"""Identifiers for stored rows: random UUIDs as text, the same on every backend."""

from __future__ import annotations

import uuid


def new_id() -> str:
    return str(uuid.uuid4())
