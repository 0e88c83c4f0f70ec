"""Alembic environment: runs migrations on the connection sfsync hands over, or on a URL.

:func:`sfsync.store.db.upgrade_database` passes an open connection in
``config.attributes["connection"]``; the ``alembic`` command line passes ``-x url=...`` (or
``$SFSYNC_STORE__URL``). Logging is left to sfsync: no ``fileConfig`` here.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sfsync.store.db import create_engine_from_url, resolve_url
from sfsync.store.models import Base


def _run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the given connection, else through an engine built from the URL."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_engine_from_url(
        resolve_url(context.get_x_argument(as_dictionary=True).get("url"))
    )
    try:
        with engine.connect() as new_connection:
            _run_on(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run sfsync db upgrade")
run_migrations_online()
