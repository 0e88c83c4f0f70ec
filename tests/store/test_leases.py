"""Account leases: one writer per account at a time, taken over only after expiry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from sfsync.store.repositories import acquire_lease, release_lease
from tests.store.conftest import T0

TTL = timedelta(minutes=5)


def _acquire(session: Session, holder: str, minutes: float = 0) -> bool:
    return acquire_lease(
        session, lease_key="erp:C-100", holder=holder, now=T0 + timedelta(minutes=minutes), ttl=TTL
    )


def test_first_holder_wins_and_others_wait_for_expiry(
    session: Session, other_session: Session
) -> None:
    assert _acquire(session, "worker-a") is True
    session.commit()

    assert _acquire(other_session, "worker-b", minutes=4) is False
    assert _acquire(other_session, "worker-b", minutes=5) is True
    other_session.commit()

    assert _acquire(session, "worker-a", minutes=6) is False


def test_holder_renews_its_own_lease(session: Session) -> None:
    assert _acquire(session, "worker-a") is True
    assert _acquire(session, "worker-a", minutes=4) is True  # renewed until minute 9
    assert _acquire(session, "worker-b", minutes=8) is False


def test_release_frees_the_lease_for_its_holder_only(session: Session) -> None:
    _acquire(session, "worker-a")

    assert release_lease(session, lease_key="erp:C-100", holder="worker-b") is False
    assert release_lease(session, lease_key="erp:C-100", holder="worker-a") is True
    assert _acquire(session, "worker-b", minutes=1) is True


def test_a_lease_needs_a_positive_ttl(session: Session) -> None:
    with pytest.raises(ValueError, match="positive ttl"):
        acquire_lease(session, lease_key="k", holder="a", now=T0, ttl=timedelta(0))
