"""Distributed mode's constants; its settings are the ``jobs:`` section of sfsync.yaml.

:class:`~sfsync.settings.JobsSettings` (shards, time limits, leases, the periodic intervals)
lives in :mod:`sfsync.settings` with the rest of the configuration, so ``sfsync config check``
reports a jobs problem with every other one and ``SFSYNC_JOBS__*`` variables override the file
like any other key. It is re-exported here for the modules of :mod:`sfsync.jobs`.
"""

from __future__ import annotations

from sqlalchemy.engine import make_url

from sfsync.errors import ConfigError
from sfsync.settings import RETRY_BACKOFF_MAX_SECONDS, JobsSettings, Settings

__all__ = [
    "QUEUE",
    "RETRY_BACKOFF_MAX_SECONDS",
    "JobsSettings",
    "require_distributed_store",
]

#: Name of the one queue every sfsync task goes to (``sfsync status`` reports its depth).
QUEUE = "sfsync"


def require_distributed_store(settings: Settings) -> None:
    """Refuse a SQLite store: distributed mode needs PostgreSQL.

    Workers on several processes or machines exclude each other with PostgreSQL session
    advisory locks (:mod:`sfsync.jobs.locks`); a SQLite file has none, and is not shared
    between machines anyway.
    """
    dialect = make_url(settings.store.url).get_backend_name()
    if dialect != "postgresql":
        raise ConfigError(
            f"store.url is a {dialect} store: distributed mode (sfsync worker / beat) needs "
            "PostgreSQL, whose advisory locks keep two workers from writing the same accounts; "
            "set store.url (or SFSYNC_STORE__URL / SFSYNC_STORE__URL_FILE) to a "
            "postgresql:// URL and run sfsync db upgrade on it"
        )
