"""Logs carry run context and never a secret: a realistic flow, and the redaction units."""

from __future__ import annotations

import http.server
import io
import json
import logging
import textwrap
import threading
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import SecretStr

from sfsync.logs import (
    REDACTED,
    bind_run_context,
    clear_registered_secrets,
    clear_run_context,
    configure_logging,
    get_logger,
    is_secret_key,
    redact_secrets,
    redact_text,
    register_secret,
    run_context,
)
from sfsync.settings import load_settings

PRIVATE_KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
PRIVATE_KEY = (
    f"-----BEGIN PRIVATE KEY-----\n{PRIVATE_KEY_BODY}\n"
    "MzKfpMn3yL1W7sGZbN0hNYbUUS4s2ZlVNiQ0yGxV\n-----END PRIVATE KEY-----\n"
)
CLIENT_SECRET = "8C1E4F0D2B6A9E7F3D5C"
SMTP_PASSWORD = "Tr0ub4dor&3-mail"
WEBHOOK_URL = "https://hooks.slack.com/services/T0A1B2C3D/B4E5F6G7H/q8R9s0T1u2V3w4X5"
DB_PASSWORD = "ledger-Pw-77"
ACCESS_TOKEN = "00D5B000000DHvWUAW!AQ4AQFkxM2s7Xyz.PqRsT_uvWx0123456789abcdef"
JWT_ASSERTION = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiIzTVZHOSIsInN1YiI6ImludCJ9.c2lnbmF0dXJl"
SECRETS = (
    PRIVATE_KEY_BODY,
    CLIENT_SECRET,
    SMTP_PASSWORD,
    WEBHOOK_URL,
    "q8R9s0T1u2V3w4X5",
    DB_PASSWORD,
    ACCESS_TOKEN,
    "AQ4AQFkxM2s7Xyz",
    JWT_ASSERTION,
)


@pytest.fixture
def secret_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A real-org configuration whose secrets come from the environment and files."""
    config = tmp_path / "sfsync.yaml"
    config.write_text(
        textwrap.dedent(
            """
            salesforce:
              auth: jwt
              login_url: https://acme.my.salesforce.com
              client_id: 3MVG9-consumer-key
              username: integration@acme.example
            alerts:
              smtp:
                host: smtp.acme.example
                username: ar-robot
                from_address: ar@acme.example
            embedded:
              enabled: false
            """
        ),
        encoding="utf-8",
    )
    key_file = tmp_path / "server.key"
    key_file.write_text(PRIVATE_KEY, encoding="utf-8")
    monkeypatch.setenv("SFSYNC_SALESFORCE__PRIVATE_KEY_FILE", str(key_file))
    monkeypatch.setenv("SFSYNC_SALESFORCE__CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("SFSYNC_ALERTS__SMTP__PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("SFSYNC_ALERTS__SLACK__WEBHOOK_URL", WEBHOOK_URL)
    monkeypatch.setenv(
        "SFSYNC_STORE__URL", f"postgresql+psycopg://sfsync:{DB_PASSWORD}@127.0.0.1:5432/ar"
    )
    return config


def fail(error: Exception) -> None:
    """Raise ``error`` from a frame of its own, as library code would."""
    raise error


def run_realistic_flow(config: Path) -> None:
    """What a sync run logs: settings, OAuth exchange, a failure with a token, library lines."""
    settings = load_settings(config)
    log = get_logger("sfsync.sync")
    bind_run_context(run_id="run-20260126-0001", source="erp", account="C-1042")
    try:
        log.info(
            "settings_loaded",
            salesforce=settings.salesforce.model_dump(),
            store_url=settings.store.url,
        )
        log.info(
            "oauth_token_requested",
            url="https://acme.my.salesforce.com/services/oauth2/token",
            headers={"Authorization": f"Bearer {ACCESS_TOKEN}", "Accept": "application/json"},
            body=(
                "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                f"&assertion={JWT_ASSERTION}"
            ),
        )
        log.info(
            "oauth_token_received",
            response={"access_token": ACCESS_TOKEN, "instance_url": "https://acme.my"},
            raw_reply=json.dumps({"access_token": ACCESS_TOKEN, "token_type": "Bearer"}),
        )
        log.info(
            "request_sent", request=f"GET /services/data\r\nAuthorization: OAuth {CLIENT_SECRET}"
        )
        log.info("key_loaded", pem=PRIVATE_KEY)
        try:
            fail(RuntimeError(f"INVALID_SESSION_ID: session {ACCESS_TOKEN} expired"))
        except RuntimeError:
            log.exception("salesforce_call_failed", object_name="Case")
        try:
            fail(ConnectionError(f"POST {WEBHOOK_URL} failed: smtp login {SMTP_PASSWORD}"))
        except ConnectionError:
            log.warning("alert_send_failed", channel="slack", exc_info=True)
        logging.getLogger("urllib3.connectionpool").warning(
            "Retrying connection to %s after %s",
            f"postgresql://sfsync:{DB_PASSWORD}@127.0.0.1:5432/ar",
            "timeout",
        )
        try:
            fail(ValueError(f"client_secret={CLIENT_SECRET} rejected"))
        except ValueError:
            logging.getLogger("celery.worker").exception("Task failed")
        log.info("sync_run_finished", cases_opened=3, tasks_created=7, api_calls=12)
    finally:
        clear_run_context()


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_realistic_flow_logs_no_secret(secret_environment: Path, fmt: str) -> None:
    stream = io.StringIO()
    configure_logging("DEBUG", "json" if fmt == "json" else "console", stream)

    run_realistic_flow(secret_environment)

    output = stream.getvalue()
    for secret in SECRETS:
        assert secret not in output
    assert output.count(REDACTED) >= 10
    assert "sync_run_finished" in output
    assert "run-20260126-0001" in output
    assert "Retrying connection to postgresql://sfsync:" in output
    assert "INVALID_SESSION_ID" in output
    assert "Traceback" in output


def test_json_lines_carry_run_context_level_and_utc_time(secret_environment: Path) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)

    run_realistic_flow(secret_environment)

    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_name = {event["event"]: event for event in events}
    finished = by_name["sync_run_finished"]
    assert finished["run_id"] == "run-20260126-0001"
    assert (finished["source"], finished["account"]) == ("erp", "C-1042")
    assert finished["level"] == "info"
    assert finished["timestamp"].endswith("Z")
    assert finished["api_calls"] == 12
    failed = by_name["salesforce_call_failed"]
    assert failed["level"] == "error"
    assert "RuntimeError: INVALID_SESSION_ID: session [REDACTED] expired" in failed["exception"]
    assert by_name["oauth_token_requested"]["headers"]["Authorization"] == REDACTED
    assert by_name["settings_loaded"]["salesforce"]["client_secret"] == REDACTED
    assert by_name["settings_loaded"]["salesforce"]["client_id"] == "3MVG9-consumer-key"
    library = by_name[
        "Retrying connection to postgresql://sfsync:[REDACTED]@127.0.0.1:5432/ar after timeout"
    ]
    assert library["logger"] == "urllib3.connectionpool"
    assert library["run_id"] == "run-20260126-0001"
    assert by_name["Task failed"]["exception"].endswith(f"client_secret={REDACTED} rejected")


def test_console_lines_show_context_for_people(secret_environment: Path) -> None:
    stream = io.StringIO()
    configure_logging("INFO", "console", stream)

    run_realistic_flow(secret_environment)

    finished = next(line for line in stream.getvalue().splitlines() if "sync_run_finished" in line)
    assert "run_id=run-20260126-0001" in finished
    assert "account=C-1042" in finished
    assert "tasks_created=7" in finished
    assert "{" not in finished


def test_configuring_twice_writes_each_line_once_to_the_latest_stream() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("INFO", "json", first)
    configure_logging("INFO", "json", second)

    get_logger("sfsync.test").info("case_opened", case_key="erp:C-1:1")

    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


def test_level_filters_both_structlog_and_library_lines() -> None:
    stream = io.StringIO()
    configure_logging("WARNING", "json", stream)

    get_logger("sfsync.test").info("case_opened")
    logging.getLogger("sqlalchemy.engine").info("SELECT 1")
    get_logger("sfsync.test").warning("budget_low", remaining=10)

    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events == ["budget_low"]


def test_auto_format_is_json_when_not_a_terminal() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "auto", stream)

    get_logger("sfsync.test").info("run_started")

    assert json.loads(stream.getvalue())["event"] == "run_started"


class _Terminal(io.StringIO):
    """A captured stream that says it is a terminal, as a console session's stderr does."""

    def isatty(self) -> bool:
        return True


def test_auto_format_is_the_console_on_a_terminal_and_still_redacts() -> None:
    stream = _Terminal()
    configure_logging("INFO", "auto", stream)

    get_logger("sfsync.test").info("run_started", client_secret=CLIENT_SECRET, account="C-1")

    line = stream.getvalue()
    assert "run_started" in line
    assert "account" in line
    assert CLIENT_SECRET not in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level 'LOUD'"):
        configure_logging("LOUD", "json", io.StringIO())


def test_run_context_is_scoped_to_the_block() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    log = get_logger("sfsync.test")

    with run_context(run_id="r-1", source="erp"):
        log.info("inside")
    log.info("outside")

    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (inside["run_id"], inside["source"]) == ("r-1", "erp")
    assert "account" not in inside
    assert "run_id" not in outside


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-123", f"Authorization: Bearer {REDACTED}"),
        ("{'authorization': 'Basic dXNlcjpwYXNz'}", f"{{'authorization': '{REDACTED}'}}"),
        ("sent bearer 0123456789abcdef", f"sent bearer {REDACTED}"),
        ("X-SFDC-Session: 00D000000000001!AQcAQH0dMHZfz972", f"X-SFDC-Session: {REDACTED}"),
        ("redis://:p4ss@127.0.0.1:6379/0", f"redis://:{REDACTED}@127.0.0.1:6379/0"),
        ("postgresql://ar:pw@db/ar", f"postgresql://ar:{REDACTED}@db/ar"),
        ("token eyJhbGciOi.eyJzdWIiOi.sig-_x", f"token {REDACTED}"),
        ("a=1&client_secret=xyz&b=2", f"a=1&client_secret={REDACTED}&b=2"),
        ('{"access_token": "tok", "x": 1}', f'{{"access_token": "{REDACTED}", "x": 1}}'),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY----- done",
            f"{REDACTED} done",
        ),
        ("cut: -----BEGIN PRIVATE KEY-----\nAAAA", f"cut: {REDACTED}"),
    ],
)
def test_value_patterns_are_masked(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "case_upserted Collections_Key__c=erp:C-1042:1 account=001000000000001AAA",
        "https://acme.my.salesforce.com/services/data/v62.0/query?q=SELECT+Id+FROM+Case",
        "token bucket refilled; password policy unchanged",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_secret_key_names_are_masked_recursively() -> None:
    event = {
        "event": "request_sent",
        "headers": {"Authorization": "anything", "Content-Type": "application/json"},
        "items": [{"password": "x"}, {"name": "ok"}],
        "smtp_password": "p",
        "slack_webhook_url": "u",
        "idempotency_key": "case:1",
        "client_secret": None,
        "secret": SecretStr("hidden"),
    }

    redacted = redact_secrets(None, "info", event)

    assert redacted == {
        "event": "request_sent",
        "headers": {"Authorization": REDACTED, "Content-Type": "application/json"},
        "items": [{"password": REDACTED}, {"name": "ok"}],
        "smtp_password": REDACTED,
        "slack_webhook_url": REDACTED,
        "idempotency_key": "case:1",
        "client_secret": None,
        "secret": REDACTED,
    }


def test_secret_key_names() -> None:
    assert all(
        is_secret_key(name)
        for name in ("Password", "access_token", "X-SFDC-Session", "sid", "private_key", "Cookie")
    )
    assert not any(
        is_secret_key(name) for name in ("collections_key", "account", "token_count", "event")
    )


def test_registered_secret_is_masked_in_any_form() -> None:
    register_secret(SecretStr("plain value/with+chars"))
    register_secret("abc")  # too short to mask safely: patterns still apply

    text = "a plain value/with+chars b plain%20value%2Fwith%2Bchars c plain+value%2Fwith%2Bchars"

    assert redact_text(text) == f"a {REDACTED} b {REDACTED} c {REDACTED}"
    assert redact_text("abc") == "abc"


SECRET_ALPHABET = st.characters(
    codec="utf-8", exclude_categories=("Cs", "Cc", "Zs"), exclude_characters="[]"
)


@hypothesis_settings(database=None, derandomize=True, max_examples=200)
@given(
    secret=st.text(SECRET_ALPHABET, min_size=4, max_size=40).filter(
        lambda value: value.strip() == value and value not in REDACTED
    ),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_a_registered_secret_never_survives_redaction(secret: str, before: str, after: str) -> None:
    register_secret(secret)
    try:
        assert secret not in redact_text(f"{before}{secret}{after}")
    finally:
        clear_registered_secrets()


def test_task_identity_joins_the_run_context_until_cleared() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream)
    log = get_logger("sfsync.jobs")

    bind_run_context(account="C-7", task="sfsync.sync_shard", task_id="b1f", run_id=None)
    log.info("shard_synced")
    clear_run_context()
    log.info("worker_idle")

    synced, idle = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (synced["account"], synced["task"], synced["task_id"]) == (
        "C-7",
        "sfsync.sync_shard",
        "b1f",
    )
    assert "run_id" not in synced
    assert not {"account", "task", "task_id"} & set(idle)


def test_a_webhook_secret_in_urllib3_debug_lines_is_masked() -> None:
    """urllib3 logs the host and the request path apart: the path alone must be masked too."""

    class Quiet(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """The test server stays silent."""

    server = http.server.HTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    secret_path = "/services/T0A1B2C3D/B4E5F6G7H/q8R9s0T1u2V3w4X5"
    url = f"http://127.0.0.1:{server.server_port}{secret_path}?sig=Zx81Kq0PlMnB7vCx"
    stream = io.StringIO()
    try:
        configure_logging("DEBUG", "json", stream)
        register_secret(SecretStr(url))
        requests.post(url, json={"text": "stale cases"}, timeout=(2, 5))
    finally:
        server.shutdown()
        server.server_close()
        clear_registered_secrets()

    output = stream.getvalue()
    assert "POST" in output, "urllib3 wrote no debug line: the test would prove nothing"
    assert "q8R9s0T1u2V3w4X5" not in output
    assert "Zx81Kq0PlMnB7vCx" not in output
    assert REDACTED in output
