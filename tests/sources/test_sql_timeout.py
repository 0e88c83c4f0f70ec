"""A read that runs past ``source.sql.timeout_seconds`` is cancelled by PostgreSQL and fails
as retryable (the next cycle tries again) instead of holding the cycle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from sfsync.clock import FixedClock
from sfsync.errors import RetryableError
from sfsync.settings import Settings
from sfsync.sources import build_source
from sfsync.sources.sql import SqlLayout, SqlSource, create_source_engine
from tests.fixtures.databases import scratch_postgres_database
from tests.sources.conftest import DAY0, T0, metadata

pytestmark = pytest.mark.postgres

#: An invoices query that sleeps two seconds on the server before returning anything.
SLOW_INVOICES = "SELECT invoices.* FROM invoices, pg_sleep(2)"


@pytest.fixture
def ledger_url(postgres_url: str) -> Iterator[str]:
    """A scratch PostgreSQL accounting database holding the conventional (empty) tables."""
    with scratch_postgres_database(postgres_url, "timeout") as url:
        engine = create_source_engine(url)
        try:
            metadata.create_all(engine)
        finally:
            engine.dispose()
        yield url


def _slow_source(engine: Engine) -> SqlSource:
    layout = SqlLayout.model_validate({"invoices_query": SLOW_INVOICES})
    return SqlSource("erp", engine, layout, FixedClock(T0))


def test_a_statement_past_the_timeout_is_cancelled_and_retryable(ledger_url: str) -> None:
    engine = create_source_engine(ledger_url, timeout_seconds=0.3)
    try:
        with pytest.raises(RetryableError, match=r"ran past source\.sql\.timeout_seconds"):
            _slow_source(engine).read_changes(None, DAY0, timedelta(0))
        with engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "300ms"
    finally:
        engine.dispose()


def test_the_timeout_comes_from_settings(ledger_url: str, tmp_path: Path) -> None:
    settings = Settings(
        source={
            "kind": "sql",
            "name": "erp",
            "sql": {"url": ledger_url, "timeout_seconds": 0.3},
        }
    )
    source = build_source(settings.source, clock=FixedClock(T0), state_dir=tmp_path)
    assert isinstance(source, SqlSource)
    try:
        with source.engine.connect() as connection:
            assert connection.execute(text("SHOW statement_timeout")).scalar() == "300ms"
    finally:
        source.engine.dispose()
