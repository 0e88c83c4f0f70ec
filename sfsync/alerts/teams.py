"""Microsoft Teams incoming-webhook notifier: alerts as Adaptive Cards (version 1.4).

Teams incoming webhooks and Workflows ("Post to a channel when a webhook request is received")
both take a ``message`` envelope whose ``attachments`` hold the card. Each Case is a container
with a title, a fact set (account, amount past due, age, owner, reason, threshold) and an
"Open Case" action.
"""

from __future__ import annotations

from typing import Any

from sfsync.alerts.model import AlertMessage, Channel, StaleCaseAlert
from sfsync.alerts.webhook import WebhookNotifier

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"


def case_container(alert: StaleCaseAlert) -> dict[str, Any]:
    """One Case: title, facts, and an action opening it in Salesforce."""
    return {
        "type": "Container",
        "separator": True,
        "items": [
            {"type": "TextBlock", "text": alert.title, "weight": "Bolder", "wrap": True},
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Account", "value": alert.account_name},
                    {"title": "Past due", "value": alert.amount_text},
                    {"title": "Open for", "value": alert.age_text},
                    {"title": "Owner", "value": alert.owner_name},
                    {"title": "Why stale", "value": alert.reason},
                    {"title": "Threshold", "value": alert.threshold},
                ],
            },
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.OpenUrl", "title": "Open Case", "url": alert.case_url}
                ],
            },
        ],
    }


def build_teams_payload(message: AlertMessage) -> dict[str, Any]:
    """The webhook body: a ``message`` with one Adaptive Card attachment."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.subject,
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
        }
    ]
    body.extend(case_container(alert) for alert in message.alerts)
    card = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


class TeamsNotifier(WebhookNotifier):
    """Posts Adaptive Card alerts to one Teams incoming webhook (or Workflows URL)."""

    CHANNEL = Channel.TEAMS

    def build_payload(self, message: AlertMessage) -> dict[str, Any]:
        return build_teams_payload(message)
