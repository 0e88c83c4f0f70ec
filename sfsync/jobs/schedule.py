"""The beat schedule, built from configuration.

The cycle runs every ``sync.interval_seconds`` (the same key the embedded loop uses); the
writeback (read back what reps logged: outcomes, promises, disputes), the escalation of stale
Cases and the reconciler every ``jobs.<job>_interval_seconds`` (sfsync.yaml or
``SFSYNC_JOBS__<JOB>_INTERVAL_SECONDS``). Beat only *sends*
messages: each task claims its schedule window in the store before doing anything, so a second
beat, a restarted beat or a duplicate delivery never runs a window twice (reference §A3).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sfsync.jobs.config import JobsSettings
from sfsync.settings import Settings

CYCLE_TASK = "sfsync.cycle"
SHARD_TASK = "sfsync.cycle_shard"
RECONCILE_TASK = "sfsync.reconcile"
WRITEBACK_TASK = "sfsync.writeback"
ESCALATION_TASK = "sfsync.escalation"
PROMISE_CHECKS_TASK = "sfsync.promise_checks"


def periodic_intervals(settings: Settings, jobs: JobsSettings) -> dict[str, int]:
    """Task name → interval in seconds, for every periodic task."""
    return {
        CYCLE_TASK: settings.sync.interval_seconds,
        WRITEBACK_TASK: jobs.writeback_interval_seconds,
        ESCALATION_TASK: jobs.escalation_interval_seconds,
        # Promises are recorded by the writeback, so they are checked at its cadence.
        PROMISE_CHECKS_TASK: jobs.writeback_interval_seconds,
        RECONCILE_TASK: jobs.reconcile_interval_seconds,
    }


def beat_schedule(settings: Settings, jobs: JobsSettings) -> dict[str, Any]:
    """Celery's ``beat_schedule``: one entry per periodic task, expiring after one interval.

    A message that waited a whole interval (workers down) expires instead of piling up: the
    next window's run does the same work from the store's watermarks.
    """
    return {
        name: {
            "task": name,
            "schedule": timedelta(seconds=seconds),
            "options": {"expires": seconds},
        }
        for name, seconds in periodic_intervals(settings, jobs).items()
    }
