"""`registry export`: the audit export written by the operator to a file or stdout, with a
progress bar on a terminal. Same selection and formats as GET /v1/audit/export."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import BinaryIO

from rich.progress import Progress

from registry.audit.exceptions import InvalidAuditQuery
from registry.audit.export import ExportFormat, count_events, export_chunks, plan_export
from registry.core.config import Settings
from registry.core.db import get_engine, unit_of_work


@contextmanager
def _sink(output: Path | None) -> Iterator[BinaryIO]:
    if output is None:
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    partial = output.with_name(f".{output.name}.partial")
    try:
        with partial.open("wb") as out:
            yield out
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)


def _day(text: str | None, option: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise InvalidAuditQuery(f"{option} must be a day, YYYY-MM-DD (got {text!r})") from None


def run_export(
    settings: Settings,
    *,
    format: str,
    brand: str | None,
    batch_id: str | None,
    gtin: str | None,
    lot: str | None,
    date_from: str | None,
    date_to: str | None,
    output: Path | None,
) -> int:
    """Write the export; returns the number of events. Raises RegistryError for a bad
    selection (unknown brand, batch or lot; from after to; an unknown format)."""
    if format not in ("epcis", "csv"):
        raise InvalidAuditQuery(f"--format is epcis or csv (got {format!r})")
    chosen: ExportFormat = "csv" if format == "csv" else "epcis"
    engine = get_engine()
    with unit_of_work(engine) as session:
        plan = plan_export(
            session,
            org=None,
            brand=brand,
            batch_id=batch_id,
            gtin=gtin,
            lot=lot,
            date_from=_day(date_from, "--from"),
            date_to=_day(date_to, "--to"),
        )
        total = count_events(session, plan=plan, org=None)
    with (
        Progress(transient=True, disable=not sys.stderr.isatty()) as progress,
        _sink(output) as out,
    ):
        task = progress.add_task(f"exporting {total} events", total=total)
        for chunk in export_chunks(
            engine,
            plan=plan,
            format=chosen,
            base_url=settings.public_url,
            progress=lambda done: progress.update(task, completed=done),
        ):
            out.write(chunk)
    return total
