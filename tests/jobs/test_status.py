"""``sfsync status`` against a real store and a real redis-server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from celery import Celery
from typer.testing import CliRunner

from sfsync.cli import app
from sfsync.jobs.app import celery_config
from sfsync.jobs.config import JobsSettings
from sfsync.jobs.ledger import SHARD_KIND, finish_scheduled
from sfsync.jobs.schedule import CYCLE_TASK, SHARD_TASK
from sfsync.jobs.status import queued_shard_messages
from sfsync.store.alerts import (
    DeliveryValues,
    claim_delivery,
    delivery_key,
    mark_delivery_failed,
)
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.store.escalations import EscalationClaim, claim_escalation, release_escalation
from sfsync.store.repositories import record_dead_letter, start_run
from tests.fixtures.redis import RedisServer
from tests.fixtures.services import free_port

pytestmark = pytest.mark.redis

CONFIG = Path(__file__).resolve().parents[2] / "config" / "sfsync.yaml"
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade_database(url)
    return url


def _invoke(monkeypatch: pytest.MonkeyPatch, store_url: str, redis_url: str) -> list[str]:
    monkeypatch.setenv("SFSYNC_STORE__URL", store_url)
    monkeypatch.setenv("SFSYNC_REDIS__URL", redis_url)
    result = CliRunner().invoke(app, ["status", "--config", str(CONFIG)])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def test_status_shows_runs_queue_dead_letters_and_the_budget(
    redis_clean: RedisServer, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine_from_url(store_url)
    try:
        with create_session_factory(engine)() as session:
            run = start_run(session, kind=SHARD_KIND, source="erp", started_at=AT)
            assert run is not None
            finish_scheduled(
                session,
                run.id,
                succeeded=True,
                now=AT + timedelta(seconds=40),
                counts={"api_used": 1200, "api_max": 15000},
                api_calls=31,
            )
            record_dead_letter(
                session,
                sobject="Case",
                record_key="erp:C1:USD:1",
                operation="upsert",
                payload={"Subject": "x"},
                error_code="FIELD_CUSTOM_VALIDATION_EXCEPTION",
                message="refused",
                at=AT,
            )
            values = DeliveryValues(
                key=delivery_key("case-1", "slack"), channel="slack", recipient="#ar", mode="alert"
            )
            assert claim_delivery(session, values, now=AT, stale_after=timedelta(minutes=10))
            mark_delivery_failed(session, values.key, error="HTTP 403 from Slack", at=AT)
            claim = EscalationClaim(
                key="erp:C1:USD:1:manager",
                case_key="erp:C1:USD:1",
                level="manager",
                case_id="500000000000001",
                feed_body="Escalated to the manager",
                alert={},
            )
            assert claim_escalation(
                session, claim, holder="run-1", now=AT, stale_after=timedelta(minutes=10)
            )
            release_escalation(session, claim.key, error="UNABLE_TO_LOCK_ROW: try again", at=AT)
            session.commit()
    finally:
        engine.dispose()
    client = Celery("status-test", set_as_current=False)
    client.conf.update(celery_config(redis_clean.url, JobsSettings(), {}))
    for _ in range(3):  # no worker runs: they wait in the queue
        client.send_task(CYCLE_TASK)
    client.close()

    lines = _invoke(monkeypatch, store_url, redis_clean.url)

    [shard_line] = [line for line in lines if SHARD_KIND in line]
    assert "succeeded" in shard_line
    assert "api calls 31" in shard_line
    assert "Queue: 3 waiting, 0 delivered not acknowledged" in lines
    assert "Dead letters open: 1" in lines
    assert "API budget: 13800 of 15000 calls left (as recorded 2026-03-02 09:30 UTC)" in lines
    assert lines[-4:] == [
        "Escalations left unfinished:",
        "  erp:C1:USD:1 manager (planned): UNABLE_TO_LOCK_ROW: try again",
        "Alert delivery problems:",
        "  slack → #ar: HTTP 403 from Slack",
    ]


def test_status_says_when_redis_cannot_be_reached(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _invoke(monkeypatch, store_url, f"redis://127.0.0.1:{free_port()}/0")

    [queue] = [line for line in lines if line.startswith("Queue:")]
    assert queue.startswith("Queue: unknown (ConnectionError")
    assert "Last runs:" in lines
    assert "  (none yet)" in lines
    assert "API budget: no usage recorded yet" in lines


def test_the_shard_messages_redis_holds_are_read_back(redis_clean: RedisServer) -> None:
    client = Celery("queued-test", set_as_current=False)
    client.conf.update(celery_config(redis_clean.url, JobsSettings(), {}))
    for index in (0, 2):
        client.send_task(SHARD_TASK, args=["2026-03-02T09:30:00Z", index, 4])
    client.send_task(CYCLE_TASK)  # not a shard message: left out
    client.close()

    assert queued_shard_messages(redis_clean.url) == {
        ("2026-03-02T09:30:00Z", 0, 4),
        ("2026-03-02T09:30:00Z", 2, 4),
    }
    redis_clean.flush()
    assert queued_shard_messages(redis_clean.url) == set(), "a flushed Redis: provably lost"
    assert queued_shard_messages(f"redis://127.0.0.1:{free_port()}/0") is None
