"""A hung accounting database: the statement is cancelled at ``source.sql.timeout_seconds``,
the cycle records and logs the failure as retryable, and the watermark stays put."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from structlog.testing import capture_logs

from sfsync.errors import RetryableError
from sfsync.sources.sql import SqlLayout, SqlSource, create_source_engine
from sfsync.store.models import RunStatus
from sfsync.store.repositories import get_watermark, last_run
from sfsync.sync import CYCLE_KIND, INVOICE_STREAM, run_cycle
from tests.fixtures.databases import scratch_postgres_database
from tests.sources.conftest import metadata
from tests.sync.conftest import SyncHarness

pytestmark = [pytest.mark.org, pytest.mark.postgres]


@pytest.fixture
def slow_ledger_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL accounting database with the conventional (empty) tables."""
    with scratch_postgres_database(postgres_url, "slowledger") as url:
        engine = create_source_engine(url)
        try:
            metadata.create_all(engine)
        finally:
            engine.dispose()
        yield url


def test_a_read_past_the_timeout_fails_the_cycle_as_retryable_and_is_reported(
    harness: SyncHarness, slow_ledger_url: str
) -> None:
    engine = create_source_engine(slow_ledger_url, timeout_seconds=0.3)
    harness.engines.append(engine)
    layout = SqlLayout.model_validate(
        {"invoices_query": "SELECT invoices.* FROM invoices, pg_sleep(2)"}
    )
    deps = replace(harness.deps(), source=SqlSource("erp", engine, layout, harness.clock))

    with capture_logs() as logs, pytest.raises(RetryableError, match="timeout_seconds"):
        run_cycle(deps)

    [finished] = [line for line in logs if line["event"] == "sync_run_finished"]
    assert finished["status"] == "failed"
    assert "timeout_seconds" in finished["error"]
    with harness.sessions() as session:
        run = last_run(session, kind=CYCLE_KIND, source="erp", status=None)
        assert run is not None
        assert run.status is RunStatus.FAILED
        assert "ran past source.sql.timeout_seconds" in (run.error or "")
        assert get_watermark(session, "erp", INVOICE_STREAM) is None
