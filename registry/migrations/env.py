"""Alembic environment: migrates the database the settings (or the caller) name."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from registry.core.config import get_settings
from registry.core.db import make_engine
from registry.models import metadata

config = context.config


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        engine = make_engine(
            config.get_main_option("sqlalchemy.url") or get_settings().database_url
        )
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
