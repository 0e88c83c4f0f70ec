"""Slack (Block Kit) and Teams (Adaptive Card) alerts posted to a real local HTTPS server."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from sfsync.alerts.model import AlertMessage, AlertMode
from sfsync.alerts.slack import MAX_BLOCKS, SlackNotifier
from sfsync.alerts.teams import TeamsNotifier
from sfsync.errors import PermanentError, RetryableError
from sfsync.sandbox.certs import OrgCertificates
from tests.alerts.conftest import WebhookCapture, make_alert
from tests.fixtures.services import free_port

SLACK_PATH = "/services/T000/B000/slack-secret-token"
TEAMS_PATH = "/webhookb2/teams-secret-token"


def _slack(server: WebhookCapture, certs: OrgCertificates) -> SlackNotifier:
    return SlackNotifier(server.url(SLACK_PATH), ca_bundle=certs.ca_cert)


def _teams(server: WebhookCapture, certs: OrgCertificates) -> TeamsNotifier:
    return TeamsNotifier(server.url(TEAMS_PATH), ca_bundle=certs.ca_cert)


def test_slack_immediate_alert_is_block_kit(
    webhook_server: WebhookCapture, certs: OrgCertificates
) -> None:
    alert = make_alert(1, account_name="Acme <Corp> & Co")

    _slack(webhook_server, certs).send("collections", AlertMessage(AlertMode.IMMEDIATE, (alert,)))

    [request] = webhook_server.requests
    assert request.path == SLACK_PATH
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == {
        "text": "Stale collections case 00001001: Acme &lt;Corp&gt; &amp; Co, 15 days",
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": "Stale collections case 00001001: Acme <Corp> & Co, 15 days",
                    "emoji": False,
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*<{alert.case_url}|Case 00001001 · Acme &lt;Corp&gt; &amp; Co>*",
                },
                "fields": [
                    {"type": "mrkdwn", "text": "*Account*\nAcme &lt;Corp&gt; &amp; Co"},
                    {"type": "mrkdwn", "text": "*Past due*\nUSD 12,340.50"},
                    {"type": "mrkdwn", "text": "*Open for*\n15 days"},
                    {"type": "mrkdwn", "text": "*Owner*\nRita Rep"},
                    {"type": "mrkdwn", "text": "*Why stale*\nno contact made"},
                    {"type": "mrkdwn", "text": "*Threshold*\n14d"},
                ],
                "accessory": {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open Case", "emoji": False},
                    "url": alert.case_url,
                    "action_id": f"open_case_{alert.case_id}",
                },
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "sfsync collections · immediate alert"}],
            },
        ],
    }


def test_slack_digest_stays_within_the_block_limit_and_counts_the_rest(
    webhook_server: WebhookCapture, certs: OrgCertificates
) -> None:
    alerts = tuple(make_alert(number) for number in range(1, 61))

    _slack(webhook_server, certs).send("collections", AlertMessage(AlertMode.DIGEST, alerts))

    blocks = webhook_server.requests[0].body["blocks"]
    assert len(blocks) == MAX_BLOCKS
    sections = [block for block in blocks if "accessory" in block]
    assert len(sections) == 47
    assert blocks[-2]["text"]["text"] == "…and 13 more stale cases."
    assert blocks[0]["text"]["text"] == "Collections digest: 60 stale cases"


def test_teams_alert_is_an_adaptive_card_in_a_message_envelope(
    webhook_server: WebhookCapture, certs: OrgCertificates
) -> None:
    first, second = make_alert(1), make_alert(2, reason="dispute open")
    message = AlertMessage(AlertMode.DIGEST, (first, second))

    _teams(webhook_server, certs).send("collections", message)

    [request] = webhook_server.requests
    assert request.path == TEAMS_PATH
    assert request.body["type"] == "message"
    [attachment] = request.body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    card = attachment["content"]
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    title, *containers = card["body"]
    assert title == {
        "type": "TextBlock",
        "text": "Collections digest: 2 stale cases",
        "size": "Large",
        "weight": "Bolder",
        "wrap": True,
    }
    assert containers[1] == {
        "type": "Container",
        "separator": True,
        "items": [
            {
                "type": "TextBlock",
                "text": "Case 00001002 · Customer 2 Ltd",
                "weight": "Bolder",
                "wrap": True,
            },
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Account", "value": "Customer 2 Ltd"},
                    {"title": "Past due", "value": "USD 24,681.00"},
                    {"title": "Open for", "value": "16 days"},
                    {"title": "Owner", "value": "Rita Rep"},
                    {"title": "Why stale", "value": "dispute open"},
                    {"title": "Threshold", "value": "14d"},
                ],
            },
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.OpenUrl", "title": "Open Case", "url": second.case_url}
                ],
            },
        ],
    }


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, PermanentError), (404, PermanentError), (500, RetryableError), (503, RetryableError)],
)
def test_http_errors_are_translated_by_remedy_without_the_secret_url(
    webhook_server: WebhookCapture, certs: OrgCertificates, status: int, error: type[Exception]
) -> None:
    webhook_server.statuses.append(status)

    with pytest.raises(error) as raised:
        _slack(webhook_server, certs).send("c", AlertMessage(AlertMode.IMMEDIATE, (make_alert(),)))

    assert f"Slack webhook answered HTTP {status}" in str(raised.value)
    assert "secret-token" not in str(raised.value)


def test_webhook_server_with_an_untrusted_certificate_is_refused(
    webhook_server: WebhookCapture,
) -> None:
    notifier = TeamsNotifier(webhook_server.url(TEAMS_PATH))  # system CAs only

    with pytest.raises(PermanentError) as raised:
        notifier.send("c", AlertMessage(AlertMode.IMMEDIATE, (make_alert(),)))

    assert raised.value.code == "TLS_VERIFY_FAILED"
    assert webhook_server.requests == []


def test_unreachable_webhook_is_retryable_and_hides_the_url() -> None:
    url = SecretStr(f"https://127.0.0.1:{free_port()}{SLACK_PATH}")

    with pytest.raises(RetryableError) as raised:
        SlackNotifier(url, connect_timeout=2, read_timeout=2).send(
            "c", AlertMessage(AlertMode.IMMEDIATE, (make_alert(),))
        )

    assert str(raised.value) == "Slack webhook unreachable (connection failed)"
