"""An org configured with its own Case statuses (``org.json`` ``case_statuses``): the CaseStatus
rows say which close a Case, and a Case set to one of them is closed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sfsync.clock import SystemClock
from sfsync.errors import ConfigError
from sfsync.sandbox.config import generate_config, save_config
from sfsync.sandbox.server import start_local_org
from tests.fixtures.gateways import org_gateway

pytestmark = pytest.mark.org

RESOLVED_ORG = [
    {"label": "New", "default": True},
    {"label": "Working"},
    {"label": "Resolved", "closed": True},
]


def test_org_json_case_statuses_are_seeded_and_decide_is_closed(tmp_path: Path) -> None:
    data_dir = tmp_path / "org"
    save_config(data_dir, replace(generate_config(), case_statuses=RESOLVED_ORG))
    server = start_local_org(data_dir)
    gateway = org_gateway(server, SystemClock())
    try:
        statuses = {
            row["MasterLabel"]: (row["IsClosed"], row["IsDefault"])
            for row in gateway.query("SELECT MasterLabel, IsClosed, IsDefault FROM CaseStatus")
        }
        [created] = gateway.create("Case", [{"Subject": "x", "Status": "Resolved"}])
        assert created.ok, created
        [case] = gateway.query(f"SELECT Status, IsClosed FROM Case WHERE Id = '{created.id}'")  # noqa: S608 - an id the org returned
    finally:
        gateway.close()
        server.stop()

    assert statuses == {
        "New": (False, True),
        "Working": (False, False),
        "Resolved": (True, False),
    }
    assert (case["Status"], case["IsClosed"]) == ("Resolved", True)


@pytest.mark.parametrize(
    ("statuses", "message"),
    [
        ([{"label": "New", "default": True}], "at least one status must be closed"),
        ([{"label": "Done", "closed": True}], "exactly one status must be the default"),
        (
            [{"label": "New", "default": True}, {"label": "New", "closed": True}],
            "labels repeat",
        ),
        ([{"closed": True, "default": True}], "needs a non-empty label"),
    ],
)
def test_unusable_case_statuses_are_refused_before_the_org_opens(
    tmp_path: Path, statuses: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        start_local_org(tmp_path / "org", config_overrides={"case_statuses": statuses})
    assert not (tmp_path / "org" / "org.sqlite3").exists()
