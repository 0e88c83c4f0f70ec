"""``sfsync mappings check``, ``sfsync org check`` and ``sfsync plan`` through the real command
line, against the local org over HTTPS with the real gateway."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from simple_salesforce import Salesforce
from typer.testing import CliRunner

from sfsync.cli import app
from sfsync.sandbox.schema import DEFAULT_PROJECT_DIR
from sfsync.sandbox.server import OrgServer, start_local_org
from tests.mappers.conftest import REPO_CONFIG
from tests.mappers.test_validate import BROKEN

pytestmark = pytest.mark.org

WRITTEN = ("Case", "Task", "AR_Invoice__c")


def write_config(directory: Path, server: OrgServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """sfsync.yaml (plus policy.yaml and mappings.yaml) pointing at ``server``; the client
    secret comes from the environment, as in production."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("policy.yaml", "mappings.yaml"):
        shutil.copy(REPO_CONFIG / name, directory / name)
    config = server.org.config
    settings = {
        "source": {"kind": "demo"},
        "salesforce": {
            "auth": "client_credentials",
            "login_url": server.url,
            "client_id": config.client_id,
            "ca_bundle": server.ca_path,
            "api_version": "59.0",
        },
        "logging": {"level": "WARNING", "format": "json"},
        "embedded": {"enabled": False},
    }
    path = directory / "sfsync.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    monkeypatch.setenv("SFSYNC_SALESFORCE__CLIENT_SECRET", config.client_secret)
    return path


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def config_path(tmp_path: Path, local_org: OrgServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    return write_config(tmp_path / "config", local_org, monkeypatch)


def api_requests(server: OrgServer) -> int:
    """The org's own count of API requests (what DailyApiRequests reports)."""
    limits = server.org.limits_body()["DailyApiRequests"]
    return int(limits["Max"]) - int(limits["Remaining"])


def record_count(server: OrgServer) -> dict[str, int]:
    return {name: len(server.org.store.records(name, include_deleted=True)) for name in WRITTEN}


def test_mappings_check_passes_for_the_shipped_mapping(
    runner: CliRunner, config_path: Path
) -> None:
    result = runner.invoke(app, ["mappings", "check", "-c", str(config_path)])

    assert result.exit_code == 0, result.output
    assert "mappings OK" in result.stdout


def test_mappings_check_lists_every_problem_of_a_broken_mapping_and_exits_1(
    runner: CliRunner, config_path: Path
) -> None:
    mappings = config_path.with_name("mappings.yaml")
    mappings.write_text(BROKEN.lstrip("\n"), encoding="utf-8")

    result = runner.invoke(app, ["mappings", "check", "-c", str(config_path)])

    assert result.exit_code == 1, result.output
    assert "16 configuration problems:" in result.stdout
    for line, key, fix in [
        (5, "case.external_id", "tick 'External ID' and 'Unique'"),
        (8, "case.Past_Due_Amnt__c", "did you mean Past_Due_Amount__c?"),
        (9, "case.Next_Action_Date__c", "map a date source"),
        (10, "case.IsClosed", "Salesforce computes it"),
        (11, "case.Origin", "use one of Phone, Email, Web"),
        (13, "case.Collections_Currency__c", "shorten it, or add truncate"),
        (14, "case.Aging_1_30__c", "did you mean round_money?"),
        (16, "task.sobject", "check the API name"),
    ]:
        assert f"{mappings}:{line}  {key}" in result.stdout
        assert fix in result.stdout


def test_a_yaml_syntax_error_is_reported_alone_before_the_org_is_contacted(
    runner: CliRunner, config_path: Path, local_org: OrgServer
) -> None:
    mappings = config_path.with_name("mappings.yaml")
    text = mappings.read_text(encoding="utf-8")
    mappings.write_text(text.replace("{source: subject,", "{source: subject", 1), encoding="utf-8")
    before = api_requests(local_org)

    result = runner.invoke(app, ["mappings", "check", "-c", str(config_path)])

    assert result.exit_code == 1, result.output
    assert "1 configuration problem:" in result.stdout
    assert re.search(rf"{re.escape(str(mappings))}:\d+  \(syntax\)", result.stdout)
    assert "invalid YAML" in result.stdout
    assert api_requests(local_org) == before


def test_org_check_passes_on_the_shipped_metadata(runner: CliRunner, config_path: Path) -> None:
    result = runner.invoke(app, ["org", "check", "-c", str(config_path)])

    assert result.exit_code == 0, result.output
    assert "org OK" in result.stdout


@pytest.fixture
def broken_org(tmp_path: Path) -> Iterator[OrgServer]:
    """A local org deployed from a copy of salesforce/ with three admin mistakes."""
    project = tmp_path / "salesforce"
    shutil.copytree(DEFAULT_PROJECT_DIR, project)
    objects = project / "force-app" / "main" / "default" / "objects"
    (objects / "Case" / "fields" / "Past_Due_Amount__c.field-meta.xml").unlink()
    shutil.rmtree(objects / "Case" / "listViews")  # they show the deleted field
    grants = project / "force-app" / "main" / "default" / "permissionsets"
    permission_set = grants / "sfsync_Integration.permissionset-meta.xml"
    permission_set.write_text(
        re.sub(
            r"<fieldPermissions>\s*<editable>true</editable>\s*"
            r"<field>Case.Past_Due_Amount__c</field>.*?</fieldPermissions>",
            "",
            permission_set.read_text(encoding="utf-8"),
            flags=re.DOTALL,
        ),
        encoding="utf-8",
    )
    key = objects / "AR_Invoice__c" / "fields" / "Invoice_Key__c.field-meta.xml"
    key.write_text(
        key.read_text(encoding="utf-8").replace("<unique>true</unique>", "<unique>false</unique>"),
        encoding="utf-8",
    )
    outcome = objects / "Activity" / "fields" / "Collections_Outcome__c.field-meta.xml"
    outcome.write_text(
        re.sub(
            r"<value>\s*<fullName>Payment Plan</fullName>.*?</value>",
            "",
            outcome.read_text(encoding="utf-8"),
            flags=re.DOTALL,
        ),
        encoding="utf-8",
    )
    server = start_local_org(tmp_path / "org", project_dir=project)
    yield server
    server.stop()


def test_org_check_lists_what_the_org_lacks_and_exits_1(
    runner: CliRunner, broken_org: OrgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_path = write_config(tmp_path / "config", broken_org, monkeypatch)

    result = runner.invoke(app, ["org", "check", "-c", str(config_path)])

    assert result.exit_code == 1, result.output
    assert "3 configuration problems:" in result.stdout
    assert "Case.Past_Due_Amount__c" in result.stdout
    assert "required field is missing or not visible" in result.stdout
    assert "AR_Invoice__c.Invoice_Key__c" in result.stdout
    assert "is not a unique external id" in result.stdout
    assert "picklist lacks the outcome value Payment Plan" in result.stdout


def _plan_table(out: str) -> dict[str, tuple[int, int, int]]:
    return {
        match["name"]: (int(match["create"]), int(match["update"]), int(match["close"]))
        for match in re.finditer(
            r"│ (?P<name>\w+) +│ +(?P<create>\d+) │ +(?P<update>\d+) │ +(?P<close>\d+) │", out
        )
    }


def _unmatched(out: str) -> list[str]:
    """Customer ids ``sfsync plan`` lists as having no Account."""
    _, _, listing = out.partition("Customers without an Account")
    return re.findall(r"^  (CUST-\S+)  ", listing, re.MULTILINE)


def test_plan_prints_counts_and_mapped_samples_and_writes_nothing(
    config_path: Path,
    local_org: OrgServer,
    sf: Salesforce,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the demo source builds its ledger under ./var
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    first = runner.invoke(app, ["plan", "-c", str(config_path)])
    assert first.exit_code == 0, first.output
    # No demo customer has an Account yet: every one is listed, nothing is counted.
    unmatched = _unmatched(first.stdout)
    assert len(unmatched) > 5
    assert all(creates == 0 for creates, _, _ in _plan_table(first.stdout).values())
    made = unmatched[:5]
    for customer in made:
        sf.Account.create({"Name": f"Demo {customer}", "Accounting_Id__c": customer})
    before, requests_before = record_count(local_org), api_requests(local_org)

    result = runner.invoke(app, ["plan", "-c", str(config_path)])

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert re.search(r"sfsync plan for source demo as of \d{4}-\d{2}-\d{2}", out)
    counts = _plan_table(out)
    assert set(counts) == set(WRITTEN)
    assert counts["Case"][0] >= len(made)
    assert all(create > 0 for create, _, _ in counts.values())
    assert sorted(_unmatched(out)) == sorted(set(unmatched) - set(made))
    assert "Sample Case create (3):" in out
    assert "'Collections_Key__c': 'demo:CUST-" in out
    assert "'Accounting_Id__c': 'CUST-" in out
    assert "Sample AR_Invoice__c create (3):" in out
    assert re.search(r"Salesforce calls: [1-9]\d* reads, 0 writes", out)
    assert record_count(local_org) == before
    assert api_requests(local_org) > requests_before
    assert (tmp_path / "var" / "demo-ledger.sqlite").is_file()
    assert not (tmp_path / "var" / "sfsync.db").exists()  # the store is read, never created


def test_plan_refuses_a_mapping_that_does_not_fit_the_org(
    runner: CliRunner, config_path: Path
) -> None:
    config_path.with_name("mappings.yaml").write_text(BROKEN.lstrip("\n"), encoding="utf-8")

    result = runner.invoke(app, ["plan", "-c", str(config_path)])

    assert result.exit_code == 1
    assert "16 configuration problems:" in result.stdout
    assert "Planned changes" not in result.stdout


def test_in_embedded_mode_the_checks_run_against_the_local_org_they_start(
    runner: CliRunner, tmp_path: Path
) -> None:
    directory = tmp_path / "config"
    directory.mkdir()
    for name in ("policy.yaml", "mappings.yaml"):
        shutil.copy(REPO_CONFIG / name, directory / name)
    settings = {
        "logging": {"level": "WARNING", "format": "json"},
        "embedded": {"enabled": True, "data_dir": str(tmp_path / "org")},
    }
    config_path = directory / "sfsync.yaml"
    config_path.write_text(yaml.safe_dump(settings), encoding="utf-8")

    mappings = runner.invoke(app, ["mappings", "check", "-c", str(config_path)])
    org = runner.invoke(app, ["org", "check", "-c", str(config_path)])

    assert (mappings.exit_code, org.exit_code) == (0, 0), mappings.output + org.output
    assert (tmp_path / "org").is_dir()
