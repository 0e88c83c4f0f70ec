"""Settings of distributed mode: shards, the beat schedule, time limits, leases.

They are read from ``SFSYNC_JOBS__*`` environment variables (for example
``SFSYNC_JOBS__SHARDS=16``), validated like the rest of the configuration. The cycle's interval
is ``sync.interval_seconds`` from sfsync.yaml, so the embedded loop and the beat agree.

The time limits are checked against the Redis visibility timeout: a task still running when the
timeout expires is delivered a second time (the Celery docs call this a loop), so every limit
must end well before it.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sfsync.errors import ConfigError

#: Whole-task retries of retryable errors back off exponentially up to this; the visibility
#: timeout must exceed it, so a retry waiting for its countdown is never also redelivered.
RETRY_BACKOFF_MAX_SECONDS = 600

#: Name of the one queue every sfsync task goes to (``sfsync status`` reports its depth).
QUEUE = "sfsync"


class JobsSettings(BaseSettings):
    """How work is split, scheduled and bounded in distributed mode."""

    model_config = SettingsConfigDict(
        env_prefix="SFSYNC_JOBS__", extra="forbid", frozen=True, case_sensitive=False
    )

    shards: int = Field(default=8, ge=1, le=1024)
    """Accounts are split by a stable hash of the customer id into this many shards."""
    visibility_timeout_seconds: int = Field(default=3600, gt=RETRY_BACKOFF_MAX_SECONDS)
    """Redis redelivers a task not acknowledged within this time."""
    task_time_limit_seconds: int = Field(default=1800, ge=5)
    """A task still running after this is killed (its process replaced)."""
    task_soft_time_limit_seconds: int = Field(default=1700, ge=1)
    """A task gets ``SoftTimeLimitExceeded`` after this, to end cleanly."""
    lease_margin_seconds: int = Field(default=60, ge=1)
    """A shard lease lives this much longer than the hard time limit."""
    lease_retry_seconds: int = Field(default=5, ge=1)
    """A shard task whose shard is busy retries after this."""
    lease_retry_max: int = Field(default=720, ge=0)
    """... at most this many times (the default waits out a full time limit)."""
    writeback_interval_seconds: int = Field(default=900, ge=10)
    """How often what reps logged in Salesforce is read back (outcomes, promises, disputes)."""
    escalation_interval_seconds: int = Field(default=3600, ge=10)
    """How often stale Cases are escalated (it holds every shard's lease while it writes)."""
    reconcile_interval_seconds: int = Field(default=120, ge=5)
    """How often the store is compared with the queue and due work re-enqueued."""
    reconcile_grace_seconds: int = Field(default=60, ge=0)
    """A shard not finished this long after its cycle was claimed counts as lost."""

    @model_validator(mode="after")
    def _limits_below_visibility(self) -> Self:
        limits = (
            ("task_soft_time_limit_seconds", self.task_soft_time_limit_seconds),
            ("task_time_limit_seconds", self.task_time_limit_seconds),
            ("lease_retry_seconds", self.lease_retry_seconds),
        )
        problems = [
            f"jobs.{name} ({value}s) must be below jobs.visibility_timeout_seconds "
            f"({self.visibility_timeout_seconds}s), or Redis delivers the task twice"
            for name, value in limits
            if value >= self.visibility_timeout_seconds
        ]
        if self.task_soft_time_limit_seconds >= self.task_time_limit_seconds:
            problems.append(
                "jobs.task_soft_time_limit_seconds must be below jobs.task_time_limit_seconds"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def lease_ttl_seconds(self) -> int:
        """A shard lease outlives the longest a task may run, so it never expires under it."""
        return self.task_time_limit_seconds + self.lease_margin_seconds


def load_jobs_settings() -> JobsSettings:
    """The ``SFSYNC_JOBS__*`` settings; a :class:`ConfigError` naming each bad variable."""
    try:
        return JobsSettings()
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = "SFSYNC_JOBS__" + "__".join(str(part).upper() for part in item["loc"])
            message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if item["loc"] else message)
        raise ConfigError("; ".join(problems)) from None
