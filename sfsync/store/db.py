"""Engines, sessions and migrations for the state store.

SQLite (a file under ``var/``) is the embedded default; PostgreSQL is chosen by URL for the
distributed mode. Both are set up here once so every caller gets the same guarantees: SQLite in
WAL mode with foreign keys enforced and a busy timeout instead of instant "database is locked"
errors; PostgreSQL through psycopg 3 with a connect timeout and pre-ping so a pooled connection
that died with the server is replaced instead of failing a run.

The schema is owned by Alembic; :func:`upgrade_database` runs ``upgrade head`` from the
migrations shipped inside the package, so an installed sfsync can migrate itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from sfsync.errors import ConfigError

DEFAULT_URL = "sqlite:///var/sfsync.db"
URL_ENV = "SFSYNC_STORE__URL"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

SQLITE_BUSY_TIMEOUT_MS = 15_000
POSTGRES_CONNECT_TIMEOUT_S = 10


def resolve_url(url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The store URL: the explicit one, else ``$SFSYNC_STORE__URL``, else :data:`DEFAULT_URL`."""
    if url:
        return url
    env = os.environ if environ is None else environ
    return env.get(URL_ENV) or DEFAULT_URL


def parse_url(url: str) -> URL:
    """Parse and normalise a store URL; PostgreSQL always goes through psycopg 3.

    Raises :class:`~sfsync.errors.ConfigError` for anything but SQLite or PostgreSQL.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(  # the text is not repeated: it may hold a password
            "the store URL is not a database URL: use sqlite:///path/to/file.db "
            "or postgresql://user@host/dbname"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise ConfigError(
        f"store URL {display_url(parsed)} uses {backend!r}: sfsync supports sqlite and postgresql"
    )


def display_url(url: str | URL) -> str:
    """The URL with any password masked, safe for logs and terminal output."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def _json_default(value: object) -> str:
    """Encode what Salesforce payloads hold besides JSON types: exact amounts and dates as text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable: {value!r}")


def dump_json(value: object) -> str:
    """The JSON encoder of JSON columns (payloads, raw rows, counts)."""
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def create_engine_from_url(url: str) -> Engine:
    """Build the engine for ``url`` with the per-dialect settings described in the module doc."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed)
    return create_engine(
        parsed,
        pool_pre_ping=True,
        json_serializer=dump_json,
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S},
    )


def _missing_sqlite_file(url: URL) -> bool:
    database = url.database or ""
    in_memory = not database or database == ":memory:" or database.startswith("file:")
    return not in_memory and not Path(database).exists()


def _create_sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        json_serializer=dump_json,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: object) -> None:
    """Per-connection pragmas: WAL for concurrent readers, enforced foreign keys, busy wait."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit, so a run can report what it wrote."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config() -> Config:
    """The Alembic configuration shipped in the package (``sfsync/store/migrations``)."""
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (``head`` by default); idempotent."""
    engine = create_engine_from_url(url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def downgrade_database(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` empties it)."""
    engine = create_engine_from_url(url)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at, or None if it was never migrated.

    A SQLite file that does not exist is reported as never migrated without creating it.
    """
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite" and _missing_sqlite_file(parsed):
        return None
    engine = create_engine_from_url(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision shipped with this version of sfsync."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
