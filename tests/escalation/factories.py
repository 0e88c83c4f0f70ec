"""Data builders for the escalation tests: plain values, no fixtures needed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sfsync.escalation import CaseLedger, EscalationPolicy, OpenCaseFacts

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)

US_REGION: dict[str, Any] = {
    "country": "US",
    "time_zone": "America/New_York",
    "start": "09:00",
    "end": "17:00",
}
GB_REGION: dict[str, Any] = {
    "country": "GB",
    "subdivision": "ENG",
    "time_zone": "Europe/London",
    "start": "09:00",
    "end": "17:00",
}

#: The issue's ladder: 14 days → the owner's manager, 30 days → the legal queue.
LADDER = EscalationPolicy.model_validate(
    {
        "no_response_attempts": 3,
        "levels": [
            {"name": "manager", "after_days": 14, "assign_to": "manager"},
            {
                "name": "legal",
                "after_days": 30,
                "assign_to": "queue:Legal_Collections",
                "status": "Escalated - Legal",
                "task_priority": "high",
                "task_subject": "Legal review: {customer} ({case_number})",
                "chatter": "Sent to legal after {age_days} {age_unit}: {reasons}.",
            },
        ],
    }
)


def facts(key: str = "erp:C1:USD:1", *, age_days: float = 20, **changes: Any) -> OpenCaseFacts:
    """An open collections Case ``age_days`` old at :data:`NOW`, owned by an active rep."""
    case = OpenCaseFacts(
        case_key=key,
        case_id="500000000000001AAA",
        case_number="00001001",
        created=NOW - timedelta(days=age_days),
        status="Working",
        account_name="Acme Ltd",
        currency="USD",
        past_due=Decimal("12340.00"),
        owner_id="005000000000001AAA",
        owner_name="Pat Lee",
        owner_active=True,
        manager_id="005000000000002AAA",
        manager_name="Sam Boss",
        ledger=CaseLedger(),
    )
    return replace(case, **changes)
