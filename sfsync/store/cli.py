"""``sfsync db ...``: state store migrations."""

from __future__ import annotations

import typer

app = typer.Typer(help="The state store (SQLite by default, PostgreSQL by URL).", no_args_is_help=True)
