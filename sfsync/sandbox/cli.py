"""``sfsync sandbox ...``: run the local Salesforce org."""

from __future__ import annotations

import typer

app = typer.Typer(help="The local Salesforce org (HTTPS, SQLite).", no_args_is_help=True)
