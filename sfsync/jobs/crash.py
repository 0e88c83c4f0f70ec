"""Test-only crash points: a worker kills itself with SIGKILL at a named boundary, once.

This exists so the test suite can prove the crash-safety claims with real ``kill -9``s at the
exact boundaries that matter: ``before_call`` (a Salesforce write is about to be sent),
``after_call`` (Salesforce answered, nothing committed yet) and ``after_commit`` (the task's work is
committed, the message not yet acknowledged).

It does nothing unless the environment variable ``SFSYNC_TEST_CRASHPOINTS`` names a directory,
and even then it only fires when the test has *armed* a point by creating a file: either
``<dir>/<task>.<point>`` (only that task meets it, e.g. ``sfsync.cycle_shard.after_commit``, so a
test can kill the shard writer and not the dispatcher) or ``<dir>/<point>`` (whichever task
meets it first). The first process to delete the file kills itself, so each arming costs exactly
one crash, and the replacement process does not crash again. Just before the kill it writes one
line ``crashpoint_fired task=<task> point=<point>`` straight to its standard error, so a test
can tell from the worker's log which task and boundary each kill hit. Never set the variable in
production.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from sfsync.salesforce.forwarding import ForwardingGateway
from sfsync.salesforce.ports import ItemResult

CRASHPOINTS_ENV = "SFSYNC_TEST_CRASHPOINTS"
BEFORE_CALL = "before_call"
AFTER_CALL = "after_call"
AFTER_COMMIT = "after_commit"


def crashpoint(name: str) -> None:
    """SIGKILL this process if the test armed ``name`` (for the running task, or for any task);
    a no-op otherwise (and in production)."""
    directory = os.environ.get(CRASHPOINTS_ENV)
    if not directory:
        return
    task = str(structlog.contextvars.get_contextvars().get("task") or "")
    armed = [Path(directory) / f"{task}.{name}"] if task else []
    for marker in [*armed, Path(directory) / name]:
        try:
            marker.unlink()
        except FileNotFoundError:
            continue
        # Raw and unbuffered: the line must reach the log before the kill.
        os.write(2, f"crashpoint_fired task={task or '-'} point={name}\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)


def crash_testing() -> bool:
    """Whether crash points are enabled in this process (tests only)."""
    return bool(os.environ.get(CRASHPOINTS_ENV))


class CrashingGateway(ForwardingGateway):
    """The real gateway with a crash point on each side of every write (tests only).

    Installed by the worker only when :func:`crash_testing` is true, so the production path
    never goes through it.
    """

    def _write(self, call: Any, *args: Any, **kwargs: Any) -> list[ItemResult]:
        crashpoint(BEFORE_CALL)
        results: list[ItemResult] = call(*args, **kwargs)
        crashpoint(AFTER_CALL)
        return results

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        return self._write(self.inner.create, object_name, records)

    def update(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        return self._write(self.inner.update, object_name, records)

    def upsert(
        self, object_name: str, records: Sequence[Mapping[str, Any]], *, external_id_field: str
    ) -> list[ItemResult]:
        return self._write(
            self.inner.upsert, object_name, records, external_id_field=external_id_field
        )

    def delete(self, ids: Sequence[str]) -> list[ItemResult]:
        return self._write(self.inner.delete, ids)
