"""Build a cycle's dependencies from the settings, once per process, and run the main job.

The CLI (``sfsync run``, ``sfsync dlq``) and tests use :func:`compile_for_org` and
:func:`open_cycle`: the mappings are validated against the org's describe and compiled once (a
bare ``truncate`` needs the field lengths), so the cycle itself reads nothing it does not need
and an idle cycle costs no Salesforce call.

:func:`run_loop` runs the product's main job, :func:`sfsync.writeback.run_collections`
(read back what reps did → one sync cycle that sees it → dispute Cases), not a bare
:func:`~sfsync.sync.run_cycle`: a bare cycle reads the books alone, so it would chase an
invoice a rep disputed and never judge a promise on a customer whose books did not change.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import FrameType

import yaml
from sqlalchemy import Engine

from sfsync.checks import fetch_schema, mapping_sobjects
from sfsync.clock import Clock
from sfsync.configfile import InvalidConfigError
from sfsync.demo import load_policy
from sfsync.errors import ConfigError
from sfsync.mappers.compile import CompiledMappings, compile_mappings
from sfsync.mappers.spec import load_mappings
from sfsync.mappers.validate import field_lengths, validate_mappings
from sfsync.policy import Policy
from sfsync.salesforce.ports import SalesforceGateway
from sfsync.settings import Settings, mappings_path_for, policy_path_for
from sfsync.sources import build_source
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.sync import CycleDeps, ProgressCallback, SetupCalls
from sfsync.writeback import CollectionsReport, run_collections

#: Opens a logged-in gateway for a ``with`` block (the configured org, or the local org).
GatewayOpener = Callable[[], AbstractContextManager[SalesforceGateway]]


def compile_for_org(path: Path, gateway: SalesforceGateway) -> CompiledMappings:
    """Validate ``mappings.yaml`` against the org's describe and compile it (reads only)."""
    loaded = load_mappings(path)
    schema = fetch_schema(gateway, mapping_sobjects(loaded))
    problems = validate_mappings(loaded, schema.describes, schema.visible)
    if problems:
        raise InvalidConfigError([problem.as_config_problem() for problem in problems])
    return compile_mappings(loaded, field_lengths(schema.describes))


@contextmanager
def open_policy_and_store(settings: Settings, config_path: Path) -> Iterator[tuple[Policy, Engine]]:
    """The policy beside ``config_path`` and the store's engine, migrated to the newest schema.

    Shared by every job (the cycle, escalation): a policy that cannot be read (missing, not
    YAML, not valid) stops the job with a ConfigError before the store is touched, and the
    engine's connections are closed when the job ends.
    """
    try:
        policy = load_policy(policy_path_for(config_path))
    except (OSError, ValueError, yaml.YAMLError) as error:  # a YAML mistake is no ValueError
        raise ConfigError(
            f"{policy_path_for(config_path)} cannot be used ({type(error).__name__}); "
            "run sfsync config check"
        ) from None
    upgrade_database(settings.store.url)
    engine = create_engine_from_url(settings.store.url)
    try:
        yield policy, engine
    finally:
        engine.dispose()


@contextmanager
def open_cycle(
    settings: Settings, config_path: Path, clock: Clock, opener: GatewayOpener
) -> Iterator[CycleDeps]:
    """Everything a cycle needs, built once: store (migrated), source, org, mappings, policy."""
    with open_policy_and_store(settings, config_path) as (policy, engine):
        source = build_source(settings.source, clock=clock)
        with opener() as gateway:
            mappings = compile_for_org(mappings_path_for(config_path), gateway)
            # Everything this fresh gateway sent so far (login, describes) is setup.
            setup = SetupCalls(gateway.calls)
            yield CycleDeps(
                source=source,
                gateway=gateway,
                sessions=create_session_factory(engine),
                mappings=mappings,
                policy=policy,
                clock=clock,
                settings=settings,
                setup_calls=setup,
            )


class StopFlag:
    """Set by SIGINT/SIGTERM: the loop finishes the cycle it is in, then stops."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def install(self) -> None:
        """Route SIGINT and SIGTERM here (main thread only)."""
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, _signum: int, _frame: FrameType | None) -> None:
        self.event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when asked to stop meanwhile."""
        return self.event.wait(seconds)


def run_loop(
    deps: CycleDeps,
    *,
    interval: float,
    stop: StopFlag,
    on_report: Callable[[CollectionsReport], None],
    full: bool = False,
    on_progress: ProgressCallback | None = None,
    on_error: Callable[[Exception], None] | None = None,
) -> int:
    """Run the collections job every ``interval`` seconds until ``stop`` is set; returns the
    runs made. ``full`` re-plans every open customer on the first run.

    A failed run is reported and the loop goes on (the next one re-reads what the failed one
    did not commit); a configuration error stops it, since no later run can succeed.
    """
    cycles = 0
    while not stop.event.is_set():
        try:
            on_report(run_collections(deps, full=full and cycles == 0, on_progress=on_progress))
        except ConfigError:
            raise
        except Exception as error:  # reported; the next cycle retries
            if on_error is None:
                raise
            on_error(error)
        cycles += 1
        if stop.wait(interval):
            break
    return cycles
