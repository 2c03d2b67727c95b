"""`registry sync OUTBOX.jsonl --url URL --key KEY`: the reference client of the offline
outbox (`POST /v1/sync`).

The outbox holds one item a line, `{"batch_id", "idempotency_key", "event"}`, as a phone or
a village office recorded them offline. The client sends them in chunks, waits and tries
again (exponential backoff with jitter, honouring `Retry-After`) on network errors and on
429/502/503/504, and appends every answer it gets to a local record (JSON lines, flushed
and fsynced per chunk) before it sends the next chunk. An item in the record is never sent
again: a second run sends nothing twice. If the client dies after the server committed a
chunk but before the record was written, the next run sends that chunk again and the
server answers `duplicate` with the original events (idempotency keys), which are then
recorded: the registry never applies an item twice either way.

Standard library only (urllib), so it runs wherever the registry's Python does.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_CHUNK = 1000  # the server's limit per request


class SyncAborted(Exception):
    """The upload cannot go on (the server refused the request itself, or stayed
    unreachable through every retry); what was recorded so far stays recorded."""


@dataclass
class Backoff:
    """Exponential backoff with full jitter: attempt n waits up to base * 2**n, capped."""

    base: float = 0.5
    cap: float = 30.0
    retries: int = 12
    sleep: Callable[[float], None] = time.sleep

    def wait(self, attempt: int, retry_after: float | None = None) -> None:
        delay = random.uniform(0, min(self.cap, self.base * 2**attempt))
        self.sleep(max(delay, min(retry_after or 0.0, self.cap)))


@dataclass
class SyncReport:
    sent: int = 0
    created: int = 0
    duplicate: int = 0
    refused: list[str] = field(default_factory=list)
    already_recorded: int = 0
    retries: int = 0


def read_record(path: Path) -> dict[str, dict[str, Any]]:
    """The record's answers by idempotency key (a torn last line, from a crash, is skipped)."""
    answers: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return answers
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("idempotency_key"), str):
            answers[entry["idempotency_key"]] = entry
    return answers


def _outbox(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(line number, item or None, problem) for each non-blank line of the outbox."""
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError:
                yield number, None, "not a JSON line"
                continue
            if not isinstance(item, dict) or not isinstance(item.get("idempotency_key"), str):
                yield number, None, "not an outbox item (needs idempotency_key, batch_id, event)"
                continue
            yield number, item, ""


def _entry(number: int, result: dict[str, Any]) -> dict[str, Any]:
    event = result.get("event") or {}
    return {
        "line": number,
        "idempotency_key": result.get("idempotency_key"),
        "batch_id": result.get("batch_id"),
        "status": result.get("status"),
        "status_code": result.get("status_code"),
        "seq": event.get("seq"),
        "hash": event.get("hash"),
        "error": result.get("error"),
        "detail": result.get("detail"),
    }


def _refusal(entry: dict[str, Any]) -> str:
    return (
        f"refused: line {entry['line']} key {entry['idempotency_key']}: "
        f"{entry['status_code']} {entry['error']}: {entry['detail']}"
    )


def _post(url: str, key: str, items: list[dict[str, Any]], timeout: float) -> Any:
    request = urllib.request.Request(
        url.rstrip("/") + "/v1/sync",
        data=json.dumps({"items": items}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _send(
    url: str, key: str, items: list[dict[str, Any]], backoff: Backoff, report: SyncReport
) -> list[dict[str, Any]]:
    """POST one chunk until it is answered; its per-item results."""
    for attempt in range(backoff.retries + 1):
        retry_after: float | None = None
        try:
            body = _post(url, key, items, timeout=120)
            results = body["results"]
            if len(results) != len(items):
                raise SyncAborted(f"the server answered {len(results)} results for {len(items)}")
            return list(results)
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUSES:
                detail = exc.read().decode(errors="replace")[:500]
                raise SyncAborted(f"the server refused the request: {exc.code} {detail}") from None
            header = exc.headers.get("Retry-After") if exc.headers else None
            retry_after = float(header) if header and header.isdigit() else None
            problem = f"{exc.code}"
        except (urllib.error.URLError, HTTPException, OSError, ValueError, KeyError) as exc:
            problem = type(exc).__name__
        if attempt == backoff.retries:
            raise SyncAborted(f"gave up after {attempt + 1} tries (last: {problem})")
        report.retries += 1
        backoff.wait(attempt, retry_after)
    raise AssertionError("unreachable")  # pragma: no cover


def sync_outbox(
    outbox: Path,
    *,
    url: str,
    key: str,
    record: Path,
    chunk_size: int = 200,
    backoff: Backoff | None = None,
    echo: Callable[[str], None] = print,
) -> SyncReport:
    """Send every outbox item the record has no answer for; see the module docstring."""
    backoff = backoff or Backoff()
    chunk_size = max(1, min(chunk_size, MAX_CHUNK))
    report = SyncReport()
    answered = read_record(record)
    pending: list[tuple[int, dict[str, Any]]] = []
    for number, item, problem in _outbox(outbox):
        if item is None:
            report.refused.append(f"refused: line {number}: {problem}")
            echo(report.refused[-1])
        elif item["idempotency_key"] in answered:
            report.already_recorded += 1
        else:
            pending.append((number, item))
    with record.open("a", encoding="utf-8") as out:
        for start in range(0, len(pending), chunk_size):
            chunk = pending[start : start + chunk_size]
            results = _send(url, key, [item for _, item in chunk], backoff, report)
            entries = [_entry(n, r) for (n, _), r in zip(chunk, results, strict=True)]
            out.write("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries))
            out.flush()
            os.fsync(out.fileno())
            report.sent += len(chunk)
            for entry in entries:
                if entry["status"] == "created":
                    report.created += 1
                elif entry["status"] == "duplicate":
                    report.duplicate += 1
                else:
                    report.refused.append(_refusal(entry))
                    echo(report.refused[-1])
    return report
