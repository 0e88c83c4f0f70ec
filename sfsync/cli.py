"""The ``sfsync`` command. Thin: parse arguments, build dependencies, call one function.

Logging is configured once, in the top-level callback, before any sub-command runs. A
:class:`~sfsync.errors.ConfigError` from any command ends the process with exit status 2 and the
list of problems (the same list ``sfsync config check`` prints), never a traceback.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer
from typer.core import TyperGroup

from sfsync import __version__
from sfsync.errors import ConfigError
from sfsync.logs import LogFormat, configure_logging, redact_value
from sfsync.sandbox.cli import app as sandbox_app
from sfsync.store.cli import app as db_app

if TYPE_CHECKING:
    from sfsync.checks import GatewayFactory
    from sfsync.settings import Settings

CONFIG_ERROR_EXIT = 2


class ConfigErrorReportingGroup(TyperGroup):
    """The root command group: turns a ConfigError from any sub-command into exit status 2."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click Context is private
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            _report_config_error(error)
            raise typer.Exit(CONFIG_ERROR_EXIT) from error


def _report_config_error(error: ConfigError) -> None:
    """Print the problem list (or the message) to stderr; secrets are masked."""
    from sfsync.configfile import InvalidConfigError  # noqa: PLC0415 - lazy, light
    from sfsync.settings import print_problems  # noqa: PLC0415 - lazy, light

    if isinstance(error, InvalidConfigError):
        print_problems(error.problems, stream=sys.stderr)
    else:
        typer.echo(f"configuration error: {redact_value(str(error))}", err=True)


app = typer.Typer(
    name="sfsync",
    cls=ConfigErrorReportingGroup,
    help="Keep collections work (Cases, Tasks, invoices, promises) inside Salesforce.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(
    help="Configuration: check it before switching anything on.", no_args_is_help=True
)
app.add_typer(config_app, name="config")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(db_app, name="db")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Path to sfsync.yaml (default: $SFSYNC_CONFIG or config/sfsync.yaml).",
    ),
]


def _show_version(value: bool) -> None:
    """``--version``: print it and stop before anything else runs."""
    if value:
        typer.echo(f"sfsync {__version__}")
        raise typer.Exit


_LOG_FORMATS: dict[str, LogFormat] = {name: name for name in get_args(LogFormat)}


def _check_log_format(value: str) -> str:
    """``--log-format`` must be one of the renderers configure_logging knows."""
    if value.lower() not in _LOG_FORMATS:
        raise typer.BadParameter(f"use one of {', '.join(_LOG_FORMATS)}")
    return value.lower()


def _check_log_level(value: str) -> str:
    """``--log-level`` must be a standard level name."""
    choices = ("DEBUG", "INFO", "WARNING", "ERROR")
    if value.upper() not in choices:
        raise typer.BadParameter(f"use one of {', '.join(choices)}")
    return value.upper()


@dataclass(frozen=True)
class LoggingChoice:
    """The logging set-up the callback chose, and whether sfsync.yaml may still change it.

    ``--log-level``/``--log-format`` and their ``SFSYNC_LOGGING__*`` variables win; when neither
    was given, a command that loads sfsync.yaml applies its ``logging`` section.
    """

    level: str
    fmt: LogFormat
    level_from_settings: bool
    fmt_from_settings: bool


@app.callback()
def main_callback(
    ctx: typer.Context,
    log_level: Annotated[
        str,
        typer.Option(
            "--log-level",
            envvar="SFSYNC_LOGGING__LEVEL",
            callback=_check_log_level,
            help="DEBUG, INFO, WARNING or ERROR (default: logging.level in sfsync.yaml, or INFO).",
        ),
    ] = "INFO",
    log_format: Annotated[
        str,
        typer.Option(
            "--log-format",
            envvar="SFSYNC_LOGGING__FORMAT",
            callback=_check_log_format,
            help="auto (console on a terminal, JSON otherwise), json or console.",
        ),
    ] = "auto",
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Keep collections work (Cases, Tasks, invoices, promises) inside Salesforce."""
    choice = LoggingChoice(
        level=log_level,
        fmt=_LOG_FORMATS[log_format],
        level_from_settings=_is_default(ctx, "log_level"),
        fmt_from_settings=_is_default(ctx, "log_format"),
    )
    configure_logging(choice.level, choice.fmt)
    ctx.obj = choice


def _is_default(ctx: typer.Context, name: str) -> bool:
    """True when neither the command line nor the environment gave option ``name``."""
    source = ctx.get_parameter_source(name)
    return source is None or source.name == "DEFAULT"


def load_command_settings(ctx: typer.Context, config: Path | None) -> Settings:
    """Load the settings for a command and apply sfsync.yaml's ``logging`` section.

    A ConfigError propagates to the root group, which prints the problems and exits 2.
    """
    from sfsync.settings import load_settings  # noqa: PLC0415 - keep start-up light

    settings = load_settings(config)
    choice = ctx.find_object(LoggingChoice)
    if choice is not None and (choice.level_from_settings or choice.fmt_from_settings):
        configure_logging(
            settings.logging.level if choice.level_from_settings else choice.level,
            settings.logging.format if choice.fmt_from_settings else choice.fmt,
        )
    return settings


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate config/ and report every error at once, with file, key and fix."""
    from sfsync.settings import run_config_check  # noqa: PLC0415 - keep start-up light

    raise typer.Exit(run_config_check(config))


@config_app.command("show")
def config_show(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Print the effective settings (YAML plus environment) as JSON, secrets masked."""
    settings = load_command_settings(ctx, config)
    effective = redact_value(settings.model_dump(mode="json"))
    typer.echo(json.dumps(effective, indent=2, sort_keys=True))


@app.command("demo")
def demo(config: ConfigOption = None) -> None:
    """Run the main job on the embedded default (bundled demo ledger)."""
    from sfsync.demo import run_demo  # noqa: PLC0415 - keep start-up light

    raise typer.Exit(run_demo(config))


# --- mappings check, org check, plan -------------------------------------------------------------

mappings_app = typer.Typer(help="Field mappings: check them against the org.", no_args_is_help=True)
org_app = typer.Typer(help="The Salesforce org: is it ready for sfsync?", no_args_is_help=True)
app.add_typer(mappings_app, name="mappings")
app.add_typer(org_app, name="org")


def _gateway_factory(settings: Settings) -> GatewayFactory:
    """Opens the org for one command (the configured org, or the embedded local org)."""
    from sfsync.checks import open_gateway  # noqa: PLC0415 - keep start-up light
    from sfsync.clock import SystemClock  # noqa: PLC0415

    return lambda: open_gateway(settings, SystemClock())


@mappings_app.command("check")
def mappings_check(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Validate mappings.yaml against the org's describe; list every problem with line and fix."""
    from sfsync.checks import check_mappings_file, report_mappings  # noqa: PLC0415
    from sfsync.mappers.spec import read_mappings  # noqa: PLC0415
    from sfsync.settings import (  # noqa: PLC0415
        mappings_path_for,
        print_problems,
        resolve_config_path,
    )

    path = mappings_path_for(resolve_config_path(config))
    _, problems = read_mappings(path)
    if problems:  # a file that cannot be read is reported before touching anything else
        print_problems([problem.as_config_problem() for problem in problems])
        raise typer.Exit(1)
    settings = load_command_settings(ctx, config)
    _, problems = check_mappings_file(path, _gateway_factory(settings))
    raise typer.Exit(report_mappings(path, problems))


@org_app.command("check")
def org_check(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Check the org has sfsync's objects, fields, unique keys, closed status and outcomes."""
    from sfsync.checks import check_org, report_org  # noqa: PLC0415 - keep start-up light

    settings = load_command_settings(ctx, config)
    with _gateway_factory(settings)() as gateway:
        problems = check_org(gateway)
    raise typer.Exit(report_org(problems))


@app.command("plan")
def plan(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Dry run: what a sync would create, update and close in Salesforce; writes nothing."""
    from sfsync.clock import SystemClock  # noqa: PLC0415 - keep start-up light
    from sfsync.planview import run_plan  # noqa: PLC0415
    from sfsync.settings import resolve_config_path  # noqa: PLC0415

    settings = load_command_settings(ctx, config)
    path = resolve_config_path(config)
    raise typer.Exit(run_plan(settings, path, _gateway_factory(settings), SystemClock()))


# --- sync: run, dead letters (sfsync.sync, sfsync.runner, sfsync.deadletters) -------------------

OnceOption = Annotated[bool, typer.Option("--once", help="Run once and exit.")]
IntervalOption = Annotated[
    int | None,
    typer.Option(
        "--interval", min=1, help="Seconds between runs (default: sync.interval_seconds)."
    ),
]

dlq_app = typer.Typer(
    help="Sync errors: refused writes and quarantined rows; replay them.", no_args_is_help=True
)
app.add_typer(dlq_app, name="dlq")


@app.command("run")
def run(
    ctx: typer.Context,
    config: ConfigOption = None,
    once: OnceOption = False,
    interval: IntervalOption = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-plan every open customer, not only the changed ones.")
    ] = False,
) -> None:
    """Read back what reps did in Salesforce, then sync the accounting source into it (promises
    judged, disputes out of the chase, dispute Cases): once, or every N seconds until stopped."""
    _run_collections(ctx, config, once=once, interval=interval, full=full)


def _run_collections(
    ctx: typer.Context, config: Path | None, *, once: bool, interval: int | None, full: bool
) -> None:
    """The main job (``sfsync.writeback.run_collections``) for ``sfsync run`` and its alias
    ``sfsync writeback``: one run (exit 1 unless the cycle succeeded) or the loop."""
    from sfsync.clock import SystemClock  # noqa: PLC0415 - heavy, on demand
    from sfsync.runner import StopFlag, open_cycle, run_loop  # noqa: PLC0415
    from sfsync.settings import resolve_config_path  # noqa: PLC0415
    from sfsync.syncview import progress_reporter  # noqa: PLC0415
    from sfsync.writeback import print_collections, run_collections  # noqa: PLC0415

    settings = load_command_settings(ctx, config)
    with open_cycle(
        settings, resolve_config_path(config), SystemClock(), _gateway_factory(settings)
    ) as deps:
        if once:
            with progress_reporter() as on_progress:
                report = run_collections(deps, full=full, on_progress=on_progress)
            print_collections(report)
            raise typer.Exit(0 if report.cycle.status == "succeeded" else 1)
        stop = StopFlag()
        stop.install()
        run_loop(
            deps,
            interval=interval or settings.sync.interval_seconds,
            stop=stop,
            full=full,
            on_report=print_collections,
            on_error=lambda error: typer.echo(f"run failed: {redact_value(str(error))}", err=True),
        )


@dlq_app.command("list")
def dlq_list(
    ctx: typer.Context,
    config: ConfigOption = None,
    resolved: Annotated[
        bool, typer.Option("--resolved", help="Include dead letters already resolved.")
    ] = False,
) -> None:
    """List refused writes (object, key, Salesforce code and message, attempts) and bad rows."""
    from sfsync.deadletters import list_errors  # noqa: PLC0415 - heavy, on demand
    from sfsync.store.db import create_engine_from_url, create_session_factory  # noqa: PLC0415
    from sfsync.syncview import print_errors  # noqa: PLC0415

    settings = load_command_settings(ctx, config)
    engine = create_engine_from_url(settings.store.url)
    try:
        errors = list_errors(create_session_factory(engine), include_resolved=resolved)
    finally:
        engine.dispose()
    print_errors(errors)


@dlq_app.command("retry")
def dlq_retry(
    ctx: typer.Context,
    config: ConfigOption = None,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Dead letter id to replay (repeatable).")
    ] = None,
    replay_all: Annotated[
        bool, typer.Option("--all", help="Replay every open dead letter.")
    ] = False,
) -> None:
    """Re-send refused writes; each success resolves its dead letter."""
    from sfsync.clock import SystemClock  # noqa: PLC0415 - heavy, on demand
    from sfsync.deadletters import retry_dead_letters  # noqa: PLC0415
    from sfsync.store.db import create_engine_from_url, create_session_factory  # noqa: PLC0415

    if not ids and not replay_all:
        typer.echo("name dead letters with --id N (see sfsync dlq list) or pass --all", err=True)
        raise typer.Exit(2)
    settings = load_command_settings(ctx, config)
    engine = create_engine_from_url(settings.store.url)
    try:
        with _gateway_factory(settings)() as gateway:
            result = retry_dead_letters(
                gateway,
                create_session_factory(engine),
                SystemClock(),
                ids=None if replay_all else ids,
            )
    finally:
        engine.dispose()
    typer.echo(f"resolved {len(result.resolved)}, still failing {len(result.failed)}")
    for letter_id, message in result.failed:
        typer.echo(f"  #{letter_id}: {message}")
    raise typer.Exit(1 if result.failed else 0)


# --- end of sync block ---------------------------------------------------------------------------


# --- writeback: outcomes, promises and disputes from reps (sfsync.writeback) --------------------


@app.command("writeback")
def writeback(
    ctx: typer.Context,
    config: ConfigOption = None,
    once: OnceOption = False,
    interval: IntervalOption = None,
) -> None:
    """Alias of ``sfsync run``: read back what reps logged in Salesforce, then sync."""
    _run_collections(ctx, config, once=once, interval=interval, full=False)


# --- end of writeback block ----------------------------------------------------------------------


# --- escalate: stale-case escalation and manager alerts (sfsync.escalate) -----------------------


@app.command("escalate")
def escalate(
    ctx: typer.Context,
    config: ConfigOption = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="List what would be escalated and why; write nothing."),
    ] = False,
    digest: Annotated[
        bool,
        typer.Option("--digest", help="Send today's digest of stale Cases (once a day)."),
    ] = False,
) -> None:
    """Escalate collections Cases open past a threshold, once per level, and alert managers."""
    from sfsync.clock import SystemClock  # noqa: PLC0415 - heavy, on demand
    from sfsync.escalate import (  # noqa: PLC0415
        open_escalation,
        print_digest,
        print_report,
        run_escalation,
        send_escalation_digest,
    )
    from sfsync.settings import resolve_config_path  # noqa: PLC0415

    if dry_run and digest:
        typer.echo("--dry-run and --digest cannot be combined", err=True)
        raise typer.Exit(2)
    settings = load_command_settings(ctx, config)
    path = resolve_config_path(config)
    with open_escalation(settings, path, SystemClock(), _gateway_factory(settings)) as deps:
        if digest:
            raise typer.Exit(print_digest(send_escalation_digest(deps)))
        report = run_escalation(deps, dry_run=dry_run)
    print_report(report)
    raise typer.Exit(1 if report.failed else 0)


# --- end of escalate block -----------------------------------------------------------------------


# --- distributed mode: worker, beat, status (sfsync.jobs) ----------------------------------------


@app.command("worker")
def worker(
    ctx: typer.Context,
    config: ConfigOption = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-n", min=1, help="Pool processes (one task each).")
    ] = 2,
    name: Annotated[
        str, typer.Option("--name", help="Worker name, unique per host (celery's --hostname).")
    ] = "sfsync@%h",
) -> None:
    """Run a Celery worker for the sync jobs (needs redis.url and a PostgreSQL store)."""
    _check_distributed(load_command_settings(ctx, config))
    _export_config_path(config)
    from sfsync.jobs import app as celery_app  # noqa: PLC0415 - heavy, on demand

    celery_app.worker_main(
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            f"--hostname={name}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@app.command("beat")
def beat(
    ctx: typer.Context,
    config: ConfigOption = None,
    schedule_file: Annotated[
        Path, typer.Option("--schedule-file", help="Where beat keeps its last-run times.")
    ] = Path("var/celerybeat-schedule"),
) -> None:
    """Run the scheduler (one is enough; a second one sends duplicates the store ignores)."""
    _check_distributed(load_command_settings(ctx, config))
    _export_config_path(config)
    from sfsync.jobs import app as celery_app  # noqa: PLC0415 - heavy, on demand

    schedule_file.parent.mkdir(parents=True, exist_ok=True)
    celery_app.start(["beat", f"--schedule={schedule_file}"])


@app.command("status")
def status(ctx: typer.Context, config: ConfigOption = None) -> None:
    """Last runs per kind, queue depth, open dead letters, API budget left, alert problems."""
    from sfsync.clock import SystemClock  # noqa: PLC0415 - keep start-up light
    from sfsync.jobs.status import collect_status, render_status  # noqa: PLC0415
    from sfsync.store.db import create_engine_from_url, create_session_factory  # noqa: PLC0415

    settings = load_command_settings(ctx, config)
    engine = create_engine_from_url(settings.store.url)
    try:
        with create_session_factory(engine)() as session:
            report = collect_status(session, settings.redis.url, SystemClock().now())
    finally:
        engine.dispose()
    for line in render_status(report):
        typer.echo(line)


def _check_distributed(settings: Settings) -> None:
    """Refuse to start a worker or beat without a broker or on a store that is not PostgreSQL.

    The ``jobs:`` section was validated when ``settings`` were loaded (from ``--config``).
    """
    from sfsync.jobs.config import require_distributed_store  # noqa: PLC0415 - light

    if settings.redis.url is None:
        raise ConfigError(
            "redis.url is not set: distributed mode needs a Redis broker "
            "(set redis.url in sfsync.yaml or SFSYNC_REDIS__URL)"
        )
    require_distributed_store(settings)


def _export_config_path(config: Path | None) -> None:
    """Celery loads the settings again in each process: point it at the same sfsync.yaml."""
    import os  # noqa: PLC0415

    from sfsync.settings import CONFIG_PATH_ENV, resolve_config_path  # noqa: PLC0415

    os.environ[CONFIG_PATH_ENV] = str(resolve_config_path(config))


# --- end of distributed-mode block ---------------------------------------------------------------


def main() -> None:
    """Console-script entry point."""
    app()
