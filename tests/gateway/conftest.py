"""Gateway fixtures: settings for each auth flow against the local org, and a logged-in gateway
that retries with zero waits and polls Bulk jobs without sleeping first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from tenacity import wait_none

from sfsync.clock import FixedClock
from sfsync.salesforce.client import SimpleSalesforceGateway, connect
from sfsync.salesforce.retry import RetryPolicy
from sfsync.sandbox.server import OrgServer
from sfsync.settings import SalesforceSettings

API_VERSION = "59.0"
ZERO_WAIT = RetryPolicy(attempts=5, wait=wait_none())


def org_settings(
    server: OrgServer, auth: str = "client_credentials", **overrides: Any
) -> SalesforceSettings:
    """SalesforceSettings that log in to the local org with ``auth``."""
    config = server.org.config
    values: dict[str, Any] = {
        "auth": auth,
        "login_url": server.url,
        "client_id": config.client_id,
        "ca_bundle": Path(server.ca_path),
        "api_version": API_VERSION,
    }
    if auth in {"client_credentials", "password"}:
        values["client_secret"] = SecretStr(config.client_secret)
    if auth in {"password", "jwt"}:
        values["username"] = config.username
    if auth == "password":
        values["password"] = SecretStr(config.password)
    if auth == "jwt":
        values["private_key"] = SecretStr(
            server.org.certificates.jwt_key.read_text(encoding="utf-8")
        )
    values.update(overrides)
    return SalesforceSettings(**values)


def org_clock(server: OrgServer) -> FixedClock:
    """An injected clock standing at the org's current time."""
    return FixedClock(server.org.clock.now())


_opened: list[SimpleSalesforceGateway] = []


@pytest.fixture(autouse=True)
def _close_gateways() -> Iterator[None]:
    """Close every gateway a test opened, so no connection outlives its test."""
    yield
    while _opened:
        _opened.pop().close()


def open_gateway(server: OrgServer, **overrides: Any) -> SimpleSalesforceGateway:
    """A gateway logged in to ``server`` (closed after the test); ``auth`` picks the flow."""
    auth = overrides.pop("auth", "client_credentials")
    gateway = connect(
        org_settings(server, auth, **overrides),
        org_clock(server),
        retry=ZERO_WAIT,
        bulk_poll_seconds=0,
    )
    _opened.append(gateway)
    return gateway


@pytest.fixture
def gateway(local_org: OrgServer) -> SimpleSalesforceGateway:
    """A gateway logged in with client credentials to the freshly reset local org."""
    return open_gateway(local_org)


def case_keys(server: OrgServer, prefix: str) -> list[str]:
    """Collections keys of the Cases stored in the org (read from its storage, not the API)."""
    keys = [
        str(record.get("Collections_Key__c"))
        for record in server.org.store.records("Case", include_deleted=False)
        if str(record.get("Collections_Key__c") or "").startswith(prefix)
    ]
    return sorted(keys)
