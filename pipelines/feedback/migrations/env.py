"""Alembic environment: runs on the connection the feedback store hands over, or on ``sqlalchemy.url``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from pipelines.feedback.schema import metadata
from pipelines.feedback.store import database_url

config = context.config


def _url() -> str:
    """``alembic -x url=...`` wins over alembic.ini's ``sqlalchemy.url``; ``postgres://`` gets psycopg 3."""
    given = context.get_x_argument(as_dictionary=True).get("url")
    return database_url(given or config.get_main_option("sqlalchemy.url"))


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
