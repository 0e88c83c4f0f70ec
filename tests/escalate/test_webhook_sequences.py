"""Exact webhook answer sequences (``responses`` at the HTTP adapter; the org stays real)."""

from __future__ import annotations

import pytest
import responses

from sfsync.alerts.routing import AlertRouting
from sfsync.store.alerts import list_deliveries
from sfsync.store.escalations import AlertState, list_escalations
from tests.escalate.conftest import FALLBACK_MAIL, RILEY, T0, EscalationHarness, days

pytestmark = pytest.mark.org

SLACK = "https://hooks.slack.test/services/T000/B000/XXXX"
TEAMS = "https://example.webhook.office.test/workflows/ar-team"


def test_slack_503_then_200_is_retried_and_teams_gets_the_broadcast(
    harness: EscalationHarness,
) -> None:
    harness.slack_url, harness.teams_url = SLACK, TEAMS
    harness.routing = AlertRouting(
        managers={RILEY: ("slack:collections",)},
        broadcast=("teams:ar-team",),
        fallback=(FALLBACK_MAIL,),
    )
    case = harness.seed_case(owner=RILEY)
    harness.at(T0 + days(15))

    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add_passthru(harness.server.url)
        mock.post(SLACK, status=503)
        mock.post(SLACK, status=200, body="ok")
        mock.post(TEAMS, status=202)
        report = harness.run()
        slack_posts = [call for call in mock.calls if call.request.url == SLACK]
        teams_posts = [call for call in mock.calls if call.request.url == TEAMS]

    assert report.counts["alerts_sent"] == 2
    assert len(slack_posts) == 2
    assert len(teams_posts) == 1
    assert case["CaseNumber"] in str(teams_posts[0].request.body)
    with harness.sessions() as session:
        deliveries = list_deliveries(session)
        attempts = {row.channel: (row.status.value, row.attempts) for row in deliveries}
        (row,) = list_escalations(session)
    assert attempts == {"slack": ("sent", 2), "teams": ("sent", 1)}
    assert row.alert_state is AlertState.SENT


def test_slack_failing_every_try_is_sent_by_the_next_run_only(harness: EscalationHarness) -> None:
    harness.slack_url = SLACK
    harness.routing = AlertRouting(managers={RILEY: ("slack:collections",)})
    harness.seed_case(owner=RILEY)
    harness.at(T0 + days(15))

    with responses.RequestsMock() as mock:
        mock.add_passthru(harness.server.url)
        mock.post(SLACK, status=503)
        mock.post(SLACK, status=503)
        first = harness.run()
    harness.at(T0 + days(15.5))
    with responses.RequestsMock() as mock:
        mock.add_passthru(harness.server.url)
        mock.post(SLACK, status=200, body="ok")
        second = harness.run()
        posts = len(mock.calls)

    assert first.counts["alerts_failed"] == 1
    assert second.escalated == []
    assert second.calls.write == 0
    assert (second.counts["alerts_sent"], posts) == (1, 1)
