"""The scheduled digest: escalation runs send the day's digest once ``digest_time`` has passed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time, timedelta
from pathlib import Path

import pytest

from sfsync.alerts.delivery import DeliveryResult
from sfsync.escalate import EscalationReport, open_escalation, run_escalation
from sfsync.salesforce.client import SimpleSalesforceGateway
from sfsync.settings import Settings
from tests.escalate.conftest import (
    CONFIG,
    MANAGER_MAIL,
    RILEY,
    ROUTING,
    SENDER,
    T0,
    EscalationHarness,
    days,
    org_gateway,
)

pytestmark = pytest.mark.org

NOON = ROUTING.model_copy(update={"digest_time": time(12, 0)})


def _digests(harness: EscalationHarness) -> list[str]:
    return [
        str(mail["Subject"])
        for mail in harness.smtp.to(MANAGER_MAIL)
        if str(mail["Subject"]).startswith("Collections digest")
    ]


def test_a_run_sends_the_days_digest_once_after_the_digest_time(
    harness: EscalationHarness,
) -> None:
    harness.routing = NOON
    harness.scheduled_digest = True
    case = harness.seed_case(owner=RILEY)
    harness.at(T0 + days(16))  # 09:00 UTC: before the digest time

    before = harness.run()
    harness.at(T0 + days(16) + timedelta(hours=3, minutes=30))  # 12:30 UTC
    due = harness.run()
    harness.at(T0 + days(16) + timedelta(hours=6))  # 15:00 UTC, same day
    again = harness.run()

    assert (before.escalated, before.digest) == ([case["Collections_Key__c"] + ":esc:manager"], [])
    assert {(item.recipient, item.status) for item in due.digest} == {
        (MANAGER_MAIL, DeliveryResult.SENT),
        ("slack:collections", DeliveryResult.SENT),
    }
    assert due.counts["digests_sent"] == 2
    assert {item.status for item in again.digest} == {DeliveryResult.DUPLICATE}
    assert again.counts["digests_sent"] == 0
    assert _digests(harness) == ["Collections digest 2026-03-18: 1 stale case"]


def test_without_a_schedule_a_run_sends_no_digest(harness: EscalationHarness) -> None:
    harness.seed_case(owner=RILEY)
    harness.at(T0 + days(16) + timedelta(hours=5))

    report = harness.run()

    assert (report.digest, _digests(harness)) == ([], [])


def test_the_escalate_command_path_schedules_the_digest_from_the_settings(
    harness: EscalationHarness, tmp_path: Path
) -> None:
    """``open_escalation`` (``sfsync escalate`` and the escalation job) reads digest_time."""
    harness.seed_case(owner=RILEY)
    settings = Settings(
        store={"url": f"sqlite:///{tmp_path / 'digest.db'}"},
        alerts={
            "smtp": {
                "host": "127.0.0.1",
                "port": harness.smtp.port,
                "starttls": False,
                "from_address": SENDER,
            },
            "routing": {"managers": {RILEY: [MANAGER_MAIL]}, "digest_time": "10:00"},
        },
    )

    @contextmanager
    def opener() -> Iterator[SimpleSalesforceGateway]:
        gateway = org_gateway(harness.server, harness.clock)
        try:
            yield gateway
        finally:
            gateway.close()

    def run() -> EscalationReport:
        with open_escalation(settings, CONFIG / "sfsync.yaml", harness.clock, opener) as deps:
            return run_escalation(deps, dry_run=False)

    harness.at(T0 + days(16))  # 09:00 UTC
    early = run()
    harness.at(T0 + days(16) + timedelta(hours=2))  # 11:00 UTC
    due = run()
    later = run()

    assert (early.counts["escalated"], early.counts["digests_sent"]) == (1, 0)
    assert (due.counts["digests_sent"], later.counts["digests_sent"]) == (1, 0)
    assert _digests(harness) == ["Collections digest 2026-03-18: 1 stale case"]
