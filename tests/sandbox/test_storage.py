"""The org's SQLite storage: records survive a restart, failed requests leave nothing behind."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from simple_salesforce import Salesforce

from sfsync.clock import FixedClock
from sfsync.errors import ConfigError
from sfsync.sandbox.client import LocalOrgSession
from sfsync.sandbox.org import LocalOrg
from sfsync.sandbox.schema import DEFAULT_PROJECT_DIR, load_schema
from sfsync.sandbox.server import OrgServer, start_local_org
from tests.fixtures.org import API_VERSION, LOGIN_DOMAIN

pytestmark = pytest.mark.org


@contextmanager
def _client(server: OrgServer) -> Iterator[Salesforce]:
    config = server.org.config
    with LocalOrgSession(server.url, server.ca_path) as session:
        yield Salesforce(
            consumer_key=config.client_id,
            consumer_secret=config.client_secret,
            domain=LOGIN_DOMAIN,
            session=session,
            version=API_VERSION,
        )


def test_records_credentials_and_certificates_survive_a_restart(tmp_path: Path) -> None:
    schema = load_schema(DEFAULT_PROJECT_DIR)
    with OrgServer(LocalOrg(tmp_path, schema)) as first, _client(first) as sf:
        account_id = sf.Account.create({"Name": "Acme", "Accounting_Id__c": "C1"})["id"]
        case_number = sf.Case.get(sf.Case.create({"Subject": "x"})["id"])["CaseNumber"]
        sf.Account.update(account_id, {"Industry": "Retail"})
        secret = first.org.config.client_secret
        ca = Path(first.ca_path).read_bytes()

    with OrgServer(LocalOrg(tmp_path, schema)) as second, _client(second) as sf:
        account = sf.Account.get_by_custom_id("Accounting_Id__c", "C1")
        next_number = sf.Case.get(sf.Case.create({"Subject": "y"})["id"])["CaseNumber"]

        assert second.org.config.client_secret == secret
        assert Path(second.ca_path).read_bytes() == ca
        assert (account["Id"], account["Industry"]) == (account_id, "Retail")
        assert int(next_number) == int(case_number) + 1
        assert len(second.org.store.records("User", include_deleted=False)) == 4


def test_private_files_are_owner_only(tmp_path: Path) -> None:
    LocalOrg(tmp_path, load_schema(DEFAULT_PROJECT_DIR)).close()

    for name in ("org.json", "jwt-key.pem", "server-key.pem", "ca-key.pem"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0


def test_a_failed_all_or_none_request_leaves_nothing_on_disk(tmp_path: Path) -> None:
    schema = load_schema(DEFAULT_PROJECT_DIR)
    with OrgServer(LocalOrg(tmp_path, schema)) as server, _client(server) as sf:
        sf.restful(
            "composite/sobjects",
            method="POST",
            json={
                "allOrNone": True,
                "records": [
                    {"attributes": {"type": "Account"}, "Name": "A"},
                    {"attributes": {"type": "Account"}},
                ],
            },
        )

    reopened = LocalOrg(tmp_path, schema)
    try:
        assert reopened.store.records("Account", include_deleted=True) == []
    finally:
        reopened.close()


def test_start_local_org_serves_on_loopback_with_an_injected_clock(tmp_path: Path) -> None:
    clock = FixedClock(datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC))
    server = start_local_org(tmp_path, clock=clock, config_overrides={"api_allocation": 50})
    with server, _client(server) as sf:
        account_id = sf.Account.create({"Name": "Acme"})["id"]

        assert server.url.startswith("https://127.0.0.1:")
        assert sf.Account.get(account_id)["CreatedDate"] == "2026-02-03T04:05:06.000+0000"
        assert sf.limits()["DailyApiRequests"]["Max"] == 50


def test_an_org_json_naming_an_unknown_user_is_a_config_error(tmp_path: Path) -> None:
    schema = load_schema(DEFAULT_PROJECT_DIR)
    LocalOrg(tmp_path, schema).close()
    config = json.loads((tmp_path / "org.json").read_text())
    (tmp_path / "org.json").write_text(json.dumps({**config, "username": "someone@else.com"}))

    with pytest.raises(ConfigError, match=r"someone@else\.com"):
        LocalOrg(tmp_path, schema)
