"""Slack incoming-webhook notifier: alerts as Block Kit messages.

One message per send: a header, one section per Case (fields: account, amount past due, age,
owner, reason, threshold; a button opening the Case), and a context line. Slack caps a message
at 50 blocks, so a long digest lists the first cases and says how many more there are.
"""

from __future__ import annotations

from typing import Any

from sfsync.alerts.model import AlertMessage, Channel, StaleCaseAlert
from sfsync.alerts.webhook import WebhookNotifier

MAX_BLOCKS = 50
HEADER_LIMIT = 150
#: Blocks that are not a case: the header and the context line (plus one "and N more" line).
_FRAME_BLOCKS = 3


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to (``&``, ``<``, ``>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str, limit: int | None = None) -> dict[str, Any]:
    shown = text if limit is None or len(text) <= limit else text[: limit - 1] + "…"
    return {"type": "plain_text", "text": shown, "emoji": False}


def _field(label: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{label}*\n{escape_mrkdwn(value)}"}


def case_section(alert: StaleCaseAlert) -> dict[str, Any]:
    """One Case: its title linked, six fields, and an "Open Case" button."""
    return {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": f"*<{escape_mrkdwn(alert.case_url)}|{escape_mrkdwn(alert.title)}>*",
        },
        "fields": [
            _field("Account", alert.account_name),
            _field("Past due", alert.amount_text),
            _field("Open for", alert.age_text),
            _field("Owner", alert.owner_name),
            _field("Why stale", alert.reason),
            _field("Threshold", alert.threshold),
        ],
        "accessory": {
            "type": "button",
            "text": _plain("Open Case"),
            "url": alert.case_url,
            "action_id": f"open_case_{alert.case_id}",
        },
    }


def build_slack_payload(message: AlertMessage) -> dict[str, Any]:
    """The webhook body: Block Kit blocks plus a plain ``text`` for notifications."""
    room = MAX_BLOCKS - _FRAME_BLOCKS
    shown = message.alerts[:room]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(message.subject, 150)}]
    blocks.extend(case_section(alert) for alert in shown)
    hidden = len(message.alerts) - len(shown)
    if hidden:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"…and {hidden} more stale cases."},
            }
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": f"sfsync collections · {message.mode.value} alert"}
            ],
        }
    )
    return {"text": escape_mrkdwn(message.subject), "blocks": blocks}


class SlackNotifier(WebhookNotifier):
    """Posts Block Kit alerts to one Slack incoming webhook."""

    CHANNEL = Channel.SLACK

    def build_payload(self, message: AlertMessage) -> dict[str, Any]:
        return build_slack_payload(message)
