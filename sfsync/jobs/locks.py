"""One writer at a time: store leases, backed on PostgreSQL by session advisory locks.

A task takes the store lease (``account_leases``) of each key it writes under. The lease holder
is the Celery task id, so a task redelivered after its worker was killed takes its own lease
over at once instead of waiting for the TTL.

That alone would let two deliveries of the *same* message (a broker hiccup can hand a message
out again while the first copy still runs) both pass. So on PostgreSQL the task also holds a
session-level advisory lock per key on a connection of its own for as long as it writes:
PostgreSQL refuses the second holder whoever it claims to be, and frees the lock the moment
the holder's connection ends, including when its process is killed. (SQLite stores are for one
process; distributed mode needs PostgreSQL.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime, timedelta

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from sfsync.store.repositories import acquire_lease, release_lease

Sessions = Callable[[], Session]


def advisory_key(lease_key: str) -> int:
    """A stable signed 64-bit number for ``lease_key`` (PostgreSQL advisory lock keys)."""
    digest = hashlib.blake2b(f"sfsync:{lease_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _advisory_locks(connection: Connection, keys: Sequence[str]) -> Iterator[bool]:
    """Try every advisory lock on ``connection``; yield whether all were taken."""
    taken: list[int] = []
    try:
        for key in keys:
            number = advisory_key(key)
            got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": number})
            if not got.scalar_one():
                yield False
                return
            taken.append(number)
        yield True
    finally:
        # If the connection broke, its session ended and PostgreSQL freed the locks already.
        with suppress(DBAPIError):
            for number in taken:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": number})


@contextmanager
def exclusive(
    sessions: Sessions,
    *,
    keys: Sequence[str],
    holder: str,
    now: datetime,
    ttl: timedelta,
) -> Iterator[bool]:
    """Hold every key in ``keys`` for the ``with`` block; yield False (holding none) if any
    is held by someone else."""
    with ExitStack() as stack:
        with sessions() as session:
            bind = session.get_bind()
        if bind.dialect.name == "postgresql":
            connection = stack.enter_context(
                bind.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            )
            if not stack.enter_context(_advisory_locks(connection, keys)):
                yield False
                return
        taken = _take_leases(sessions, keys, holder, now, ttl)
        stack.callback(_release_leases, sessions, taken, holder)
        yield len(taken) == len(keys)


def _take_leases(
    sessions: Sessions,
    keys: Sequence[str],
    holder: str,
    now: datetime,
    ttl: timedelta,
) -> list[str]:
    """Take the leases in order; on the first refusal give back those taken. Commits."""
    taken: list[str] = []
    with sessions() as session:
        for key in keys:
            if not acquire_lease(session, lease_key=key, holder=holder, now=now, ttl=ttl):
                for done in taken:
                    release_lease(session, lease_key=done, holder=holder)
                session.commit()
                return []
            taken.append(key)
        session.commit()
    return taken


def _release_leases(sessions: Sessions, keys: Sequence[str], holder: str) -> None:
    if not keys:
        return
    with sessions() as session:
        for key in keys:
            release_lease(session, lease_key=key, holder=holder)
        session.commit()
