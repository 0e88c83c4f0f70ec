"""Logging in to the local org over HTTPS with each flow, and the errors an admin sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from sfsync.errors import ConfigError
from sfsync.salesforce.client import connect
from sfsync.salesforce.ports import SalesforceGateway
from sfsync.sandbox.server import OrgServer
from tests.gateway.conftest import ZERO_WAIT, open_gateway, org_clock, org_settings

pytestmark = pytest.mark.org


@pytest.mark.parametrize("auth", ["jwt", "client_credentials", "password"])
def test_each_flow_logs_in_with_one_token_request_and_queries(
    local_org: OrgServer, auth: str
) -> None:
    gateway = open_gateway(local_org, auth=auth)

    rows = list(gateway.query("SELECT Id, Name FROM Organization"))

    assert [row["Name"] for row in rows] == [local_org.org.config.org_name]
    assert (gateway.calls.auth, gateway.calls.read, gateway.calls.write) == (1, 1, 0)
    assert gateway.calls_used == 2


@pytest.mark.parametrize(
    ("auth", "override", "expected"),
    [
        ("client_credentials", {"client_secret": SecretStr("wrong-secret")}, "invalid_client"),
        ("client_credentials", {"client_id": "3MVG9unknown"}, "invalid_client_id"),
        ("password", {"password": SecretStr("not-the-password")}, "invalid_grant"),
        ("jwt", {"username": "someone.else@example.com"}, "invalid_grant"),
    ],
)
def test_refused_login_is_a_config_error_with_a_fix(
    local_org: OrgServer, auth: str, override: dict[str, object], expected: str
) -> None:
    settings = org_settings(local_org, auth, **override)

    with pytest.raises(ConfigError, match=expected) as raised:
        connect(settings, org_clock(local_org), retry=ZERO_WAIT)

    assert "fix:" in str(raised.value)


def test_jwt_signed_with_a_stale_clock_is_refused(local_org: OrgServer) -> None:
    clock = org_clock(local_org)
    clock.advance(-timedelta(hours=1))

    with pytest.raises(ConfigError, match=r"invalid_grant.*expired"):
        connect(org_settings(local_org, "jwt"), clock, retry=ZERO_WAIT)


def test_jwt_with_a_key_that_is_not_rsa_is_a_config_error(local_org: OrgServer) -> None:
    not_rsa = SecretStr("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    settings = org_settings(local_org, "jwt", private_key=not_rsa)

    with pytest.raises(ConfigError, match="private_key"):
        connect(settings, org_clock(local_org), retry=ZERO_WAIT)


def test_missing_secret_names_the_variable(local_org: OrgServer) -> None:
    settings = org_settings(local_org, "client_credentials", client_secret=None)

    with pytest.raises(ConfigError, match="SFSYNC_SALESFORCE__CLIENT_SECRET_FILE"):
        connect(settings, org_clock(local_org), retry=ZERO_WAIT)


def test_wrong_ca_bundle_is_a_config_error(local_org: OrgServer, tmp_path: object) -> None:
    from pathlib import Path  # noqa: PLC0415 - local to this test

    other_ca = Path(str(tmp_path)) / "other-ca.pem"
    other_ca.write_text(local_org.org.certificates.jwt_cert.read_text(encoding="utf-8"))
    settings = org_settings(local_org, ca_bundle=other_ca)

    with pytest.raises(ConfigError, match=r"salesforce\.ca_bundle"):
        connect(settings, org_clock(local_org), retry=ZERO_WAIT)


def test_no_secret_reaches_the_logs_in_any_flow(local_org: OrgServer) -> None:
    config = local_org.org.config
    with capture_logs() as logs:
        tokens = []
        for auth in ("jwt", "client_credentials", "password"):
            gateway = open_gateway(local_org, auth=auth)
            tokens.append(gateway._sf().session_id)
            local_org.org.expire_sessions()
            list(gateway.query("SELECT Id FROM Organization"))
        with pytest.raises(ConfigError):
            open_gateway(local_org, client_secret=SecretStr("wrong-" + config.client_secret))

    text = repr(logs)
    assert any(entry["event"] == "salesforce_session_refreshed" for entry in logs)
    secrets = [config.client_secret, config.password, *tokens]
    key_lines = local_org.org.certificates.jwt_key.read_text(encoding="utf-8").splitlines()
    secrets.extend(line for line in key_lines if len(line) > 20 and "-----" not in line)
    assert not [secret for secret in secrets if secret in text]


def test_the_gateway_names_the_org_it_logged_in_to_for_record_links(
    local_org: OrgServer,
) -> None:
    """Case links need the org's own URL: the token's instance URL, not the login URL."""
    gateway = open_gateway(local_org)

    assert isinstance(gateway, SalesforceGateway)
    assert gateway.instance_url == local_org.url
    assert not gateway.instance_url.endswith("/")
    assert gateway.calls.auth == 1  # known since the login: no request to ask for it
