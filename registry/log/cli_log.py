"""The log's CLI pieces: `registry keys create --log` (registered in registry/cli.py)."""

from __future__ import annotations

import json

from registry.core.config import Settings
from registry.core.db import unit_of_work
from registry.core.errors import RegistryError
from registry.log.keys import create_log_key, verifier_of


def create_log_key_command(settings: Settings, *, as_json: bool) -> tuple[int, str]:
    """Create the log key; returns the exit status and the line to print (its verifier
    key, or `error: ...` for stderr)."""
    try:
        with unit_of_work(write=True) as session:
            key = create_log_key(
                session, name=settings.log_name, passphrase=settings.key_passphrase
            )
            vkey = verifier_of(key).vkey
    except RegistryError as exc:
        return 1, f"error: {exc.detail}"
    if as_json:
        return 0, json.dumps({"name": key.name, "key_id": key.key_id, "vkey": vkey})
    return 0, vkey
