"""The Celery app and the one house task decorator every sfsync task uses.

The app is configured lazily (Celery's ``on_configure``), from the same sfsync.yaml and
``SFSYNC_*`` environment as every other command (its ``jobs:`` section: shards, time limits).
Why each option (see docs/distributed.md and reference §A2-A4):

* ``acks_late`` + ``reject_on_worker_lost``: a task whose worker dies (``kill -9``, OOM) goes
  back to the queue instead of being lost; every side effect is idempotent (keyed writes, the
  task ledger, claimed schedule rows), so running it again creates nothing twice.
* ``worker_prefetch_multiplier = 1``: a worker holds only the task it runs, so a crash strands
  nothing else and long shard tasks spread over the workers.
* JSON only: messages are plain data (ids, windows, shard numbers) anyone can read.
* time limits below the Redis ``visibility_timeout`` (validated): otherwise Redis would hand a
  still-running task to a second worker.
* ``worker_cancel_long_running_tasks_on_connection_loss``: after a broker connection loss the
  unacknowledged task is redelivered; the worker stops its copy so two never run in parallel.
* no result backend: the store is the truth about what ran (``sfsync status`` reads it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import structlog
from celery import Celery, Task, signals

from sfsync.errors import ConfigError, RetryableError
from sfsync.jobs.config import (
    QUEUE,
    RETRY_BACKOFF_MAX_SECONDS,
    JobsSettings,
    require_distributed_store,
)
from sfsync.logs import clear_run_context, configure_logging, get_logger

P = ParamSpec("P")
R = TypeVar("R")

#: Whole-task retries of a retryable error before the task is given up (the next schedule
#: window and the reconciler pick the work up again).
RETRY_MAX = 5

_log = get_logger(__name__)

app = Celery("sfsync")


def celery_config(
    broker_url: str, jobs: JobsSettings, beat_schedule: dict[str, Any]
) -> dict[str, Any]:
    """The Celery options of every sfsync process (worker, beat, status, tests)."""
    transport = {
        "visibility_timeout": jobs.visibility_timeout_seconds,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
    }
    return {
        "broker_url": broker_url,
        "broker_transport_options": transport,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "task_time_limit": jobs.task_time_limit_seconds,
        "task_soft_time_limit": jobs.task_soft_time_limit_seconds,
        "task_default_queue": QUEUE,
        "task_create_missing_queues": True,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": beat_schedule,
    }


def _configure(sender: Celery, **_kwargs: Any) -> None:
    """Load sfsync's settings into the app the first time its configuration is read."""
    from sfsync.jobs.schedule import beat_schedule  # noqa: PLC0415 - avoids an import cycle
    from sfsync.settings import load_settings  # noqa: PLC0415

    settings = load_settings()
    if settings.redis.url is None:
        raise ConfigError(
            "redis.url is not set: distributed mode needs a Redis broker "
            "(set redis.url in sfsync.yaml or SFSYNC_REDIS__URL)"
        )
    require_distributed_store(settings)
    jobs = settings.jobs
    sender.conf.update(celery_config(settings.redis.url, jobs, beat_schedule(settings, jobs)))


def _setup_logging(**_kwargs: Any) -> None:
    """Workers and beat log through sfsync's structlog setup (JSON, secrets redacted)."""
    from sfsync.settings import load_settings  # noqa: PLC0415

    settings = load_settings()
    configure_logging(settings.logging.level, settings.logging.format)


def _bind_task(task_id: str | None = None, task: Task | None = None, **_kwargs: Any) -> None:
    """Every log line a task writes names the task and its id."""
    clear_run_context()
    if task is not None and task_id is not None:
        structlog.contextvars.bind_contextvars(task=task.name, task_id=task_id)


def _unbind_task(**_kwargs: Any) -> None:
    clear_run_context()


app.on_configure.connect(_configure)
signals.setup_logging.connect(_setup_logging)
signals.task_prerun.connect(_bind_task)
signals.task_postrun.connect(_unbind_task)


class HouseTask(Task):  # type: ignore[misc]  # celery ships no type information
    """The base of every sfsync task: the options above, fixed in one place."""

    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = (RetryableError,)
    retry_backoff = True
    retry_backoff_max = RETRY_BACKOFF_MAX_SECONDS
    retry_jitter = True
    max_retries = RETRY_MAX
    ignore_result = True
    serializer = "json"


def house_task(name: str) -> Callable[[Callable[..., R]], Any]:
    """Register a task under a stable explicit ``name`` with the house options.

    Only the name varies: every other option comes from :class:`HouseTask`, so no task can get
    a mistyped or forgotten option. Tasks are bound (``self`` first) so they can retry.
    """
    if not name.startswith("sfsync."):
        raise ValueError(f"task names start with 'sfsync.' (got {name!r})")

    def register(function: Callable[..., R]) -> Any:
        return app.task(name=name, base=HouseTask, bind=True)(function)

    return register
