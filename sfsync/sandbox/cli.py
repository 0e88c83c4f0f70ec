"""``sfsync sandbox ...``: run the local Salesforce org."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="The local Salesforce org (HTTPS, SQLite).", no_args_is_help=True)

DEFAULT_DATA_DIR = Path("var/org")


@app.command("serve")
def serve(
    *,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8443,
    data: Annotated[
        Path, typer.Option("--data", help="Data directory (records, certificates, org.json).")
    ] = DEFAULT_DATA_DIR,
    schema_dir: Annotated[
        Path | None, typer.Option("--schema", help="SFDX project to read the schema from.")
    ] = None,
    api_allocation: Annotated[
        int | None, typer.Option(help="Daily API request allocation (rolling 24 hours).")
    ] = None,
    token_lifetime: Annotated[
        int | None, typer.Option(help="Access token lifetime in seconds.")
    ] = None,
    jwt_cert: Annotated[
        Path | None,
        typer.Option(
            "--jwt-cert",
            help="Your connected app's certificate (PEM): JWT bearer assertions must be signed "
            "by its key instead of the org's generated one.",
        ),
    ] = None,
) -> None:
    """Serve the local org over HTTPS on 127.0.0.1 and print how to reach it."""
    from sfsync.sandbox.org import LocalOrg  # noqa: PLC0415 - keep `sfsync --help` fast
    from sfsync.sandbox.schema import DEFAULT_PROJECT_DIR, load_schema  # noqa: PLC0415
    from sfsync.sandbox.server import OrgServer  # noqa: PLC0415

    schema = load_schema(schema_dir or DEFAULT_PROJECT_DIR)
    org = LocalOrg(
        data,
        schema,
        config_overrides={
            "api_allocation": api_allocation,
            "token_lifetime_seconds": token_lifetime,
            "jwt_cert": str(jwt_cert.resolve()) if jwt_cert else None,
        },
    )
    server = OrgServer(org, port)
    config = org.config
    lines = [
        f"instance_url: {server.url}",
        f"login_url: {server.url}/services/oauth2/token",
        f"ca_cert: {server.ca_path}",
        f"client_id: {config.client_id}",
        f"client_secret: {config.client_secret}",
        f"username: {config.username}",
        f"password: {config.password}",
        f"jwt_cert: {org.certificates.jwt_cert}",
        f"jwt_private_key: {org.certificates.jwt_key or '(not held by the org)'}",
        f"admin_token: {config.admin_token}",
        "ready",
    ]
    typer.echo("\n".join(lines))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.stop()
