"""Checks run before the web server (or a worker) starts, each failure a few lines that say
what to do: settings refused in production, a database URL that cannot work, a database
that cannot be reached, and a schema that is missing or not at this code's revision.
"""

from __future__ import annotations

from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from pydantic import ValidationError
from sqlalchemy import Engine, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from registry.core.config import Settings, get_settings
from registry.core.db import make_engine
from registry.migrate import alembic_config

UPGRADE = "run `registry db upgrade` (with the same REGISTRY_DATABASE_URL) first"
_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


class PreflightError(Exception):
    """Why the registry must not start: `lines` for the operator, one sentence each."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = list(lines)


def settings() -> Settings:
    """The settings, or PreflightError naming every refused value."""
    try:
        return get_settings()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            message = str(err["msg"]).removeprefix("Value error, ")
            if err.get("loc"):
                message = f"REGISTRY_{str(err['loc'][0]).upper()}: {message}"
            lines.extend(message.splitlines())
        raise PreflightError(*lines) from None


def database_url(raw: str) -> URL:
    """A URL the registry can use: `sqlite:///PATH` or `postgresql+psycopg://...`."""
    try:
        url = make_url(raw)
    except ArgumentError:
        raise PreflightError(
            "REGISTRY_DATABASE_URL is not a database URL; check it "
            "(e.g. postgresql+psycopg://user:password@host:5432/registry or sqlite:///./registry.db)"
        ) from None
    if url.drivername in ("postgres", "postgresql", "postgresql+psycopg2", "postgres+psycopg"):
        raise PreflightError(
            f"REGISTRY_DATABASE_URL starts with {url.drivername}://, which the registry "
            "cannot use: write postgresql+psycopg:// instead (same host, user and database)"
        )
    if url.drivername not in ("sqlite", "sqlite+pysqlite", "postgresql+psycopg"):
        raise PreflightError(
            f"REGISTRY_DATABASE_URL uses {url.drivername}://; the registry runs on "
            "postgresql+psycopg:// or sqlite:/// only"
        )
    return url


def _where(url: URL) -> str:
    if url.drivername.startswith("sqlite"):
        return f"SQLite file {url.database}"
    return f"PostgreSQL {url.host or 'localhost'}:{url.port or 5432}/{url.database}"


def connection_refused(exc: SQLAlchemyError, where: URL | str) -> PreflightError:
    """The operator's two lines for a database that did not answer: the driver's first
    line (the operator's own server speaking) and what to check."""
    if isinstance(where, URL):
        where = _where(where)
    reason = str(getattr(exc, "orig", exc) or type(exc).__name__).strip().splitlines()
    return PreflightError(
        f"cannot connect to the database ({where}): {reason[0] if reason else 'no answer'}",
        "check REGISTRY_DATABASE_URL (host, port, user, password, database name) and that "
        "the database server is running",
    )


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package ships its migrations
    return head


def check_schema(engine: Engine, where: str) -> None:
    """The database answers and its schema is at this code's newest migration."""
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except SQLAlchemyError as exc:
        raise connection_refused(exc, where) from None
    head = head_revision()
    if current is None:
        raise PreflightError(f"the database ({where}) has no registry schema yet", UPGRADE)
    if current != head:
        raise PreflightError(
            f"the database schema ({where}) is at revision {current}; this registry needs {head}",
            UPGRADE,
        )


def check_database(raw_url: str) -> None:
    """PreflightError unless the registry can serve from `raw_url` as it stands."""
    url = database_url(raw_url)
    where = _where(url)
    if url.drivername.startswith("sqlite"):
        path = url.database
        if path and path != ":memory:" and not Path(path).is_file():
            raise PreflightError(f"there is no database at {where}", UPGRADE)
    try:
        engine = make_engine(url.render_as_string(hide_password=False))
    except NoSuchModuleError:  # pragma: no cover - database_url() admits only known drivers
        raise PreflightError(f"no database driver for {url.drivername}://") from None
    try:
        check_schema(engine, where)
    finally:
        engine.dispose()


def check() -> Settings:
    """Every check `registry serve` runs before it starts the web server."""
    current = settings()
    check_database(current.database_url)
    return current
