"""The local org's configuration (``org.json`` in its data directory): credentials, token
lifetime, API allocation and the admin token.

Generated with random secrets on first start and kept (mode 0600), so a restarted org accepts the
same credentials. Command-line options override single values for one run.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_API_ALLOCATION = 15_000
DEFAULT_TOKEN_LIFETIME_SECONDS = 7_200


@dataclass(frozen=True)
class OrgConfig:
    """What clients need to log in, and the org's own knobs."""

    client_id: str
    client_secret: str
    username: str
    password: str
    admin_token: str
    token_lifetime_seconds: int = DEFAULT_TOKEN_LIFETIME_SECONDS
    api_allocation: int = DEFAULT_API_ALLOCATION
    org_name: str = "sfsync Local Org"
    jwt_cert: str | None = None
    """An admin's own connected-app certificate file; None trusts the data dir's jwt-cert.pem."""
    case_statuses: list[dict[str, Any]] | None = None
    """The Case statuses to seed a new org with, in order: ``{"label": "Resolved", "closed":
    true, "default": false}``; None seeds New, Working, Escalated and Closed. Real orgs name
    their closed status as they like, so tests can give this org another one."""

    def with_overrides(self, **overrides: Any) -> OrgConfig:
        """A copy with the given values replaced (None means keep)."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


def generate_config() -> OrgConfig:
    """Fresh credentials; nothing guessable."""
    return OrgConfig(
        client_id="3MVG9local" + secrets.token_urlsafe(24).replace("-", "x").replace("_", "y"),
        client_secret=secrets.token_hex(32),
        username="integration@sfsync.local",
        password=secrets.token_urlsafe(18),
        admin_token=secrets.token_urlsafe(24),
    )


def load_or_create_config(data_dir: Path) -> OrgConfig:
    """Read ``org.json``, creating it (0600) on first start."""
    path = data_dir / "org.json"
    if path.exists():
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(OrgConfig)}
        return OrgConfig(**{k: v for k, v in raw.items() if k in known})
    config = generate_config()
    save_config(data_dir, config)
    return config


def save_config(data_dir: Path, config: OrgConfig) -> None:
    """Write ``org.json`` readable by its owner only."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "org.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(asdict(config), handle, indent=2)
