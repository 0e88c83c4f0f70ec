"""OAuth token endpoint flows, documented errors, session expiry and refresh."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from sfsync.sandbox.client import LocalOrgSession
from sfsync.sandbox.server import OrgServer
from tests.fixtures.org import API_VERSION, OrgApi

pytestmark = pytest.mark.org


def _token(session: LocalOrgSession, server: OrgServer, **form: str) -> dict:
    response = session.post(f"{server.url}/services/oauth2/token", data=form)
    return {"status": response.status_code, **response.json()}


def test_client_credentials_token_response_shape(
    local_org: OrgServer, org_session: LocalOrgSession
) -> None:
    config = local_org.org.config
    body = _token(
        org_session,
        local_org,
        grant_type="client_credentials",
        client_id=config.client_id,
        client_secret=config.client_secret,
    )

    assert body["status"] == 200
    assert body["instance_url"] == local_org.url
    assert not body["instance_url"].endswith("/")
    assert body["token_type"] == "Bearer"
    assert body["issued_at"].isdigit()
    assert len(body["issued_at"]) == 13
    assert body["id"] == f"{local_org.url}/id/{local_org.org.org_id}/{local_org.org.user_id}"
    assert body["access_token"].startswith(local_org.org.org_id[:15] + "!")


def test_wrong_client_secret_is_invalid_client(
    local_org: OrgServer, org_session: LocalOrgSession
) -> None:
    body = _token(
        org_session,
        local_org,
        grant_type="client_credentials",
        client_id=local_org.org.config.client_id,
        client_secret="wrong",
    )

    assert body == {
        "status": 400,
        "error": "invalid_client",
        "error_description": "invalid client credentials",
    }


def test_password_flow_and_its_errors(local_org: OrgServer, org_session: LocalOrgSession) -> None:
    config = local_org.org.config
    sf = Salesforce(
        username=config.username,
        password=config.password,
        consumer_key=config.client_id,
        consumer_secret=config.client_secret,
        session=org_session,
        version=API_VERSION,
    )

    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 0
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(
            username=config.username,
            password="wrong",
            consumer_key=config.client_id,
            consumer_secret=config.client_secret,
            session=org_session,
        )
    assert caught.value.code == "invalid_grant"
    assert "authentication failure" in str(caught.value)


def test_unknown_grant_type(local_org: OrgServer, org_session: LocalOrgSession) -> None:
    body = _token(org_session, local_org, grant_type="authorization_code")

    assert body["status"] == 400
    assert body["error"] == "unsupported_grant_type"


def test_jwt_bearer_with_the_connected_app_key(
    local_org: OrgServer, org_session: LocalOrgSession
) -> None:
    config = local_org.org.config
    sf = Salesforce(
        username=config.username,
        consumer_key=config.client_id,
        privatekey_file=str(local_org.org.certificates.jwt_key),
        session=org_session,
        version=API_VERSION,
    )

    assert sf.Account.create({"Name": "Signed"})["success"] is True


def _assertion(local_org: OrgServer, key: object, **claims: object) -> str:
    config = local_org.org.config
    payload = {
        "iss": config.client_id,
        "sub": config.username,
        "aud": "https://login.salesforce.com",
        "exp": int(time.time()) + 180,
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256")  # type: ignore[arg-type]


def test_jwt_signed_by_another_key_is_invalid_grant(
    local_org: OrgServer, org_session: LocalOrgSession
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    body = _token(
        org_session,
        local_org,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(local_org, stranger),
    )

    assert body == {
        "status": 400,
        "error": "invalid_grant",
        "error_description": "invalid assertion",
    }


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"aud": "https://elsewhere.example.com"}, "audience is invalid"),
        ({"exp": 1_000_000}, "expired authorization code"),
        ({"sub": "someone@else.com"}, "user hasn't approved this consumer"),
    ],
)
def test_jwt_claims_are_checked(
    local_org: OrgServer, org_session: LocalOrgSession, claims: dict, description: str
) -> None:
    key = serialization.load_pem_private_key(
        local_org.org.certificates.jwt_key.read_bytes(), password=None
    )

    body = _token(
        org_session,
        local_org,
        grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion=_assertion(local_org, key, **claims),
    )

    assert body["status"] == 400
    assert body["error_description"] == description


def test_tokens_expire_on_the_org_clock(local_org: OrgServer, org_api: OrgApi) -> None:
    local_org.org.clock.advance(timedelta(seconds=local_org.org.config.token_lifetime_seconds + 1))

    response = org_api.call("GET", "limits/")

    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_credential_clients_log_in_again_after_expiry(local_org: OrgServer, sf: Salesforce) -> None:
    account_id = sf.Account.create({"Name": "Acme"})["id"]
    old_token = sf.session_id

    local_org.org.expire_sessions()
    record = sf.Account.get(account_id)

    assert record["Name"] == "Acme"
    assert sf.session_id != old_token


def test_session_id_clients_see_expired_session(
    local_org: OrgServer, sf: Salesforce, org_session: LocalOrgSession
) -> None:
    direct = Salesforce(
        instance_url=local_org.url,
        session_id=sf.session_id,
        session=org_session,
        version=API_VERSION,
    )
    local_org.org.expire_sessions()

    with pytest.raises(SalesforceExpiredSession) as caught:
        direct.query("SELECT Id FROM Account")

    assert caught.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_missing_authorization_is_401(org_api: OrgApi) -> None:
    response = org_api.session.get(org_api.url("limits"))

    assert response.status_code == 401
    assert response.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_soap_login_with_username_password_and_token(
    local_org: OrgServer, org_session: LocalOrgSession
) -> None:
    config = local_org.org.config
    sf = Salesforce(
        username=config.username,
        password=config.password,
        security_token="",
        session=org_session,
        version=API_VERSION,
    )

    assert sf.sf_instance == local_org.url.removeprefix("https://")
    assert sf.query("SELECT COUNT() FROM Case")["totalSize"] == 0
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(
            username=config.username, password="nope", security_token="", session=org_session
        )
    assert caught.value.code == "INVALID_LOGIN"


def test_a_direct_client_with_the_ca_and_no_rewriting(local_org: OrgServer) -> None:
    """The path sfsync's own gateway takes: POST to the org's https login URL, then build the
    client from instance_url and session_id with verify pointed at the org's CA."""
    config = local_org.org.config
    with requests.Session() as session:
        token = session.post(
            f"{local_org.url}/services/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(config.client_id, config.client_secret),
            verify=local_org.ca_path,
            timeout=10,
        ).json()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override session.verify
        session.verify = local_org.ca_path
        sf = Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            session=session,
            version=API_VERSION,
        )

        assert sf.limits()["DailyApiRequests"]["Max"] == config.api_allocation
