"""``sfsync db ...``: state store migrations.

The URL comes from ``--url``, else ``$SFSYNC_STORE__URL``, else the file ``$SFSYNC_STORE__URL_FILE``
names (the secret-file rule of :mod:`sfsync.settings`, so a container's Docker secret works as
is), else ``sqlite:///var/sfsync.db``.
Passwords in URLs are masked in everything printed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from sfsync.errors import ConfigError
from sfsync.settings import read_secret_setting
from sfsync.store.db import (
    current_revision,
    display_url,
    head_revision,
    parse_url,
    resolve_url,
    upgrade_database,
)

app = typer.Typer(
    help="The state store (SQLite by default, PostgreSQL by URL).", no_args_is_help=True
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help=(
            "Store URL (default: $SFSYNC_STORE__URL, the file $SFSYNC_STORE__URL_FILE names, "
            "or sqlite:///var/sfsync.db)."
        ),
        show_default=False,
    ),
]


def _checked_url(url: str | None) -> str:
    """The resolved URL, or exit 2 with the reason when it is not a supported database URL."""
    try:
        resolved = resolve_url(url or read_secret_setting(("store", "url")))
        parse_url(resolved)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    return resolved


@app.command("upgrade")
def upgrade(url: UrlOption = None) -> None:
    """Create or migrate the store's tables to the newest schema (safe to repeat)."""
    resolved = _checked_url(url)
    upgrade_database(resolved)
    typer.echo(f"{display_url(resolved)} is at revision {current_revision(resolved)} (head)")


@app.command("current")
def current(url: UrlOption = None) -> None:
    """Show the store's schema revision; exit 1 if it is behind the installed sfsync."""
    resolved = _checked_url(url)
    revision, head = current_revision(resolved), head_revision()
    state = "up to date" if revision == head else f"behind head {head}: run sfsync db upgrade"
    typer.echo(f"{display_url(resolved)}: revision {revision or 'none'} ({state})")
    if revision != head:
        raise typer.Exit(1)
