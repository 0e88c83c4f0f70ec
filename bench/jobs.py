"""Distributed first sync: 10,000 accounts through 1, 2 and 4 Celery worker processes.

Everything is real and local: a PostgreSQL store and a redis-server started on free loopback
ports, the local org served from this process over HTTPS, and ``celery -A sfsync.jobs worker``
processes (one pool process each) configured only through ``SFSYNC_*`` variables. For each
worker count the org is reset, every customer gets its Account, the store is a fresh database,
and one cycle is sent; the wall time runs from sending the cycle to its last shard's commit.

Where the time goes is read back from the store: the sum of the shard runs (work), the longest
shard (the critical path), the wait before the first shard started (worker start-up and
dispatch), and the API calls of every shard. The org runs in this process, in threads, on the
same two cores as the workers: beyond two workers it is the bottleneck, as a real org's
per-request latency would not be.

``SFSYNC_BENCH_JOBS_CUSTOMERS`` changes the ledger size; ``SFSYNC_BENCH_JOBS_WORKERS`` the
worker counts (comma-separated). Exit code 1 when a cycle does not succeed or records are
duplicated.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import redis
from celery import Celery
from pydantic import SecretStr
from sqlalchemy import select

from sfsync.clock import SystemClock
from sfsync.demo import DEMO_SEED
from sfsync.jobs.app import celery_config
from sfsync.jobs.config import JobsSettings
from sfsync.jobs.ledger import SHARD_KIND, schedule_key, window_start, window_text
from sfsync.jobs.schedule import CYCLE_TASK
from sfsync.salesforce.client import connect
from sfsync.sandbox.server import OrgServer, start_local_org
from sfsync.settings import Settings
from sfsync.sources.demo import build_demo_ledger, customers_table
from sfsync.sources.sql import SqlLayout, SqlSource, create_source_engine
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.store.models import RunStatus, SyncRun

CUSTOMERS = 10_000
WORKER_COUNTS = (1, 2, 4)
SHARDS = 8
CONFIG = Path("config/sfsync.yaml").resolve()
TIMEOUT_S = 900.0
PG_USER = "postgres"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_pg(argv: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def _postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server (fsync off) on a free port: its admin conninfo."""
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    bin_dir = bins[-1].parent
    work = Path(tempfile.mkdtemp(prefix="sfsync-bench-pg-"))
    if os.geteuid() == 0:
        shutil.chown(work, user=PG_USER, group=PG_USER)
    port = _free_port()
    data = work / "data"
    subprocess.run(
        _as_pg([str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = (
        f"-p {port} -k {work} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=80"
    )
    pg_ctl = str(bin_dir / "pg_ctl")
    start = [pg_ctl, "-D", str(data), "-l", str(work / "log"), "-o", options, "-w", "start"]
    subprocess.run(_as_pg(start), check=True, capture_output=True, timeout=120)
    try:
        yield f"host=127.0.0.1 port={port} user={PG_USER} dbname=postgres"
    finally:
        stop = [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as_pg(stop), check=False, capture_output=True, timeout=120)
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _redis(workdir: Path) -> Iterator[str]:
    """redis-server without persistence on a free port: its URL."""
    port = _free_port()
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = subprocess.Popen([*argv, "--dir", str(workdir)], stdout=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_timeout=5, socket_connect_timeout=5)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        client.close()
        process.kill()
        process.wait(timeout=10)


def _database(admin: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    port = admin.split("port=")[1].split(maxsplit=1)[0]
    return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/{name}"


def _create_accounts(server: OrgServer, customers: list[str]) -> None:
    config = server.org.config
    settings = Settings().salesforce.model_copy(
        update={
            "login_url": server.url,
            "client_id": config.client_id,
            "client_secret": SecretStr(config.client_secret),
            "ca_bundle": Path(server.ca_path),
        }
    )
    gateway = connect(settings, SystemClock())
    try:
        records = [{"Name": f"Account {c}", "Accounting_Id__c": c} for c in customers]
        for start in range(0, len(records), 2_000):
            gateway.create("Account", records[start : start + 2_000])
    finally:
        gateway.close()


@dataclass(frozen=True)
class Result:
    """One worker count's measurements."""

    workers: int
    wall_s: float
    dispatch_s: float
    shard_work_s: float
    longest_shard_s: float
    calls: int
    writes: int
    accounts: int
    ok: bool


def _env(server: OrgServer, redis_url: str, store_url: str, ledger: Path) -> dict[str, str]:
    config = server.org.config
    keep = {k: v for k, v in os.environ.items() if not k.startswith("SFSYNC_")}
    return {
        **keep,
        "SFSYNC_CONFIG": str(CONFIG),
        "SFSYNC_EMBEDDED__ENABLED": "false",
        "SFSYNC_STORE__URL": store_url,
        "SFSYNC_REDIS__URL": redis_url,
        "SFSYNC_SOURCE__KIND": "sql",
        "SFSYNC_SOURCE__NAME": "erp",
        "SFSYNC_SOURCE__SQL__URL": f"sqlite:///{ledger}",
        "SFSYNC_SALESFORCE__AUTH": "client_credentials",
        "SFSYNC_SALESFORCE__LOGIN_URL": server.url,
        "SFSYNC_SALESFORCE__CLIENT_ID": config.client_id,
        "SFSYNC_SALESFORCE__CLIENT_SECRET": config.client_secret,
        "SFSYNC_SALESFORCE__CA_BUNDLE": str(server.ca_path),
        "SFSYNC_LOGGING__LEVEL": "WARNING",
        "SFSYNC_JOBS__SHARDS": str(SHARDS),
    }


def _run(workers: int, server: OrgServer, admin: str, redis_url: str, root: Path) -> Result:
    server.org.reset()
    ledger = root / "ledger.sqlite"
    with create_source_engine(f"sqlite:///{ledger}").connect() as connection:
        customers = list(connection.execute(select(customers_table.c.id)).scalars())
    _create_accounts(server, customers)
    store_url = _database(admin)
    upgrade_database(store_url)
    engine = create_engine_from_url(store_url)
    sessions = create_session_factory(engine)
    env = _env(server, redis_url, store_url, ledger)
    celery = str(Path(sys.executable).with_name("celery"))
    processes = [
        subprocess.Popen(
            [
                celery,
                "-A",
                "sfsync.jobs",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                f"--hostname=bench{n}@localhost",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--loglevel=WARNING",
            ],
            env=env,
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(workers)
    ]
    client = Celery("bench", set_as_current=False)
    client.conf.update(celery_config(redis_url, JobsSettings(), {}))
    window = window_start(datetime.now(UTC), 300)
    key = schedule_key("cycle", "erp", window)
    try:
        sent = time.perf_counter()
        sent_at = datetime.now(UTC)
        client.send_task(CYCLE_TASK, args=[window_text(window)])
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            with sessions() as session:
                tick = session.scalars(select(SyncRun).where(SyncRun.schedule_key == key)).first()
                if tick is not None and tick.status is not RunStatus.RUNNING:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"jobs: the cycle with {workers} worker(s) did not end")
            time.sleep(0.2)
        wall = time.perf_counter() - sent
        with sessions() as session:
            shards = list(session.scalars(select(SyncRun).where(SyncRun.kind == SHARD_KIND)))
        spans = [
            (run.finished_at - run.started_at).total_seconds()
            for run in shards
            if run.finished_at is not None
        ]
        first_start = min(run.started_at for run in shards)
        return Result(
            workers=workers,
            wall_s=wall,
            dispatch_s=(first_start - sent_at).total_seconds(),
            shard_work_s=sum(spans),
            longest_shard_s=max(spans),
            calls=sum(run.api_calls for run in shards),
            writes=sum(int(run.counts.get("api_writes", 0)) for run in shards),
            accounts=sum(int(run.counts.get("accounts_planned", 0)) for run in shards),
            ok=tick.status is RunStatus.SUCCEEDED,
        )
    finally:
        client.close()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        engine.dispose()


def _embedded(server: OrgServer, admin: str, root: Path) -> Result:
    """The same first sync as one in-process run on the same PostgreSQL store: what
    ``sfsync run --once`` does (read-back, cycle, dispute Cases), as each shard does."""
    from sfsync.runner import open_cycle  # noqa: PLC0415 - only for the baseline
    from sfsync.writeback import run_collections  # noqa: PLC0415

    server.org.reset()
    ledger = root / "ledger.sqlite"
    with create_source_engine(f"sqlite:///{ledger}").connect() as connection:
        customers = list(connection.execute(select(customers_table.c.id)).scalars())
    _create_accounts(server, customers)
    store_url = _database(admin)
    env = _env(server, "redis://127.0.0.1:1/0", store_url, ledger)
    config = server.org.config
    settings = Settings(
        source={"kind": "sql", "name": "erp", "sql": {"url": env["SFSYNC_SOURCE__SQL__URL"]}},
        store={"url": store_url},
        embedded={"enabled": False},
        salesforce={
            "login_url": server.url,
            "client_id": config.client_id,
            "client_secret": SecretStr(config.client_secret),
            "ca_bundle": Path(server.ca_path),
        },
    )
    clock = SystemClock()

    @contextmanager
    def opener() -> Iterator[Any]:
        gateway = connect(settings.salesforce, clock)
        try:
            yield gateway
        finally:
            gateway.close()

    with open_cycle(settings, CONFIG, clock, opener) as deps:
        before = deps.gateway.calls
        started = time.perf_counter()
        collections = run_collections(deps)
        wall = time.perf_counter() - started
        after = deps.gateway.calls
    report = collections.cycle
    return Result(
        workers=0,
        wall_s=wall,
        dispatch_s=0.0,
        shard_work_s=wall,
        longest_shard_s=wall,
        calls=after.total - before.total,
        writes=after.write - before.write,
        accounts=report.counts.get("accounts_planned", 0),
        ok=report.status == "succeeded",
    )


def _read_seconds(ledger: Path) -> float:
    """One full read of the ledger through the SQL source: what every shard pays first."""
    engine = create_source_engine(f"sqlite:///{ledger}")
    try:
        source = SqlSource("erp", engine, SqlLayout(), SystemClock())
        started = time.perf_counter()
        batch = source.read_changes(None, datetime.now(UTC).date(), timedelta(0))
        for _ in batch.customers:
            pass
        return time.perf_counter() - started
    finally:
        engine.dispose()


def main() -> int:
    """Measure each worker count; print one line per run and the comparison."""
    # A SIGTERM (a CI timeout) unwinds normally, so the servers and workers started are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    customers = int(os.environ.get("SFSYNC_BENCH_JOBS_CUSTOMERS", str(CUSTOMERS)))
    counts = (
        tuple(int(n) for n in os.environ.get("SFSYNC_BENCH_JOBS_WORKERS", "1,2,4").split(",") if n)
        or WORKER_COUNTS
    )
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="sfsync-bench-jobs-") as tmp:
        root = Path(tmp)
        build_demo_ledger(
            root / "ledger.sqlite",
            customers=customers,
            as_of=datetime.now(UTC).date(),
            seed=DEMO_SEED,
        )
        server = start_local_org(root / "org", config_overrides={"api_allocation": 10_000_000})
        try:
            with _postgres() as admin, _redis(root) as redis_url:
                baseline = _embedded(server, admin, root)
                print(
                    "jobs: baseline, one embedded run (writeback, cycle, dispute Cases) on the "
                    "same PostgreSQL store: "
                    f"{baseline.accounts:,} accounts in {baseline.wall_s:.1f} s, "
                    f"{baseline.calls} API calls ({baseline.writes} writes)"
                )
                for workers in counts:
                    result = _run(workers, server, admin, redis_url, root)
                    results.append(result)
                    print(
                        f"jobs: first sync of {result.accounts:,} accounts, {workers} worker(s), "
                        f"{SHARDS} shards: {result.wall_s:.1f} s wall; {result.calls} API calls "
                        f"({result.writes} writes); shard work {result.shard_work_s:.1f} s, "
                        f"longest shard {result.longest_shard_s:.1f} s, first shard started "
                        f"{result.dispatch_s:.1f} s after the cycle was sent"
                        + ("" if result.ok else " — CYCLE FAILED")
                    )
        finally:
            server.stop()
        read = _read_seconds(root / "ledger.sqlite")
    print(
        f"jobs: one full read of the ledger takes {read:.1f} s; the {SHARDS} shards of a first "
        f"sync pay it {SHARDS} times ({read * SHARDS:.1f} s of the shard work), since the SQL "
        "source reads every customer and the shard keeps its own"
    )
    base = results[0].wall_s if results else 0.0
    for result in results[1:]:
        print(f"jobs: {result.workers} workers: {base / result.wall_s:.2f}x the first run's speed")
    return 0 if results and all(result.ok for result in results) else 1
