"""What an alert says: one stale collections Case, and how it is shown to a manager.

A :class:`StaleCaseAlert` is a plain value built by the escalation step from the Case and the
threshold it crossed. Notifiers only render it; routing decides who gets it; delivery decides
whether it was already sent. The digest is simply a list of alerts for one recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Literal

AgeMode = Literal["calendar", "business"]


class AlertMode(StrEnum):
    """Immediate: one Case as soon as it crosses a threshold. Digest: every stale Case, daily."""

    IMMEDIATE = "immediate"
    DIGEST = "digest"


class Channel(StrEnum):
    """Where an alert goes; ``routing`` marks a recorded routing problem, not a sending channel."""

    EMAIL = "email"
    SLACK = "slack"
    TEAMS = "teams"
    ROUTING = "routing"


@dataclass(frozen=True)
class StaleCaseAlert:
    """One collections Case open past a threshold, with everything a manager needs to act.

    ``owner_active`` is False when the Case owner has left (an inactive Salesforce user): the
    alert is then routed to the fallback recipients. ``queue`` names the queue that owns the
    Case, when a queue does.
    """

    case_id: str
    case_number: str
    case_url: str
    account_name: str
    currency: str
    past_due_amount: Decimal
    age_days: int
    age_mode: AgeMode
    owner_id: str
    owner_name: str
    reason: str
    threshold: str
    owner_username: str | None = None
    owner_active: bool = True
    queue: str | None = None

    @property
    def amount_text(self) -> str:
        """``USD 12,340.00``: the currency code and the amount with thousands separators."""
        return f"{self.currency} {self.past_due_amount:,.2f}"

    @property
    def age_text(self) -> str:
        """``15 days`` or ``11 business days``."""
        unit = "day" if self.age_days == 1 else "days"
        return f"{self.age_days} {'business ' if self.age_mode == 'business' else ''}{unit}"

    @property
    def title(self) -> str:
        """``Case 00001234 · Acme Corp``: how the Case is named in every channel."""
        return f"Case {self.case_number} · {self.account_name}"


@dataclass(frozen=True)
class AlertMessage:
    """The rendering inputs shared by every channel: mode, the alerts, and the digest date."""

    mode: AlertMode
    alerts: tuple[StaleCaseAlert, ...]
    digest_date: date | None = None

    @property
    def subject(self) -> str:
        """The e-mail subject, Slack header and Teams card title."""
        if self.mode is AlertMode.DIGEST:
            count = len(self.alerts)
            day = f" {self.digest_date.isoformat()}" if self.digest_date is not None else ""
            return f"Collections digest{day}: {count} stale case{'s' if count != 1 else ''}"
        alert = self.alerts[0]
        return f"Stale collections case {alert.case_number}: {alert.account_name}, {alert.age_text}"
