"""Distributed mode under test: real redis-server, real PostgreSQL, real Celery worker processes.

A :class:`Cluster` is one test's world:

* the local org (in this process, HTTPS on a loopback port) with an Account per customer;
* a fresh PostgreSQL database as the store, migrated;
* a small accounting ledger (SQLite file) built by the demo generator for *today*, because the
  workers read the real clock;
* worker processes started with ``celery -A sfsync.jobs worker --pool=prefork -c 1``, configured
  only through ``SFSYNC_*`` environment variables, the way a container would be;
* a Celery client that sends tasks by name, and helpers that poll the store with a bound.

Crash points (``sfsync/jobs/crash.py``) are armed by creating a file in the cluster's crash
directory; the worker that meets the point deletes it and SIGKILLs itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from celery import Celery
from sqlalchemy import Engine, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from sfsync.demo import DEMO_SEED
from sfsync.jobs.app import celery_config
from sfsync.jobs.config import JobsSettings
from sfsync.jobs.ledger import SHARD_KIND, TICK_KIND, schedule_key, window_text
from sfsync.jobs.schedule import CYCLE_TASK, RECONCILE_TASK, SHARD_TASK
from sfsync.jobs.status import queue_depth
from sfsync.sandbox.server import OrgServer
from sfsync.sources.demo import build_demo_ledger, customers_table, invoices_table
from sfsync.sources.sql import create_source_engine
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.store.models import QuarantinedRow, RunStatus, SyncRun
from tests.fixtures.redis import RedisServer

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "sfsync.yaml"
API_VERSION = "59.0"
SOURCE = "erp"
CUSTOMERS = 30
WAIT_S = 120.0
#: Test-sized limits: short enough that a lease left by a killed task expires within a test.
JOBS_ENV = {
    "SFSYNC_JOBS__TASK_TIME_LIMIT_SECONDS": "30",
    "SFSYNC_JOBS__TASK_SOFT_TIME_LIMIT_SECONDS": "25",
    "SFSYNC_JOBS__LEASE_MARGIN_SECONDS": "2",
    "SFSYNC_JOBS__LEASE_RETRY_SECONDS": "1",
    "SFSYNC_JOBS__RECONCILE_GRACE_SECONDS": "0",
}


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Worker:
    """One ``celery worker`` process (its pool child is what crash points kill)."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Cold shutdown (SIGQUIT): the test is over, nothing is left to finish."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Cluster:
    """One test's distributed world (see the module docstring)."""

    org: OrgServer
    redis: RedisServer
    store_url: str
    workdir: Path
    ledger_engine: Engine
    sessions: sessionmaker[Session]
    env: dict[str, str]
    client: Celery
    workers: list[Worker] = field(default_factory=list)

    @property
    def crash_dir(self) -> Path:
        return self.workdir / "crash"

    # --- processes --------------------------------------------------------------------------

    def start_worker(self, name: str, *, cli: bool = False, **env: str) -> Worker:
        """Start ``celery -A sfsync.jobs worker`` with one prefork child (``sfsync worker``
        with ``cli``)."""
        log = self.workdir / f"worker-{name}.log"
        sfsync = [
            str(Path(sys.executable).with_name("sfsync")),
            "worker",
            "--concurrency",
            "1",
            "--name",
            f"{name}@localhost",
        ]
        argv = (
            sfsync
            if cli
            else [
                str(Path(sys.executable).with_name("celery")),
                "-A",
                "sfsync.jobs",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                f"--hostname={name}@localhost",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=INFO",
            ]
        )
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                env={**self.env, **env},
                cwd=self.workdir,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(name, process, log)
        self.workers.append(worker)
        return worker

    def stop_workers(self) -> None:
        while self.workers:
            self.workers.pop().stop()

    # --- messages ---------------------------------------------------------------------------

    def send_cycle(self, window: datetime) -> None:
        self.client.send_task(CYCLE_TASK, args=[window_text(window)])

    def send_shard(self, window: datetime, index: int, count: int) -> None:
        self.client.send_task(SHARD_TASK, args=[window_text(window), index, count])

    def send_reconcile(self) -> None:
        self.client.send_task(RECONCILE_TASK)

    def redis_depth(self) -> int:
        """Messages waiting plus delivered-but-unacknowledged (what ``sfsync status`` shows)."""
        depth = queue_depth(self.redis.url)
        assert depth.waiting is not None, depth.error
        assert depth.unacknowledged is not None, depth.error
        return depth.waiting + depth.unacknowledged

    def arm(self, point: str) -> Path:
        """Make the next worker to reach ``point`` SIGKILL itself (once)."""
        marker = self.crash_dir / point
        marker.touch()
        return marker

    # --- the store --------------------------------------------------------------------------

    def tick(self, window: datetime) -> SyncRun | None:
        with self.sessions() as session:
            return session.scalars(
                select(SyncRun).where(SyncRun.schedule_key == schedule_key("cycle", SOURCE, window))
            ).one_or_none()

    def wait_cycle(self, window: datetime, timeout: float = WAIT_S) -> SyncRun:
        """Wait until the cycle of ``window`` ended; fail with the worker logs if it never does."""

        def ended() -> SyncRun | None:
            tick = self.tick(window)
            return tick if tick is not None and tick.status is not RunStatus.RUNNING else None

        try:
            tick: SyncRun = wait_until(ended, f"the cycle of {window_text(window)}", timeout)
        except pytest.fail.Exception:
            print(self.logs())
            raise
        return tick

    def shard_runs(self) -> list[SyncRun]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(SyncRun).where(SyncRun.kind == SHARD_KIND).order_by(SyncRun.id)
                )
            )

    def ticks(self) -> list[SyncRun]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(SyncRun).where(SyncRun.kind == TICK_KIND).order_by(SyncRun.id)
                )
            )

    def logs(self, tail: int = 6000) -> str:
        """The workers' logs (the last ``tail`` characters of each; 0 for all)."""
        return "\n".join(f"--- {w.name}\n{w.log_text()[-tail:]}" for w in self.workers)

    # --- the ledger and the org -------------------------------------------------------------

    def customer_ids(self) -> list[str]:
        with self.ledger_engine.connect() as connection:
            return sorted(connection.execute(select(customers_table.c.id)).scalars())

    def invoice_keys(self) -> set[str]:
        """Invoice_Key__c of every open invoice in the ledger, minus the rows the store
        quarantined (the generator plants bad rows, like ``1,200.00 EUR``)."""
        with self.ledger_engine.connect() as connection:
            rows = connection.execute(
                select(invoices_table.c.id).where(invoices_table.c.status == "open")
            ).scalars()
            keys = {f"{SOURCE}:{ident}" for ident in rows}
        with self.sessions() as session:
            quarantined = set(session.scalars(select(QuarantinedRow.row_key)))
        return keys - quarantined

    def add_invoice(self, customer: str, amount: str, days_past_due: int) -> str:
        """A new past-due invoice, stamped now (the workers' clock), in the customer's currency."""
        now = datetime.now(UTC)
        ident = f"X{uuid.uuid4().hex[:10]}"
        with self.ledger_engine.begin() as connection:
            currency = connection.execute(
                select(invoices_table.c.currency)
                .where(invoices_table.c.customer_id == customer)
                .limit(1)
            ).scalar_one_or_none()
            due = now.date() - timedelta(days=days_past_due)
            connection.execute(
                insert(invoices_table).values(
                    id=ident,
                    customer_id=customer,
                    number=f"INV-{ident}",
                    currency=currency or "USD",
                    amount=amount,
                    balance=amount,
                    issue_date=(due - timedelta(days=30)).isoformat(),
                    due_date=due.isoformat(),
                    status="open",
                    disputed=False,
                    dispute_reason=None,
                    updated_at=now.replace(tzinfo=None),
                )
            )
        return ident

    def rows(self, soql: str) -> list[dict[str, Any]]:
        return org_rows(self.org, soql)


def org_rows(server: OrgServer, soql: str) -> list[dict[str, Any]]:
    """Rows as a rep would see them, through a fresh real gateway."""
    from tests.jobs.orgview import open_org_gateway  # noqa: PLC0415

    with open_org_gateway(server) as gateway:
        return [dict(row) for row in gateway.query(soql)]


def fresh_database(postgres_url: str) -> str:
    """A new empty database on the session's PostgreSQL server; its SQLAlchemy URL."""
    url = make_url(postgres_url)
    name = f"jobs_{uuid.uuid4().hex[:12]}"
    admin = f"host={url.host} port={url.port} user={url.username} dbname=postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return url.set(database=name).render_as_string(hide_password=False)


def worker_env(
    server: OrgServer, redis_url: str, store_url: str, workdir: Path, ledger: Path
) -> dict[str, str]:
    """Everything a worker needs, as a container would get it: environment variables only."""
    config = server.org.config
    keep = {key: value for key, value in os.environ.items() if not key.startswith("SFSYNC_")}
    return {
        **keep,
        "SFSYNC_CONFIG": str(CONFIG),
        "SFSYNC_EMBEDDED__ENABLED": "false",
        "SFSYNC_STORE__URL": store_url,
        "SFSYNC_REDIS__URL": redis_url,
        "SFSYNC_SOURCE__KIND": "sql",
        "SFSYNC_SOURCE__NAME": SOURCE,
        "SFSYNC_SOURCE__SQL__URL": f"sqlite:///{ledger}",
        "SFSYNC_SALESFORCE__AUTH": "client_credentials",
        "SFSYNC_SALESFORCE__LOGIN_URL": server.url,
        "SFSYNC_SALESFORCE__CLIENT_ID": config.client_id,
        "SFSYNC_SALESFORCE__CLIENT_SECRET": config.client_secret,
        "SFSYNC_SALESFORCE__CA_BUNDLE": str(server.ca_path),
        "SFSYNC_SALESFORCE__API_VERSION": API_VERSION,
        "SFSYNC_LOGGING__FORMAT": "json",
        "SFSYNC_TEST_CRASHPOINTS": str(workdir / "crash"),
        **JOBS_ENV,
    }


def build_ledger(path: Path, customers: int = CUSTOMERS) -> Engine:
    """The demo generator's ledger for today (the workers read the real clock)."""
    build_demo_ledger(path, customers=customers, as_of=datetime.now(UTC).date(), seed=DEMO_SEED)
    return create_source_engine(f"sqlite:///{path}")


def create_accounts(server: OrgServer, customers: list[str]) -> None:
    """An Account per customer, matched by Accounting_Id__c (upsert: safe to repeat)."""
    from tests.jobs.orgview import open_org_gateway  # noqa: PLC0415

    with open_org_gateway(server) as gateway:
        results = gateway.upsert(
            "Account",
            [{"Accounting_Id__c": c, "Name": f"Customer {c}"} for c in customers],
            external_id_field="Accounting_Id__c",
        )
        assert all(result.ok for result in results), results


def count_by(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    """How many rows carry each value of ``key`` (duplicates show as counts above one)."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row[key])] = counts.get(str(row[key]), 0) + 1
    return counts


@pytest.fixture
def make_cluster(
    local_org: OrgServer, redis_clean: RedisServer, postgres_url: str, tmp_path: Path
) -> Iterator[Callable[..., Cluster]]:
    """Builds the test's cluster (``shards=``, extra env); stops its workers at the end."""
    built: list[Cluster] = []
    engines: list[Engine] = []

    def build(shards: int = 4, customers: int = CUSTOMERS, **env: str) -> Cluster:
        store_url = fresh_database(postgres_url)
        upgrade_database(store_url)
        engine = create_engine_from_url(store_url)
        ledger_path = tmp_path / "ledger.sqlite"
        ledger = build_ledger(ledger_path, customers)
        (tmp_path / "crash").mkdir(exist_ok=True)
        environment = worker_env(local_org, redis_clean.url, store_url, tmp_path, ledger_path)
        environment["SFSYNC_JOBS__SHARDS"] = str(shards)
        environment.update(env)
        client = Celery("sfsync-test", set_as_current=False)
        client.conf.update(
            celery_config(redis_clean.url, JobsSettings(**_jobs_values(environment)), {})
        )
        engines.append(engine)
        cluster = Cluster(
            local_org,
            redis_clean,
            store_url,
            tmp_path,
            ledger,
            create_session_factory(engine),
            environment,
            client,
        )
        with ledger.connect() as connection:
            customers_ids = sorted(connection.execute(select(customers_table.c.id)).scalars())
        create_accounts(local_org, customers_ids)
        built.append(cluster)
        return cluster

    yield build
    for cluster in built:
        cluster.stop_workers()
        cluster.client.close()
        cluster.ledger_engine.dispose()
    for engine in engines:
        engine.dispose()


def _jobs_values(env: dict[str, str]) -> dict[str, str]:
    prefix = "SFSYNC_JOBS__"
    return {
        key[len(prefix) :].lower(): value for key, value in env.items() if key.startswith(prefix)
    }
