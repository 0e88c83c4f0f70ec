"""``sfsync sandbox serve`` as a real subprocess: it prints how to reach it, then serves."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from simple_salesforce import Salesforce

from sfsync.sandbox.client import LocalOrgSession
from tests.fixtures.org import API_VERSION, LOGIN_DOMAIN
from tests.fixtures.services import free_port
from tests.sandbox.certificates import admin_pair

pytestmark = pytest.mark.org

REQUIRED_KEYS = ("instance_url", "ca_cert", "client_id", "client_secret", "username", "password")


def _read_banner(process: subprocess.Popen[str]) -> dict[str, str]:
    """Lines of ``key: value`` up to ``ready`` (bounded by the number of lines, not by time)."""
    banner: dict[str, str] = {}
    assert process.stdout is not None
    for _ in range(50):
        line = process.stdout.readline()
        if not line or line.strip() == "ready":
            break
        key, _, value = line.partition(": ")
        banner[key.strip()] = value.strip()
    return banner


@contextmanager
def _serving(data: Path, *options: str) -> Iterator[tuple[int, dict[str, str], LocalOrgSession]]:
    """``sfsync sandbox serve`` in a subprocess on a free port: its port, banner and a session
    trusting its CA; stopped (and every handle closed) on exit."""
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from sfsync.cli import main; main()",
        "sandbox",
        "serve",
        "--port",
        str(port),
        "--data",
        str(data),
        *options,
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    session: LocalOrgSession | None = None
    try:
        banner = _read_banner(process)
        session = LocalOrgSession(banner["instance_url"], banner["ca_cert"])
        yield port, banner, session
    finally:
        if session is not None:
            session.close()
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_serve_prints_credentials_and_answers_a_login_and_query(tmp_path: Path) -> None:
    with _serving(tmp_path) as (port, banner, session):
        assert all(key in banner for key in REQUIRED_KEYS), banner
        assert banner["instance_url"] == f"https://127.0.0.1:{port}"
        sf = Salesforce(
            consumer_key=banner["client_id"],
            consumer_secret=banner["client_secret"],
            domain=LOGIN_DOMAIN,
            session=session,
            version=API_VERSION,
        )
        sf.Account.create({"Name": "From the CLI"})
        assert sf.query("SELECT Name FROM Account")["records"][0]["Name"] == "From the CLI"
        assert (tmp_path / "org.sqlite3").exists()


def test_serve_with_jwt_cert_trusts_the_admins_certificate(tmp_path: Path) -> None:
    admin_key, admin_cert = admin_pair(tmp_path / "admin")
    with _serving(tmp_path / "org", "--jwt-cert", str(admin_cert)) as (_, banner, session):
        assert banner["jwt_cert"] == str(admin_cert.resolve())
        assert banner["jwt_private_key"] == "(not held by the org)"
        sf = Salesforce(
            username=banner["username"],
            consumer_key=banner["client_id"],
            privatekey_file=str(admin_key),
            session=session,
            version=API_VERSION,
        )
        assert sf.Account.create({"Name": "Signed by the admin"})["success"] is True
