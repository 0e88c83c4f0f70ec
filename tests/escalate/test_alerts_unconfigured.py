"""No alert channel configured: the escalation still runs, and nobody is left unaware of it."""

from __future__ import annotations

from dataclasses import replace
from io import StringIO

import pytest
from structlog.testing import capture_logs

from sfsync.escalate import print_report, run_escalation
from sfsync.jobs.status import collect_status, render_status
from tests.escalate.conftest import MANAGER_MAIL, RILEY, T0, EscalationHarness, days

pytestmark = pytest.mark.org

LINE = "Escalations without alerts: 2 — configure alerts.smtp/slack/teams"


def _status(harness: EscalationHarness) -> list[str]:
    with harness.sessions() as session:
        return render_status(collect_status(session, None, harness.clock.now()))


def test_escalations_without_a_channel_warn_once_and_show_in_status(
    harness: EscalationHarness,
) -> None:
    harness.seed_case(owner=RILEY)
    harness.seed_case(owner=RILEY)
    harness.at(T0 + days(15))
    silent = replace(harness.deps(), dispatcher=None)

    with capture_logs() as logs:
        report = run_escalation(silent, dry_run=False)
    printed = StringIO()
    print_report(report, printed)

    assert len(report.escalated) == 2
    warnings = [line for line in logs if line["event"] == "alerts_not_configured"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"
    assert warnings[0]["escalations_without_alerts"] == 2
    assert "alerts.smtp" in warnings[0]["fix"]
    assert "escalations without alerts: 2" in printed.getvalue()
    assert LINE in _status(harness)

    # A channel configured later tells the managers, and the status line goes away.
    harness.at(T0 + days(15.01))
    harness.run()
    assert len(harness.smtp.to(MANAGER_MAIL)) == 2
    assert not any(line.startswith("Escalations without alerts") for line in _status(harness))
