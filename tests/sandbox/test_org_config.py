"""Orgs started with non-default configuration: an admin's own JWT certificate (in the data
directory or elsewhere) and a token lifetime of their choosing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from simple_salesforce import Salesforce

from sfsync.errors import ConfigError
from sfsync.sandbox.certs import ensure_certificates
from sfsync.sandbox.client import LocalOrgSession
from sfsync.sandbox.server import OrgServer, start_local_org
from tests.fixtures.org import API_VERSION, LOGIN_DOMAIN
from tests.sandbox.certificates import admin_pair

pytestmark = pytest.mark.org

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _jwt_token(server: OrgServer, session: LocalOrgSession, key_path: Path) -> dict[str, object]:
    """The token endpoint's answer to an assertion signed with ``key_path``."""
    config = server.org.config
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assertion = jwt.encode(
        {
            "iss": config.client_id,
            "sub": config.username,
            "aud": "https://login.salesforce.com",
            "exp": int(time.time()) + 180,
        },
        key,  # type: ignore[arg-type]
        algorithm="RS256",
    )
    response = session.post(
        f"{server.url}/services/oauth2/token",
        data={"grant_type": JWT_GRANT, "assertion": assertion},
    )
    return {"status": response.status_code, **response.json()}


def test_a_certificate_dropped_into_the_data_dir_without_its_key_is_kept(tmp_path: Path) -> None:
    data_dir = tmp_path / "org"
    generated = ensure_certificates(data_dir, datetime.now(UTC))
    _, admin_cert = admin_pair(tmp_path / "admin")
    generated.jwt_cert.write_bytes(admin_cert.read_bytes())
    assert generated.jwt_key is not None
    generated.jwt_key.unlink()

    restarted = ensure_certificates(data_dir, datetime.now(UTC))

    assert restarted.jwt_cert.read_bytes() == admin_cert.read_bytes()
    assert restarted.jwt_key is None
    assert not (data_dir / "jwt-key.pem").exists()


def test_a_missing_certificate_is_made_from_the_key_that_is_there(tmp_path: Path) -> None:
    data_dir = tmp_path / "org"
    generated = ensure_certificates(data_dir, datetime.now(UTC))
    assert generated.jwt_key is not None
    key_before = generated.jwt_key.read_bytes()
    generated.jwt_cert.unlink()

    restarted = ensure_certificates(data_dir, datetime.now(UTC))

    key = serialization.load_pem_private_key(key_before, password=None)
    cert = x509.load_pem_x509_certificate(restarted.jwt_cert.read_bytes())
    assert restarted.jwt_key is not None
    assert restarted.jwt_key.read_bytes() == key_before
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]


def test_a_missing_or_unreadable_supplied_certificate_is_a_config_error(tmp_path: Path) -> None:
    not_a_cert = tmp_path / "not-a-cert.pem"
    not_a_cert.write_text("hello", encoding="utf-8")

    with pytest.raises(ConfigError, match="does not exist"):
        ensure_certificates(tmp_path / "org", datetime.now(UTC), tmp_path / "nowhere.pem")
    with pytest.raises(ConfigError, match="not a PEM certificate"):
        ensure_certificates(tmp_path / "org", datetime.now(UTC), not_a_cert)


def test_an_org_pointed_at_the_admins_certificate_trusts_only_the_admins_key(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "org"
    first = start_local_org(data_dir)
    generated_key = first.org.certificates.jwt_key
    first.stop()
    admin_key, admin_cert = admin_pair(tmp_path / "admin")
    cert_before = admin_cert.read_bytes()

    server = start_local_org(data_dir, config_overrides={"jwt_cert": str(admin_cert)})
    session = LocalOrgSession(server.url, server.ca_path)
    try:
        config = server.org.config
        sf = Salesforce(
            username=config.username,
            consumer_key=config.client_id,
            privatekey_file=str(admin_key),
            session=session,
            version=API_VERSION,
        )
        created = sf.Account.create({"Name": "Signed by the admin's key"})
        assert generated_key is not None
        refused = _jwt_token(server, session, generated_key)
    finally:
        session.close()
        server.stop()

    assert created["success"] is True
    assert refused == {
        "status": 400,
        "error": "invalid_grant",
        "error_description": "invalid assertion",
    }
    assert server.org.certificates.jwt_cert == admin_cert
    assert admin_cert.read_bytes() == cert_before


def test_a_configured_token_lifetime_expires_tokens_then_on_the_org_clock(
    tmp_path: Path,
) -> None:
    server = start_local_org(tmp_path / "org", config_overrides={"token_lifetime_seconds": 300})
    server.org.clock.set(datetime(2026, 4, 1, 8, 0, tzinfo=UTC), frozen=True)
    session = LocalOrgSession(server.url, server.ca_path)
    try:
        config = server.org.config
        sf = Salesforce(
            consumer_key=config.client_id,
            consumer_secret=config.client_secret,
            domain=LOGIN_DOMAIN,
            session=session,
            version=API_VERSION,
        )
        limits_url = f"{server.url}/services/data/v{API_VERSION}/limits"
        bearer = {"Authorization": f"Bearer {sf.session_id}"}
        server.org.clock.advance(timedelta(seconds=299))
        still_valid = session.get(limits_url, headers=bearer)
        server.org.clock.advance(timedelta(seconds=2))
        expired = session.get(limits_url, headers=bearer)
    finally:
        session.close()
        server.stop()

    assert still_valid.status_code == 200
    assert expired.status_code == 401
    assert expired.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
