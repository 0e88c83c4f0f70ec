"""The crash-testing wrapper is a complete gateway: escalation's Case links work through it."""

from __future__ import annotations

import pytest

from sfsync.clock import FixedClock
from sfsync.escalate import case_url
from sfsync.jobs.crash import CrashingGateway
from sfsync.salesforce.ports import SalesforceGateway
from sfsync.sandbox.server import OrgServer
from tests.fixtures.gateways import org_gateway
from tests.sync.conftest import START

pytestmark = pytest.mark.org


def test_a_crash_testing_worker_links_cases_to_the_org_it_logged_in_to(
    local_org: OrgServer,
) -> None:
    inner = org_gateway(local_org, FixedClock(START))
    try:
        gateway = CrashingGateway(inner)

        assert isinstance(gateway, SalesforceGateway)
        assert gateway.instance_url == local_org.url
        assert case_url(gateway.instance_url, "500000000000001") == (
            f"{local_org.url}/lightning/r/Case/500000000000001/view"
        )
    finally:
        inner.close()
