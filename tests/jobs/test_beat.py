"""``sfsync beat`` sends the configured periodic tasks to Redis."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sfsync.jobs.config import QUEUE
from sfsync.jobs.schedule import RECONCILE_TASK
from tests.fixtures.redis import RedisServer
from tests.jobs.conftest import CONFIG, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


def _queued_tasks(redis_server: RedisServer) -> list[str]:
    client = redis_server.client()
    try:
        return [json.loads(raw)["headers"]["task"] for raw in client.lrange(QUEUE, 0, -1)]
    finally:
        client.close()


def test_beat_sends_the_reconciler_on_its_configured_interval(
    redis_clean: RedisServer, postgres_url: str, tmp_path: Path
) -> None:
    env = {
        "PATH": str(Path(sys.executable).parent),
        "SFSYNC_CONFIG": str(CONFIG),
        "SFSYNC_REDIS__URL": redis_clean.url,
        "SFSYNC_STORE__URL": postgres_url,  # distributed mode refuses a SQLite store
        "SFSYNC_JOBS__RECONCILE_INTERVAL_SECONDS": "5",
        "SFSYNC_LOGGING__FORMAT": "json",
    }
    log = (tmp_path / "beat.log").open("wb")
    beat = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("sfsync")),
            "beat",
            "--schedule-file",
            str(tmp_path / "beat-schedule"),
        ],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: RECONCILE_TASK in _queued_tasks(redis_clean), "beat's first message")
        assert beat.poll() is None, (tmp_path / "beat.log").read_text()
    finally:
        beat.terminate()
        beat.wait(timeout=20)
        log.close()

    assert set(_queued_tasks(redis_clean)) <= {RECONCILE_TASK, "sfsync.cycle"}
