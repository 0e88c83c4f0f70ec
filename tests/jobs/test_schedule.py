"""Windows, schedule keys, shards, the house options and the beat schedule: no broker needed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from sfsync.jobs.app import RETRY_BACKOFF_MAX_SECONDS, HouseTask, celery_config, house_task
from sfsync.jobs.config import QUEUE, JobsSettings
from sfsync.jobs.ledger import parse_window, schedule_key, shard_key, window_start, window_text
from sfsync.jobs.schedule import (
    CYCLE_TASK,
    ESCALATION_TASK,
    PROMISE_CHECKS_TASK,
    RECONCILE_TASK,
    SHARD_TASK,
    WRITEBACK_TASK,
    beat_schedule,
)
from sfsync.jobs.shards import Shard, shard_of
from sfsync.settings import Settings, load_settings
from tests.jobs.conftest import CONFIG


def test_two_beats_at_different_offsets_share_one_window() -> None:
    first = datetime(2026, 3, 2, 9, 30, 10, tzinfo=UTC)
    second = datetime(2026, 3, 2, 9, 34, 59, tzinfo=UTC)

    assert window_start(first, 300) == window_start(second, 300)
    assert window_start(first, 300) == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert window_start(second + timedelta(seconds=1), 300) == datetime(
        2026, 3, 2, 9, 35, tzinfo=UTC
    )


def test_schedule_keys_name_the_job_source_window_and_shard() -> None:
    window = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

    assert schedule_key("cycle", "erp", window) == "cycle:erp:2026-03-02T09:30:00Z"
    assert shard_key("erp", window, Shard(2, 8)) == "cycle:erp:2026-03-02T09:30:00Z:shard:2/8"
    assert parse_window(window_text(window)) == window


def test_a_bad_window_argument_is_refused_with_the_expected_shape() -> None:
    with pytest.raises(ValueError, match="2026-03-02T09:30:00Z"):
        parse_window("yesterday")


def test_shards_are_stable_and_cover_every_customer_once() -> None:
    customers = [f"C{n:05d}" for n in range(4000)]
    owners = [shard_of(customer, 8) for customer in customers]

    assert shard_of("C00042", 8) == shard_of("C00042", 8) == owners[42]
    for customer, owner in zip(customers, owners, strict=True):
        assert [Shard(i, 8).includes(customer) for i in range(8)].count(True) == 1
        assert Shard(owner, 8).includes(customer)
    spread = Counter(owners)
    assert set(spread) == set(range(8))
    assert min(spread.values()) > 4000 / 8 * 0.8, spread


def test_a_shard_outside_its_count_does_not_exist() -> None:
    with pytest.raises(ValueError, match="shard 8 of 8"):
        Shard(8, 8)
    with pytest.raises(ValueError, match="at least 1"):
        shard_of("C1", 0)


def test_each_shard_reads_its_own_watermark_and_lease() -> None:
    shard = Shard(3, 16)

    assert shard.stream == "invoices@3/16"
    assert shard.lease_key == "shard:3/16"


def test_time_limits_at_or_above_the_visibility_timeout_are_refused() -> None:
    with pytest.raises(ValidationError, match="visibility_timeout_seconds"):
        JobsSettings(visibility_timeout_seconds=900, task_time_limit_seconds=1000)
    with pytest.raises(ValidationError, match="soft_time_limit"):
        JobsSettings(task_time_limit_seconds=100, task_soft_time_limit_seconds=100)


def test_a_lease_outlives_the_hard_time_limit() -> None:
    jobs = JobsSettings(task_time_limit_seconds=300, task_soft_time_limit_seconds=290)

    assert jobs.lease_ttl_seconds > jobs.task_time_limit_seconds


def test_settings_come_from_sfsync_yaml_and_sfsync_jobs_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SFSYNC_JOBS__SHARDS", "16")

    jobs = load_settings(CONFIG).jobs

    assert jobs.shards == 16  # the variable overrides sfsync.yaml's jobs.shards: 8
    assert jobs.reconcile_interval_seconds == 120  # from the file


def test_celery_options_are_the_house_options() -> None:
    jobs = JobsSettings()
    config = celery_config("redis://127.0.0.1:1/0", jobs, {})

    assert config["task_acks_late"] is True
    assert config["task_reject_on_worker_lost"] is True
    assert config["worker_prefetch_multiplier"] == 1
    assert config["accept_content"] == ["json"]
    assert config["task_serializer"] == "json"
    assert config["worker_cancel_long_running_tasks_on_connection_loss"] is True
    assert config["task_default_queue"] == QUEUE
    visibility = config["broker_transport_options"]["visibility_timeout"]
    assert config["task_soft_time_limit"] < config["task_time_limit"] < visibility
    assert visibility > RETRY_BACKOFF_MAX_SECONDS


def test_every_task_is_a_house_task_under_its_stable_name() -> None:
    from sfsync.jobs import app  # noqa: PLC0415 - registers the tasks

    names = (
        CYCLE_TASK,
        SHARD_TASK,
        RECONCILE_TASK,
        WRITEBACK_TASK,
        ESCALATION_TASK,
        PROMISE_CHECKS_TASK,
    )
    registered = {name for name in app.tasks if name.startswith("sfsync.")}

    assert registered == set(names)
    for name in names:
        task = app.tasks[name]
        assert isinstance(task, HouseTask)
        assert task.acks_late is True
        assert task.reject_on_worker_lost is True


def test_a_task_name_outside_the_sfsync_namespace_is_refused() -> None:
    with pytest.raises(ValueError, match="sfsync"):
        house_task("cycle")


def test_beat_schedule_comes_from_configuration() -> None:
    settings = Settings(sync={"interval_seconds": 120})
    jobs = JobsSettings(reconcile_interval_seconds=30)

    schedule = beat_schedule(settings, jobs)

    assert schedule[CYCLE_TASK]["schedule"] == timedelta(seconds=120)
    assert schedule[CYCLE_TASK]["options"] == {"expires": 120}
    assert schedule[RECONCILE_TASK]["schedule"] == timedelta(seconds=30)
    assert all(entry["task"] == name for name, entry in schedule.items())
