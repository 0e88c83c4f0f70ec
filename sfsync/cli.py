"""The ``sfsync`` command. Thin: parse arguments, build dependencies, call one function."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sfsync.sandbox.cli import app as sandbox_app
from sfsync.store.cli import app as db_app

app = typer.Typer(
    name="sfsync",
    help="Keep collections work (Cases, Tasks, invoices, promises) inside Salesforce.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Configuration: check it before switching anything on.", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(db_app, name="db")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Path to sfsync.yaml (default: $SFSYNC_CONFIG or config/sfsync.yaml)."),
]


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate config/ and report every error at once, with file, key and fix."""
    from sfsync.settings import run_config_check

    raise typer.Exit(run_config_check(config))


@app.command("demo")
def demo(config: ConfigOption = None) -> None:
    """Run the main job on the embedded default (bundled demo ledger)."""
    from sfsync.demo import run_demo

    raise typer.Exit(run_demo(config))


def main() -> None:
    """Console-script entry point."""
    app()
