"""The log's CLI pieces: `registry keys create --log` (registered in registry/cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

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


def local_log_problems() -> list[str]:
    """`registry audit --all`'s log part: the log's tables against themselves, and leaves
    of batches that are gone (one line each)."""
    from registry.batches.audit import orphan_leaves
    from registry.log.audit import audit_log

    with unit_of_work() as session:
        lines = audit_log(session)
        lines += [
            f"log: leaf {index} records batch {batch_id} seq {seq}, and that batch is gone"
            for index, batch_id, seq in orphan_leaves(session)
        ]
    return lines


def remote_audit(
    url: str,
    log_key: str,
    *,
    state: Path | None,
    api_key: str | None,
    sample: int | None,
) -> tuple[int, list[str]]:
    """`registry audit --remote`: the witness. Exit 1 with one line per problem."""
    from registry.log.witness import run_witness

    problems, notes = run_witness(url, log_key, state_file=state, api_key=api_key, sample=sample)
    if problems:
        return 1, [f"PROBLEM {p}" for p in problems]
    return 0, [*notes, "log consistent with every checkpoint seen"]
