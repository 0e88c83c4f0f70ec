"""What a worker process builds once and reuses for every task: settings, store, org, mappings.

Built lazily on the first task, i.e. in the pool's child process after the fork, so no database
connection or HTTPS session is ever shared across a fork. Closed when the process shuts down.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from celery import signals
from sqlalchemy.orm import Session, sessionmaker

from sfsync.clock import Clock, SystemClock
from sfsync.jobs.config import JobsSettings
from sfsync.jobs.crash import CrashingGateway, crash_testing
from sfsync.settings import Settings, load_settings, resolve_config_path
from sfsync.sync import CycleDeps


@dataclass
class Runtime:
    """One worker process's dependencies."""

    settings: Settings
    jobs: JobsSettings
    clock: Clock
    deps: CycleDeps
    stack: ExitStack

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The store's session factory."""
        return self.deps.sessions  # type: ignore[return-value]

    @property
    def worker_name(self) -> str:
        """``host:pid``: who holds a lease, as shown in logs and ``sfsync status``."""
        return f"{socket.gethostname()}:{os.getpid()}"

    def close(self) -> None:
        """Close the org session and dispose of the store's connections."""
        self.stack.close()


_lock = threading.Lock()
_runtime: Runtime | None = None


def build_runtime(settings: Settings | None = None, clock: Clock | None = None) -> Runtime:
    """Open the store (migrated), the source, the org and the compiled mappings."""
    from sfsync.checks import open_gateway  # noqa: PLC0415 - heavy, worker processes only
    from sfsync.runner import open_cycle  # noqa: PLC0415

    settings = settings or load_settings()
    clock = clock or SystemClock()
    stack = ExitStack()
    try:
        deps = stack.enter_context(
            open_cycle(
                settings,
                resolve_config_path(None),
                clock,
                lambda: open_gateway(settings, clock),
            )
        )
    except BaseException:
        stack.close()
        raise
    if crash_testing():
        deps = dataclasses.replace(deps, gateway=CrashingGateway(deps.gateway))
    return Runtime(settings, settings.jobs, clock, deps, stack)


def runtime() -> Runtime:
    """This process's runtime, built on first use."""
    global _runtime  # noqa: PLW0603 - one per process, by design
    with _lock:
        if _runtime is None:
            _runtime = build_runtime()
        return _runtime


def _close_runtime(**_kwargs: Any) -> None:
    """Release the org session and the store's connections when a pool process ends."""
    global _runtime  # noqa: PLW0603
    with _lock:
        if _runtime is not None:
            _runtime.close()
            _runtime = None


signals.worker_process_shutdown.connect(_close_runtime)
