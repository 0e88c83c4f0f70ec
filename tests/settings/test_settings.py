"""load_settings: YAML plus environment, secrets only from env or files, every problem at once."""

from __future__ import annotations

import pickle
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from sfsync.errors import ConfigError
from sfsync.logs import REDACTED, redact_text
from sfsync.settings import (
    ConfigProblem,
    InvalidConfigError,
    file_capable_keys,
    load_settings,
    secret_keys,
)

PEM_KEY = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "-----END PRIVATE KEY-----\n"
)


def write_config(directory: Path, text: str) -> Path:
    """Write an sfsync.yaml into ``directory`` and return its path."""
    path = directory / "sfsync.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[ConfigProblem]:
    """The problems load_settings reports for ``path`` (failing if it loads)."""
    with pytest.raises(InvalidConfigError) as caught:
        load_settings(path)
    return list(caught.value.problems)


def problem_for(problems: list[ConfigProblem], key: str) -> ConfigProblem:
    """The one problem about ``key``."""
    matching = [problem for problem in problems if problem.key == key]
    assert len(matching) == 1, f"expected one problem for {key}, got {problems}"
    return matching[0]


def test_repository_config_loads_as_the_embedded_demo(repo_config: Path) -> None:
    settings = load_settings(repo_config / "sfsync.yaml")

    assert settings.embedded.enabled is True
    assert settings.source.kind == "demo"
    assert settings.store.url == "sqlite:///var/sfsync.db"
    assert settings.salesforce.api_version == "62.0"
    assert settings.salesforce.batch_size == 200
    assert settings.salesforce.api_reserve_fraction == pytest.approx(0.2)
    assert settings.salesforce.bulk_threshold == 2000
    assert settings.sync.interval_seconds == 300


def test_config_path_comes_from_sfsync_config_when_not_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, "sync:\n  interval_seconds: 45\n")
    monkeypatch.setenv("SFSYNC_CONFIG", str(path))

    assert load_settings().sync.interval_seconds == 45


def test_environment_overrides_yaml_with_nested_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        tmp_path,
        """
        store:
          url: sqlite:///var/a.db
        salesforce:
          login_url: https://login.salesforce.com
          timeouts:
            read: 30
        """,
    )
    monkeypatch.setenv("SFSYNC_STORE__URL", "sqlite:///var/b.db")
    monkeypatch.setenv("SFSYNC_SALESFORCE__LOGIN_URL", "https://acme.my.salesforce.com/")
    monkeypatch.setenv("SFSYNC_SALESFORCE__TIMEOUTS__READ", "75")
    monkeypatch.setenv("sfsync_logging__level", "debug")

    settings = load_settings(path)

    assert settings.store.url == "sqlite:///var/b.db"
    assert settings.salesforce.login_url == "https://acme.my.salesforce.com"
    assert settings.salesforce.timeouts.read == pytest.approx(75.0)
    assert settings.logging.level == "DEBUG"


def test_secrets_come_from_environment_and_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        tmp_path,
        """
        salesforce:
          auth: jwt
          login_url: https://acme.my.salesforce.com
          client_id: 3MVG9-consumer-key
          username: integration@acme.example
        store:
          url: postgresql+psycopg://sfsync@db.internal/ar
        embedded:
          enabled: false
        """,
    )
    key_file = tmp_path / "server.key"
    key_file.write_text(PEM_KEY + "\n\n", encoding="utf-8")
    url_file = tmp_path / "store-url"
    url_file.write_text("postgresql+psycopg://sfsync:Pg%40ss-w0rd@db.internal/ar\n")
    monkeypatch.setenv("SFSYNC_SALESFORCE__PRIVATE_KEY_FILE", str(key_file))
    monkeypatch.setenv("SFSYNC_STORE__URL_FILE", str(url_file))
    monkeypatch.setenv("SFSYNC_ALERTS__SMTP__PASSWORD", "smtp-Pa55word!")

    settings = load_settings(path)

    assert settings.salesforce.private_key is not None
    assert settings.salesforce.private_key.get_secret_value() == PEM_KEY.strip()
    assert settings.store.url == "postgresql+psycopg://sfsync:Pg%40ss-w0rd@db.internal/ar"
    assert settings.alerts.smtp.password is not None
    assert settings.alerts.smtp.password.get_secret_value() == "smtp-Pa55word!"
    # Every secret just loaded is masked in any later log line, even without a pattern.
    line = "login with smtp-Pa55word! to db as Pg@ss-w0rd"
    assert redact_text(line) == f"login with {REDACTED} to db as {REDACTED}"
    assert "**********" in repr(settings.alerts.smtp)


def test_secrets_in_yaml_are_errors_naming_the_variable_to_use(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        salesforce:
          client_secret: s3cr3t-value
          private_key_file: /etc/sfsync/server.key
        alerts:
          slack:
            webhook_url: https://hooks.slack.com/services/T000/B000/XXXX
        store:
          url: postgresql+psycopg://ar:hunter22@db/ar
        """,
    )

    problems = problems_of(path)

    secret = problem_for(problems, "salesforce.client_secret")
    assert secret.line == 3
    assert "SFSYNC_SALESFORCE__CLIENT_SECRET_FILE" in secret.fix
    key_file = problem_for(problems, "salesforce.private_key_file")
    assert "SFSYNC_SALESFORCE__PRIVATE_KEY_FILE" in key_file.fix
    webhook = problem_for(problems, "alerts.slack.webhook_url")
    assert webhook.line == 7
    assert "SFSYNC_ALERTS__SLACK__WEBHOOK_URL" in webhook.fix
    url = problem_for(problems, "store.url")
    assert "password" in url.message
    assert "SFSYNC_STORE__URL" in url.fix
    rendered = "\n".join(str(problem) for problem in problems)
    assert "s3cr3t-value" not in rendered
    assert "hunter22" not in rendered
    assert "XXXX" not in rendered


def test_every_problem_is_reported_at_once_with_lines_and_fixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(
        tmp_path,
        """
        source:
          kind: sql
          nmae: erp
        salesforce:
          batch_size: 500
          timeouts:
            read: fast
        logging:
          level: verbose
        syncc:
          interval_seconds: 10
        """,
    )
    monkeypatch.setenv("SFSYNC_SYNC__INTERVAL_SECONDS", "often")
    monkeypatch.setenv("SFSYNC_STORE__URLL", "sqlite:///x.db")
    monkeypatch.setenv("SFSYNC_SALESFORCE__CLIENT_SECRET_FILE", str(tmp_path / "missing"))

    problems = problems_of(path)

    unknown = problem_for(problems, "source.nmae")
    assert (unknown.line, unknown.message) == (4, "unknown key; did you mean source.name?")
    assert problem_for(problems, "syncc").fix == "rename it to sync"
    batch = problem_for(problems, "salesforce.batch_size")
    assert batch.line == 6
    assert batch.fix == "set salesforce.batch_size to a value less than or equal to 200"
    assert problem_for(problems, "salesforce.timeouts.read").line == 8
    level = problem_for(problems, "logging.level")
    assert "'DEBUG', 'INFO', 'WARNING' or 'ERROR'" in level.fix
    interval = problem_for(problems, "SFSYNC_SYNC__INTERVAL_SECONDS")
    assert interval.file == "environment"
    assert interval.fix == "set SFSYNC_SYNC__INTERVAL_SECONDS to a valid integer"
    assert problem_for(problems, "SFSYNC_STORE__URLL").fix == "rename it to SFSYNC_STORE__URL"
    missing_file = problem_for(problems, "SFSYNC_SALESFORCE__CLIENT_SECRET_FILE")
    assert "does not exist" in missing_file.message
    assert all(problem.fix for problem in problems)
    assert len(problems) == 8


def test_a_choice_makes_its_values_required(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        source:
          kind: csv
        alerts:
          smtp:
            host: smtp.example.com
        """,
    )

    problems = problems_of(path)

    assert problem_for(problems, "source.csv.path").line == 2
    assert "from_address" in problem_for(problems, "alerts.smtp.from_address").fix


def test_real_org_requires_the_auth_flows_credentials(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        salesforce:
          auth: client_credentials
          client_id: 3MVG9-consumer-key
        embedded:
          enabled: false
        """,
    )

    problems = problems_of(path)

    secret = problem_for(problems, "salesforce.client_secret")
    assert secret.message == "salesforce.client_secret is required for auth client_credentials"
    assert "SFSYNC_SALESFORCE__CLIENT_SECRET_FILE" in secret.fix
    assert "my.salesforce.com" in problem_for(problems, "salesforce.login_url").fix


def test_embedded_mode_needs_no_salesforce_credentials(tmp_path: Path) -> None:
    path = write_config(tmp_path, "salesforce:\n  auth: jwt\nembedded:\n  enabled: true\n")

    assert load_settings(path).salesforce.private_key is None


def test_invalid_environment_values_name_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, "store:\n  url: sqlite:///var/sfsync.db\n")
    monkeypatch.setenv("SFSYNC_EMBEDDED", "{not json")
    monkeypatch.setenv("SFSYNC_SALESFORCE__LOGIN_URL", "http://login.salesforce.com")
    webhook = tmp_path / "webhook"
    webhook.write_text("hooks.slack.com/services/T000/B000/XXXX")
    monkeypatch.setenv("SFSYNC_ALERTS__SLACK__WEBHOOK_URL_FILE", str(webhook))

    problems = problems_of(path)

    assert "SFSYNC_EMBEDDED__ENABLED" in problem_for(problems, "SFSYNC_EMBEDDED").fix
    login = problem_for(problems, "SFSYNC_SALESFORCE__LOGIN_URL")
    assert login.message == "salesforce.login_url must be an https:// URL"
    hook = problem_for(problems, "SFSYNC_ALERTS__SLACK__WEBHOOK_URL_FILE")
    assert hook.message == "the webhook URL must start with https://"
    assert "XXXX" not in str(hook)


def test_secret_given_twice_or_in_an_empty_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(tmp_path, "{}\n")
    empty = tmp_path / "empty"
    empty.write_text("\n")
    monkeypatch.setenv("SFSYNC_ALERTS__SMTP__PASSWORD", "one-password")
    monkeypatch.setenv("SFSYNC_ALERTS__SMTP__PASSWORD_FILE", str(empty))
    monkeypatch.setenv("SFSYNC_SALESFORCE__PASSWORD_FILE", str(empty))
    monkeypatch.setenv("SFSYNC_SALESFORCE__CLIENT_SECRET", " ")

    problems = problems_of(path)

    both = problem_for(problems, "SFSYNC_ALERTS__SMTP__PASSWORD_FILE")
    assert both.message == (
        "both SFSYNC_ALERTS__SMTP__PASSWORD and SFSYNC_ALERTS__SMTP__PASSWORD_FILE are set"
    )
    assert problem_for(problems, "SFSYNC_SALESFORCE__PASSWORD_FILE").message.endswith("is empty")
    blank = problem_for(problems, "SFSYNC_SALESFORCE__CLIENT_SECRET")
    assert blank.message == "SFSYNC_SALESFORCE__CLIENT_SECRET is set but empty"


def test_yaml_syntax_error_reports_line_and_column(tmp_path: Path) -> None:
    path = write_config(tmp_path, "store:\n  url: sqlite:///x.db\n salesforce:\n  auth: jwt\n")

    (problem,) = problems_of(path)

    assert problem.key == "(syntax)"
    assert problem.line == 3
    assert "column" in problem.message


def test_duplicate_keys_and_non_mapping_files_are_errors(tmp_path: Path) -> None:
    duplicate = write_config(tmp_path, "sync:\n  interval_seconds: 60\n  interval_seconds: 90\n")
    (problem,) = problems_of(duplicate)
    assert (problem.key, problem.line) == ("sync.interval_seconds", 3)

    listed = write_config(tmp_path, "- store\n- salesforce\n")
    (problem,) = problems_of(listed)
    assert "must be a mapping" in problem.message


def test_missing_config_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    (problem,) = problems_of(tmp_path / "nowhere.yaml")

    assert problem.message == "file not found"
    assert "SFSYNC_CONFIG" in problem.fix


def test_config_error_lists_problems_and_survives_pickling(tmp_path: Path) -> None:
    path = write_config(tmp_path, "sync:\n  interval_seconds: 1\n  bogus: 2\n")

    with pytest.raises(ConfigError) as caught:
        load_settings(path)

    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301 - our own object, round trip
    assert isinstance(copy, InvalidConfigError)
    assert copy.problems == caught.value.problems
    assert str(copy).startswith("2 configuration problems:")
    assert f"{path}:2: sync.interval_seconds" in str(copy)


def test_secret_and_file_capable_keys_cover_every_secret_setting() -> None:
    assert secret_keys() == {
        ("salesforce", "client_secret"),
        ("salesforce", "password"),
        ("salesforce", "private_key"),
        ("alerts", "smtp", "password"),
        ("alerts", "slack", "webhook_url"),
        ("alerts", "teams", "webhook_url"),
    }
    assert ("store", "url") in file_capable_keys()


def test_loaded_settings_cannot_be_changed(repo_config: Path) -> None:
    settings = load_settings(repo_config / "sfsync.yaml")

    with pytest.raises(ValidationError, match="frozen"):
        settings.salesforce.batch_size = 10  # type: ignore[misc]


def test_collections_rules_in_sfsync_yaml_point_at_policy_yaml(tmp_path: Path) -> None:
    path = write_config(tmp_path, "escalation:\n  threshold_days: 14\n")

    (problem,) = problems_of(path)

    assert (problem.key, problem.line) == ("escalation", 1)
    assert problem.message == "escalation settings live in policy.yaml, not here"
    assert "docs/escalation.md" in problem.fix


def test_odd_top_level_keys_are_unknown_keys_not_options(tmp_path: Path) -> None:
    path = write_config(tmp_path, "_env_file: .env\n1: one\nsync:\n  interval_seconds: 60\n")

    problems = problems_of(path)

    assert [(problem.key, problem.line, problem.message) for problem in problems] == [
        ("_env_file", 1, "unknown key"),
        ("1", 2, "unknown key"),
    ]


def test_source_layouts_sync_choices_and_alert_routing_load_from_yaml(tmp_path: Path) -> None:
    """The admin shapes the SQL source, the sync and alert routing in sfsync.yaml."""
    path = write_config(
        tmp_path,
        """
        source:
          kind: sql
          name: erp
          sql:
            url: sqlite:///ledger.db
            layout:
              invoices_table: ar_open_items
              status_values: {O: open, C: paid}
              notes_table: collection_notes
        sync:
          create_missing_accounts: true
          dispute_queue: AR_Disputes
        alerts:
          routing:
            managers: {rep@example.com: [lead@example.com]}
            fallback: [ar-lead@example.com]
            digest_time: "07:30"
        """,
    )

    settings = load_settings(path)

    layout = settings.source.sql.layout
    assert (layout.invoices_table, layout.notes_table) == ("ar_open_items", "collection_notes")
    assert layout.status_values["C"] == "paid"
    assert settings.sync.create_missing_accounts is True
    assert settings.sync.dispute_queue == "AR_Disputes"
    assert settings.alerts.routing.fallback == ("ar-lead@example.com",)
    assert settings.alerts.routing.digest_time.hour == 7


def test_mistakes_in_layouts_and_routing_are_reported_with_their_keys(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        """
        source:
          sql:
            layout:
              invoice_table: ar_open_items
        sync:
          dispute_queue: ""
        alerts:
          routing:
            fallbak: [ar-lead@example.com]
        """,
    )

    problems = problems_of(path)

    typo = problem_for(problems, "source.sql.layout.invoice_table")
    assert typo.line == 5
    assert "did you mean source.sql.layout.invoices_table?" in typo.message
    assert problem_for(problems, "sync.dispute_queue").line == 7
    routing = problem_for(problems, "alerts.routing.fallbak")
    assert "did you mean alerts.routing.fallback?" in routing.message
    assert len(problems) == 3
