"""Who gets an alert: the Case owner's manager, the queue's recipients, or the fallback.

Configuration (proposed ``alerts.routing`` in sfsync.yaml)::

    routing:
      managers:                    # Case owner (Salesforce user id or username) -> recipients
        005000000000001AAA: jane.boss@example.com
        rep@example.com: [ar-lead@example.com, slack:collections]
      queues:                      # queue owning the Case (name or id) -> recipients
        Disputes: [disputes-lead@example.com]
      fallback: [ar-lead@example.com]   # when no manager is known, or the owner has left
      broadcast: [teams:collections]    # receives every alert as well (a team channel)
      digest_time: "08:00"              # UTC time of day the daily digest is due

A recipient is an e-mail address, or ``slack:<label>`` / ``teams:<label>`` for the configured
webhook (a webhook posts to the channel it was created for; the label names it in records).

An owner with no manager, or an owner who left (inactive user), is never a silent drop: the
alert goes to the fallback recipients *and* a :class:`RoutingProblem` is returned, which the
delivery step logs and records for ``sfsync status``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from sfsync.alerts.model import Channel, StaleCaseAlert

_WEBHOOK_PREFIXES = {"slack:": Channel.SLACK, "teams:": Channel.TEAMS}


@dataclass(frozen=True, order=True)
class Recipient:
    """One destination: an e-mail address, or a labelled Slack/Teams webhook."""

    channel: Channel
    address: str

    def __str__(self) -> str:
        return self.address if self.channel is Channel.EMAIL else f"{self.channel}:{self.address}"


def parse_recipient(text: str) -> Recipient:
    """``boss@example.com`` → e-mail; ``slack:collections`` → the Slack webhook, and so on.

    Recipients are compared in lower case, so ``Boss@Example.com`` and ``boss@example.com`` are
    one recipient with one delivery record (mail systems treat them alike in practice).
    """
    value = text.strip().lower()
    for prefix, channel in _WEBHOOK_PREFIXES.items():
        if value.startswith(prefix):
            label = value[len(prefix) :].strip()
            if not label:
                raise ValueError(f"{text!r} needs a label after {prefix!r}, e.g. {prefix}ar-team")
            return Recipient(channel, label)
    local, at, domain = value.partition("@")
    if not (local and at and domain) or "@" in domain or any(c.isspace() for c in value):
        raise ValueError(f"{text!r} is neither an e-mail address nor slack:<label> / teams:<label>")
    return Recipient(Channel.EMAIL, value)


def _check_recipient(text: str) -> str:
    return str(parse_recipient(text))


def _as_list(value: object) -> object:
    """Accept one recipient where a list is expected (``manager: boss@example.com``)."""
    return [value] if isinstance(value, str) else value


RecipientText = Annotated[str, AfterValidator(_check_recipient)]
RecipientList = Annotated[tuple[RecipientText, ...], BeforeValidator(_as_list)]


class AlertRouting(BaseModel):
    """The routing map: owners and queues to recipients, with fallback and broadcast lists."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    managers: dict[str, RecipientList] = Field(default_factory=dict)
    queues: dict[str, RecipientList] = Field(default_factory=dict)
    fallback: RecipientList = ()
    broadcast: RecipientList = ()
    digest_time: time = time(8, 0)


class ProblemKind(StrEnum):
    """Why routing could not follow the map."""

    OWNER_INACTIVE = "owner_inactive"
    UNKNOWN_MANAGER = "unknown_manager"
    NO_RECIPIENT = "no_recipient"


@dataclass(frozen=True)
class RoutingProblem:
    """A routing decision an admin must see: logged and recorded, never only implied."""

    kind: ProblemKind
    alert: StaleCaseAlert
    message: str


@dataclass(frozen=True)
class Route:
    """Where one alert goes, and the problem met on the way (if any)."""

    alert: StaleCaseAlert
    recipients: tuple[Recipient, ...]
    problem: RoutingProblem | None = None


class AlertRouter:
    """Applies an :class:`AlertRouting` map to alerts."""

    def __init__(self, routing: AlertRouting) -> None:
        self._routing = routing
        self._managers = {key.lower(): value for key, value in routing.managers.items()}
        self._queues = {key.lower(): value for key, value in routing.queues.items()}

    def route(self, alert: StaleCaseAlert) -> Route:
        """Recipients for ``alert``: queue, then manager map, else fallback with a problem."""
        owner = f"{alert.owner_name} ({alert.owner_username or alert.owner_id})"
        fallback = ", ".join(self._routing.fallback) or "nobody (no fallback configured)"
        problem: RoutingProblem | None = None
        if not alert.owner_active:
            chosen = self._routing.fallback
            problem = RoutingProblem(
                ProblemKind.OWNER_INACTIVE,
                alert,
                f"Case {alert.case_number}: owner {owner} has left (inactive user); "
                f"alert sent to fallback {fallback}",
            )
        elif alert.queue is not None and alert.queue.lower() in self._queues:
            chosen = self._queues[alert.queue.lower()]
        elif (found := self._manager_of(alert)) is not None:
            chosen = found
        else:
            chosen = self._routing.fallback
            problem = RoutingProblem(
                ProblemKind.UNKNOWN_MANAGER,
                alert,
                f"Case {alert.case_number}: no manager configured for owner {owner}"
                + (f" or queue {alert.queue}" if alert.queue else "")
                + f"; alert sent to fallback {fallback}",
            )
        recipients = _unique(parse_recipient(text) for text in (*chosen, *self._routing.broadcast))
        if not recipients:
            problem = RoutingProblem(
                ProblemKind.NO_RECIPIENT,
                alert,
                f"Case {alert.case_number}: no recipient for owner {owner} and no fallback "
                "or broadcast configured; the alert could not be sent to anyone "
                "(set alerts.routing.fallback)",
            )
        return Route(alert, recipients, problem)

    def _manager_of(self, alert: StaleCaseAlert) -> tuple[str, ...] | None:
        for key in (alert.owner_id, alert.owner_username):
            if key is not None and key.lower() in self._managers:
                return self._managers[key.lower()]
        return None


def _unique(recipients: Iterable[Recipient]) -> tuple[Recipient, ...]:
    """Each recipient once, first mention first (a manager also on broadcast gets one copy)."""
    return tuple(dict.fromkeys(recipients))


def digest_date_due(now: datetime, routing: AlertRouting) -> date | None:
    """The date whose digest is due at ``now`` (UTC), or None before ``digest_time``.

    Delivery de-duplicates by this date, so calling it on every beat sends one digest a day.
    """
    return now.date() if now.time() >= routing.digest_time else None
