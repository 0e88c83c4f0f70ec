"""Engine set-up: URL resolution, SQLite pragmas, PostgreSQL through psycopg 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sfsync.errors import ConfigError
from sfsync.store.db import (
    DEFAULT_URL,
    create_engine_from_url,
    display_url,
    parse_url,
    resolve_url,
    upgrade_database,
)
from sfsync.store.models import DeadLetter
from tests.store.conftest import T0


def test_url_comes_from_the_flag_then_the_environment_then_the_default() -> None:
    env = {"SFSYNC_STORE__URL": "postgresql://app@db/sfsync"}
    assert resolve_url("sqlite:///x.db", env) == "sqlite:///x.db"
    assert resolve_url(None, env) == "postgresql://app@db/sfsync"
    assert resolve_url(None, {}) == DEFAULT_URL == "sqlite:///var/sfsync.db"


def test_postgresql_urls_use_psycopg_3() -> None:
    assert parse_url("postgresql://app@db/sfsync").drivername == "postgresql+psycopg"
    assert parse_url("postgresql+psycopg://app@db/sfsync").drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://app@db/sfsync", "supports sqlite and postgresql"),
        ("not a url://app:s3cret@db", "is not a database URL"),
    ],
)
def test_unsupported_urls_are_a_config_error(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_engine_from_url(url)


def test_passwords_are_masked_for_display() -> None:
    shown = display_url("postgresql://app:s3cret@db/sfsync")
    assert "s3cret" not in shown
    assert shown == "postgresql://app:***@db/sfsync"


def test_default_sqlite_file_lives_under_var(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    upgrade_database(DEFAULT_URL)

    assert (tmp_path / "var" / "sfsync.db").is_file()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    engine = create_engine_from_url(f"sqlite:///{tmp_path / 'nested' / 'store.db'}")
    try:
        with engine.connect() as connection:
            pragmas = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        engine.dispose()
    assert pragmas == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 15000}


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(
        DeadLetter(
            run_id=999,
            sobject="Case",
            record_key="k",
            operation="upsert",
            payload={},
            error_code="X",
            message="m",
            first_failed_at=T0,
            last_failed_at=T0,
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()


@pytest.mark.postgres
@pytest.mark.parametrize("dialect", ["postgres"], indirect=True)
def test_postgres_engine_uses_psycopg_3(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.dialect.driver == "psycopg"
        assert connection.execute(text("SELECT 1")).scalar_one() == 1
