"""Distributed mode's constants; its settings are the ``jobs:`` section of sfsync.yaml.

:class:`~sfsync.settings.JobsSettings` (shards, time limits, leases, the periodic intervals)
lives in :mod:`sfsync.settings` with the rest of the configuration, so ``sfsync config check``
reports a jobs problem with every other one and ``SFSYNC_JOBS__*`` variables override the file
like any other key. It is re-exported here for the modules of :mod:`sfsync.jobs`.
"""

from __future__ import annotations

from sfsync.settings import RETRY_BACKOFF_MAX_SECONDS, JobsSettings, load_settings

__all__ = ["QUEUE", "RETRY_BACKOFF_MAX_SECONDS", "JobsSettings", "load_jobs_settings"]

#: Name of the one queue every sfsync task goes to (``sfsync status`` reports its depth).
QUEUE = "sfsync"


def load_jobs_settings() -> JobsSettings:
    """The ``jobs:`` section of the configuration ``$SFSYNC_CONFIG`` names (or the default).

    Code holding a :class:`~sfsync.settings.Settings` reads ``settings.jobs`` instead; loading
    the settings already validated this section, so this never finds a new problem there.
    """
    return load_settings().jobs
