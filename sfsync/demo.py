"""The bundled demo: a deterministic receivables ledger and what sfsync would do with it.

:func:`generate_ledger` streams customers one at a time (never the whole ledger in memory), each
with realistic invoices — net 30/45/60 terms, on-time, slow and bad payers, partial payments,
unapplied credits, disputes, a second currency for a few customers, and a small share of bad rows
that must be skipped with a reason. The same generator feeds the planning benchmark (``bench``)
with a size parameter, and later the demo ledger stored in SQLite.

:func:`run_demo` plans every account against empty state as of :data:`DEMO_DATE` and prints the
outcome with rich.
"""

from __future__ import annotations

import math
import os
import random
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from sfsync.cases import DISPUTE_CASE_SUFFIX, plan_customer
from sfsync.domain import (
    AccountPlan,
    CaseAction,
    Customer,
    Payment,
    PaymentKind,
)
from sfsync.errors import SkippedRecord
from sfsync.policy import Policy

_T = TypeVar("_T")

#: The fixed "today" of the demo, so its output never depends on the wall clock.
DEMO_DATE = date(2026, 3, 16)
DEMO_SOURCE = "demo"
DEMO_SEED = 20260316
DEMO_CUSTOMERS = 300

_FIRST = (
    "Acme",
    "Northwind",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Wonka",
    "Gringotts",
    "Oceanic",
    "Pied",
)
_SECOND = (
    "Logistics",
    "Foods",
    "Analytics",
    "Textiles",
    "Robotics",
    "Pharma",
    "Builders",
    "Media",
    "Energy",
    "Marine",
    "Software",
    "Outfitters",
)
_SUFFIX = ("Ltd", "Inc", "GmbH", "LLC", "SA", "BV", "Pty", "plc")
_CURRENCIES = (("USD", 80), ("EUR", 8), ("GBP", 6), ("CAD", 3), ("JPY", 3))
_TERMS = (30, 30, 30, 45, 60)
_DISPUTES = ("pricing error", "goods damaged", "not received", "duplicate billing", "PO missing")
#: How many days past due each kind of payer usually pays, and how common it is.
_PAYERS = ((0, 60), (35, 30), (120, 10))
_BAD_ROWS = ("no customer", "negative amount", "not a number", "balance above amount",
             "unknown currency", "impossible date", "due before issue")  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoCustomer:
    """One customer's rows as a source would hand them over."""

    customer: Customer
    invoices: tuple[Mapping[str, object], ...]
    payments: tuple[Payment, ...]


def generate_ledger(
    customers: int,
    *,
    invoices_per_customer: int = 10,
    as_of: date = DEMO_DATE,
    seed: int = DEMO_SEED,
    bad_row_rate: float = 0.004,
) -> Iterator[DemoCustomer]:
    """Yield ``customers`` customers, averaging ``invoices_per_customer`` invoices each.

    Deterministic: customer ``n`` depends only on ``seed`` and ``n``, so any slice of the
    stream is reproducible without generating what comes before it.
    """
    for index in range(customers):
        rng = random.Random(seed * 1_000_003 + index)  # noqa: S311 - demo data, not secrets
        yield _customer(rng, index, invoices_per_customer, as_of, bad_row_rate)


def _customer(
    rng: random.Random, index: int, per_customer: int, as_of: date, bad_rate: float
) -> DemoCustomer:
    ident = f"CUST-{index + 1:06d}"
    name = f"{rng.choice(_FIRST)} {rng.choice(_SECOND)} {rng.choice(_SUFFIX)}"
    main = _weighted(rng, _CURRENCIES)
    second = _weighted(rng, _CURRENCIES) if rng.random() < 0.05 else main
    delay = _weighted(rng, _PAYERS)
    invoices: list[Mapping[str, object]] = []
    for number in range(1 + int(rng.random() * (2 * per_customer - 1))):
        currency = second if number % 3 == 2 else main
        invoice_id = f"{ident}-{number + 1:04d}"
        if rng.random() < bad_rate:
            invoices.append(_bad_row(rng, invoice_id, ident, currency, as_of))
        else:
            invoices.append(_invoice(rng, invoice_id, ident, currency, delay=delay, as_of=as_of))
    payments: tuple[Payment, ...] = ()
    if rng.random() < 0.05:
        credit = _money(rng, main) / 4
        kind = PaymentKind.CREDIT if rng.random() < 0.5 else PaymentKind.PAYMENT
        received = as_of - timedelta(days=rng.randint(0, 20))
        payments = (Payment(f"{ident}-P1", ident, main, credit, received, kind),)
    return DemoCustomer(Customer(ident, name), tuple(invoices), payments)


def _weighted(rng: random.Random, choices: tuple[tuple[_T, int], ...]) -> _T:
    values = [value for value, _ in choices]
    weights = [weight for _, weight in choices]
    return rng.choices(values, weights)[0]


def _money(rng: random.Random, currency: str) -> Decimal:
    cents = int(math.exp(rng.gauss(11.3, 1.0)))  # log-normal: many small, a few large
    if currency == "JPY":
        return Decimal(cents * 150 // 100)
    return Decimal(cents).scaleb(-2)


def _invoice(
    rng: random.Random,
    invoice_id: str,
    customer_id: str,
    currency: str,
    *,
    delay: int,
    as_of: date,
) -> dict[str, object]:
    issued = as_of - timedelta(days=int(rng.random() * 181))
    due = issued + timedelta(days=_TERMS[int(rng.random() * len(_TERMS))])
    amount = _money(rng, currency)
    overdue = (as_of - due).days
    status, balance = "open", amount
    disputed, reason = False, ""
    roll = rng.random()
    if overdue > delay + int(rng.random() * 21) - 10:
        status, balance = "paid", Decimal(0)
    elif roll < 0.01:
        status, balance = "void", Decimal(0)
    elif roll < 0.12:
        balance = (amount * Decimal(20 + int(rng.random() * 61)) / 100).quantize(amount)
    elif roll < 0.15:
        disputed, reason = True, rng.choice(_DISPUTES)
    return {
        "id": invoice_id,
        "customer_id": customer_id,
        "number": invoice_id.replace("CUST-", "INV-"),
        "currency": currency,
        "amount": amount,
        "balance": balance,
        "issue_date": issued,
        "due_date": due,
        "status": status,
        "disputed": disputed,
        "dispute_reason": reason,
    }


def _bad_row(
    rng: random.Random, invoice_id: str, customer_id: str, currency: str, as_of: date
) -> dict[str, object]:
    """A row with one of the mistakes real exports contain, as text the way a CSV has it."""
    row: dict[str, object] = {
        "id": invoice_id,
        "customer_id": customer_id,
        "currency": currency,
        "amount": "1200.00",
        "balance": "1200.00",
        "issue_date": (as_of - timedelta(days=75)).isoformat(),
        "due_date": (as_of - timedelta(days=45)).isoformat(),
    }
    mistake = rng.choice(_BAD_ROWS)
    if mistake == "no customer":
        row["customer_id"] = ""
    elif mistake == "negative amount":
        row["amount"] = "-1200.00"
    elif mistake == "not a number":
        row["balance"] = "1,200.00 EUR"
    elif mistake == "balance above amount":
        row["balance"] = "1250.00"
    elif mistake == "unknown currency":
        row["currency"] = "US$"
    elif mistake == "impossible date":
        row["due_date"] = f"{as_of.year}-02-30"
    else:
        row["due_date"] = (as_of - timedelta(days=90)).isoformat()
    return row


def load_policy(path: Path) -> Policy:
    """Read and validate ``policy.yaml``; errors propagate for the caller to report."""
    return Policy.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


def _read_policy(config: Path | None, out: Console) -> tuple[Policy | None, Path]:
    """The demo's policy, or ``None`` after printing why it cannot be used."""
    sfsync_yaml = config or Path(os.environ.get("SFSYNC_CONFIG", "config/sfsync.yaml"))
    policy_path = sfsync_yaml.parent / "policy.yaml"
    try:
        return load_policy(policy_path), policy_path
    except OSError as error:
        out.print(f"[red]cannot read {policy_path}: {error.strerror}[/red]")
    except yaml.YAMLError as error:
        out.print(f"[red]{policy_path} is not valid YAML: {error}[/red]")
    except ValidationError as error:
        out.print(f"[red]{policy_path} is invalid:[/red]")
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"])
            out.print(f"  {where}: {item['msg']}")
    return None, policy_path


def preview_demo(config: Path | None, console: Console | None = None) -> int:
    """Plan the demo ledger against empty state and print what would change; the exit code."""
    out = console or Console()
    policy, policy_path = _read_policy(config, out)
    if policy is None:
        return 2
    plans: list[AccountPlan] = []
    skipped: list[SkippedRecord] = []
    for row in generate_ledger(DEMO_CUSTOMERS):
        planned = plan_customer(
            DEMO_SOURCE, row.customer, row.invoices, row.payments,
            states={}, policy=policy, as_of=DEMO_DATE,
        )  # fmt: skip
        plans.extend(planned.plans)
        skipped.extend(planned.skipped)
    out.print(f"sfsync demo plan as of {DEMO_DATE.isoformat()} (policy: {policy_path})")
    out.print(_summary_table(plans, skipped, policy))
    out.print(_currency_table(plans))
    if skipped:
        out.print(_skipped_table(skipped))
    sample = _sample(plans)
    if sample is not None:
        out.print(_account_table(sample))
    return 0


def _summary_table(plans: list[AccountPlan], skipped: list[SkippedRecord], policy: Policy) -> Table:
    opened = sum(1 for p in plans if p.case is not None and p.case.action is CaseAction.OPEN)
    tasks = Counter(
        t.values.step for p in plans for t in p.tasks if t.values is not None
    )  # a created Task always has values
    table = Table(title="Plan summary")
    table.add_column("What")
    table.add_column("Count", justify="right")
    table.add_row("Accounts (customer + currency)", str(len(plans)))
    table.add_row("Cases to open", str(opened))
    table.add_row("Tasks to create", str(sum(tasks.values())))
    for step in policy.cadence.steps:  # in ladder order
        if tasks[step.name]:
            table.add_row(f"  step {step.name} ({step.channel.value})", str(tasks[step.name]))
    table.add_row("Invoice records to upsert", str(sum(len(p.invoices) for p in plans)))
    table.add_row("Rows skipped", str(len(skipped)))
    return table


def _currency_table(plans: list[AccountPlan]) -> Table:
    past_due: defaultdict[str, Decimal] = defaultdict(Decimal)
    disputed: defaultdict[str, Decimal] = defaultdict(Decimal)
    cases: Counter[str] = Counter()
    for plan in plans:
        if plan.case is not None:
            past_due[plan.account.currency] += plan.case.values.past_due
            disputed[plan.account.currency] += plan.case.values.disputed_amount
            cases[plan.account.currency] += 1
    table = Table(title="Chased past due by currency (never summed together)")
    for column in ("Currency", "Cases", "Past due", "Disputed (not chased)"):
        table.add_column(column, justify="left" if column == "Currency" else "right")
    for currency in sorted(cases):
        table.add_row(
            currency,
            str(cases[currency]),
            f"{past_due[currency]:,.2f}",
            f"{disputed[currency]:,.2f}",
        )
    return table


def _skipped_table(skipped: list[SkippedRecord]) -> Table:
    table = Table(title="Skipped rows (fix in the accounting system; the rest still synced)")
    table.add_column("Row")
    table.add_column("Reason")
    for record in skipped:
        table.add_row(record.key, record.reason)
    return table


def _sample(plans: list[AccountPlan]) -> AccountPlan | None:
    """The opened account with the most invoice records: the richest example to show."""
    opened = [p for p in plans if p.case is not None and p.tasks]
    return max(opened, key=lambda p: (len(p.invoices), p.account.text), default=None)


def _account_table(plan: AccountPlan) -> Table:
    table = Table(title=f"Sample account {plan.account.text}")
    table.add_column("Change")
    table.add_column("Key")
    table.add_column("Values")
    if plan.case is not None:
        values = plan.case.values
        table.add_row(
            f"case {plan.case.action.value}",
            plan.case.key,
            f"{values.subject}; past due {values.currency} {values.past_due:,.2f}; "
            f"oldest {values.oldest_days_past_due} days; step {values.step}; "
            f"next action {values.next_action_date or '-'}; priority {values.priority.value}",
        )
    for task in plan.tasks:
        detail = (
            ""
            if task.values is None
            else f"{task.values.subject} (due {task.values.activity_date})"
        )
        table.add_row(f"task {task.action.value}", task.key, detail)
    for invoice in plan.invoices:
        v = invoice.values
        flag = f" DISPUTED ({v.dispute_reason})" if v.disputed else ""
        table.add_row(
            "invoice upsert",
            invoice.key,
            f"{v.number} {v.currency} {v.balance:,.2f} of {v.amount:,.2f}, due {v.due_date}, "
            f"{v.days_past_due} days past due, {v.status.value}{flag}",
        )
    return table


# --- make demo: the whole product against the local org ------------------------------------------

#: Where ``make demo`` keeps the local org and its own state (both reset at every start).
DEMO_ORG_DIR = Path("var/demo-org")
DEMO_WORK_DIR = Path("var/demo")
#: Customers left without a Salesforce Account, to show the unmatched list.
DEMO_UNMATCHED = 2
#: Days the demo moves the org clock and the ledger forward between the two runs.
DEMO_DAYS_LATER = 10
_PROMISE_DAYS = 5
_API_VERSION = "62.0"


@dataclass
class _Story:
    """What the demo did, to print at the end."""

    rows: list[tuple[str, str, str]]
    picks: dict[str, str]

    def add(self, when: str, who: str, what: str) -> None:
        self.rows.append((when, who, what))


def run_demo(
    config: Path | None,
    console: Console | None = None,
    *,
    org_dir: Path = DEMO_ORG_DIR,
    work_dir: Path = DEMO_WORK_DIR,
    customers: int = DEMO_CUSTOMERS,
) -> int:
    """``make demo``: the embedded default end to end, on the local org; the exit code.

    Starts the local org (data under ``org_dir``, reset first so the demo can be run again),
    builds the demo ledger, seeds Accounts for all but :data:`DEMO_UNMATCHED` customers, runs a
    cycle, lets reps log outcomes in the org (a promise that will be kept, one that will be
    broken, a voicemail, a dispute naming an invoice), runs the writeback and a cycle, moves the
    org clock and the ledger :data:`DEMO_DAYS_LATER` days forward (payments arrive), runs again,
    and prints the story and how to look at the org afterwards.
    """
    out = console or Console()
    policy, _ = _read_policy(config, out)
    if policy is None:
        return 2
    config_dir = (config or Path(os.environ.get("SFSYNC_CONFIG", "config/sfsync.yaml"))).parent
    for directory in (org_dir, work_dir):
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
    from sfsync.sandbox.server import start_local_org  # noqa: PLC0415 - heavy, on demand

    server = start_local_org(org_dir, port=0)
    try:
        _tell(out, server, policy, config_dir, work_dir, customers)
    finally:
        server.stop()
    _how_to_look(out, org_dir)
    return 0


def _tell(  # noqa: PLR0917 - one call, from run_demo
    out: Console, server: Any, policy: Policy, config_dir: Path, work_dir: Path, customers: int
) -> None:
    """Run the story against ``server`` and print it."""
    from sqlalchemy import select  # noqa: PLC0415 - heavy imports, on demand

    from sfsync.clock import FixedClock  # noqa: PLC0415
    from sfsync.runner import compile_for_org  # noqa: PLC0415
    from sfsync.settings import Settings  # noqa: PLC0415
    from sfsync.sources.demo import (  # noqa: PLC0415
        DEMO_LAYOUT,
        build_demo_ledger,
        customers_table,
    )
    from sfsync.sources.sql import SqlSource, create_source_engine  # noqa: PLC0415
    from sfsync.store.db import (  # noqa: PLC0415
        create_engine_from_url,
        create_session_factory,
        upgrade_database,
    )
    from sfsync.sync import CycleDeps  # noqa: PLC0415

    start = datetime.combine(DEMO_DATE, time(8), UTC)
    clock = FixedClock(start)
    server.org.clock.set(start, frozen=True)
    store_url = f"sqlite:///{work_dir / 'sfsync.db'}"
    upgrade_database(store_url)
    store = create_engine_from_url(store_url)
    ledger_path = build_demo_ledger(work_dir / "demo-ledger.sqlite", customers=customers)
    ledger_engine = create_source_engine(f"sqlite:///{ledger_path}")
    gateway = _demo_gateway(server, clock)
    try:
        with ledger_engine.connect() as connection:
            names = dict(
                connection.execute(select(customers_table.c.id, customers_table.c.name)).all()
            )
        unmatched = _seed_accounts(gateway, names)
        deps = CycleDeps(
            source=SqlSource(DEMO_SOURCE, ledger_engine, DEMO_LAYOUT, clock),
            gateway=gateway,
            sessions=create_session_factory(store),
            mappings=compile_for_org(config_dir / "mappings.yaml", gateway),
            policy=policy,
            clock=clock,
            settings=Settings(),
        )
        world = _DemoWorld(out, server, clock, deps, ledger_engine, _Story([], {}))
        world.first_day(names, unmatched)
        world.days_later()
    finally:
        gateway.close()
        ledger_engine.dispose()
        store.dispose()


@dataclass
class _DemoWorld:
    """The demo's org, clock, cycle dependencies and ledger, moved through the story."""

    out: Console
    server: Any
    clock: Any
    deps: Any
    ledger_engine: Any
    story: _Story

    def move(self, **delta: int) -> None:
        """Move sfsync's clock and the org's clock together."""
        self.clock.advance(timedelta(**delta))
        self.server.org.clock.set(self.clock.now(), frozen=True)

    def day(self) -> str:
        return f"day {(self.clock.now().date() - DEMO_DATE).days + 1}"

    def first_day(self, names: Mapping[str, str], unmatched: list[str]) -> None:
        """Sync, reps call, the admin links the missing Accounts, writeback and sync."""
        from sfsync.writeback import run_collections  # noqa: PLC0415 - heavy, on demand

        out, story = self.out, self.story
        out.print(f"[bold]sfsync demo[/bold]: {len(names)} customers, local org {self.server.url}")
        out.print(f"\n[bold]Day 1 ({DEMO_DATE.isoformat()}) 08:00[/bold]: first sync")
        first = run_collections(self.deps)
        out.print(_cycle_table("First sync", first.cycle.counts, first.cycle.calls.total))
        out.print(_unmatched_table(first.cycle.unmatched, unmatched))
        opened = first.cycle.counts.get("cases_opened", 0)
        story.add("day 1", "sfsync", f"opened {opened} collections Cases with their Tasks")
        disputes = first.dispute_cases.get("opened", 0)
        story.add("day 1", "sfsync", f"opened {disputes} dispute Cases (disputed in the books)")
        story.add("day 1", "sfsync", f"listed {len(first.cycle.unmatched)} unmatched customers")
        self.move(hours=3)
        _act_as_reps(self.server, self.deps.gateway, story)
        self.move(minutes=30)
        _link_missing(self.deps.gateway, names, unmatched)
        story.add("day 1", "admin", f"created Accounts for {', '.join(unmatched)}")
        self.move(minutes=30)
        out.print("\n[bold]Day 1 12:00[/bold]: writeback and sync after the reps' calls")
        second = run_collections(self.deps)
        out.print(_writeback_table("Writeback", second.writeback.counts))
        out.print(_cycle_table("Sync after the writeback", second.cycle.counts, None))
        cases = second.dispute_cases.get("opened", 0)
        story.add("day 1", "sfsync", "2 promises pending: their cadence pauses")
        story.add("day 1", "sfsync", f"opened {cases} dispute Case for the invoice the rep named")

    def days_later(self) -> None:
        """A payment arrives before the promise date; the other promise lapses."""
        from simple_salesforce.format import format_soql  # noqa: PLC0415 - heavy, on demand

        from sfsync.sources.demo import DemoLedger  # noqa: PLC0415
        from sfsync.writeback import run_collections  # noqa: PLC0415

        story = self.story
        self.move(days=_PROMISE_DAYS - 1)
        books = DemoLedger(self.ledger_engine, self.clock)
        kept = story.picks["kept"]
        paid = _open_balance(self.ledger_engine, kept)
        books.record_payment(kept, paid)
        story.add(self.day(), "accounting", f"{kept} paid USD {paid:,.2f}: everything it owed")
        self.move(days=DEMO_DAYS_LATER - _PROMISE_DAYS + 1)
        self.out.print(
            f"\n[bold]{self.day().capitalize()} ({self.clock.now().date().isoformat()})"
            "[/bold]: the promises are judged"
        )
        third = run_collections(self.deps)
        for key, verdict in third.verdicts:
            customer = key.split(":")[1]
            story.add(self.day(), "sfsync", f"{customer}: promise {verdict.value}")
        for task in self.deps.gateway.query(
            format_soql(
                "SELECT Subject, Priority FROM Task WHERE Collections_Key__c LIKE {}",
                story.picks["broken_case"] + ":promise-%",
            )
        ):
            story.add(
                self.day(), "sfsync", f"follow-up Task ({task['Priority']}): {task['Subject']}"
            )
        self.out.print(_cycle_table(f"Sync on {self.day()}", third.cycle.counts, None))
        self.out.print(_story_table(story))
        self.out.print(_cases_table(self.deps.gateway, story))
        self.out.print(_notes_table(books, story))


def _link_missing(gateway: Any, names: Mapping[str, str], customers: list[str]) -> None:
    """The admin creates the Accounts the first sync listed as unmatched."""
    records = [{"Name": names[ident], "Accounting_Id__c": ident} for ident in customers]
    gateway.upsert("Account", records, external_id_field="Accounting_Id__c")


def _demo_gateway(server: Any, clock: Any) -> Any:
    """The sync's gateway, logged in to the local org by client credentials."""
    from pydantic import SecretStr  # noqa: PLC0415

    from sfsync.salesforce.client import connect  # noqa: PLC0415
    from sfsync.settings import Settings  # noqa: PLC0415

    config = server.org.config
    settings = Settings().salesforce.model_copy(
        update={
            "auth": "client_credentials",
            "login_url": server.url,
            "client_id": config.client_id,
            "client_secret": SecretStr(config.client_secret),
            "ca_bundle": Path(server.ca_path),
            "api_version": _API_VERSION,
        }
    )
    return connect(settings, clock)


def _rep_client(server: Any) -> Any:
    """A rep's simple-salesforce client over HTTPS (a new login: the org clock moved)."""
    from simple_salesforce.api import Salesforce  # noqa: PLC0415

    from sfsync.sandbox.client import LocalOrgSession  # noqa: PLC0415

    config = server.org.config
    return Salesforce(
        consumer_key=config.client_id,
        consumer_secret=config.client_secret,
        domain="localorg.my",
        session=LocalOrgSession(server.url, server.ca_path),
        version=_API_VERSION,
    )


def _seed_accounts(gateway: Any, names: Mapping[str, str]) -> list[str]:
    """Accounts for every customer but the last :data:`DEMO_UNMATCHED`; returns those left out."""
    ids = sorted(names)
    left_out = ids[-DEMO_UNMATCHED:]
    records = [
        {"Name": names[ident], "Accounting_Id__c": ident} for ident in ids if ident not in left_out
    ]
    results = gateway.upsert("Account", records, external_id_field="Accounting_Id__c")
    refused = [result for result in results if not result.ok]
    if refused:
        raise SkippedRecord("Account", f"{len(refused)} demo Accounts refused: {refused[0]}")
    return left_out


def _act_as_reps(server: Any, gateway: Any, story: _Story) -> None:
    """Reps complete four Tasks in the org with outcomes, through simple-salesforce."""
    cases = list(
        gateway.query(
            "SELECT Id, Collections_Key__c, Past_Due_Amount__c FROM Case "
            "WHERE IsClosed = false AND Collections_Currency__c = 'USD' "
            "ORDER BY Collections_Key__c"
        )
    )
    tasks = {
        str(row["WhatId"]): row
        for row in gateway.query_in(
            "Task",
            ["Id", "WhatId", "Collections_Key__c"],
            "WhatId",
            [row["Id"] for row in cases],
            extra_where="IsClosed = false",
        )
    }
    with_task = [case for case in cases if case["Id"] in tasks]
    roles = ("kept", "broken", "voicemail", "dispute")
    if len(with_task) < len(roles):
        raise SkippedRecord("demo", "the demo ledger has too few open Cases with a Task")
    rep = _rep_client(server)
    promise_day = (DEMO_DATE + timedelta(days=_PROMISE_DAYS)).isoformat()
    for role, case in zip(roles, with_task, strict=False):
        customer = str(case["Collections_Key__c"]).split(":")[1]
        story.picks[role] = customer
        story.picks[f"{role}_case"] = str(case["Collections_Key__c"])
        task = tasks[case["Id"]]
        fields: dict[str, object] = {"Status": "Completed"}
        if role in {"kept", "broken"}:
            amount = float(case["Past_Due_Amount__c"])
            fields |= {
                "Collections_Outcome__c": "Promise to Pay",
                "Promise_Date__c": promise_day,
                "Promise_Amount__c": amount,
                "Description": "Customer promised to pay the past-due balance",
            }
            what = f"promise to pay USD {amount:,.2f} by {promise_day}"
        elif role == "voicemail":
            fields |= {"Collections_Outcome__c": "Left Voicemail", "Description": "No reply"}
            what = "left a voicemail"
        else:
            number = _an_invoice_number(gateway, str(case["Id"]))
            fields |= {
                "Collections_Outcome__c": "Disputed",
                "Description": f"Customer disputes {number}: goods arrived damaged",
            }
            what = f"disputed invoice {number}"
        rep.Task.update(task["Id"], fields)
        story.add("day 1", "rep", f"{customer}: {what}")


def _an_invoice_number(gateway: Any, case_id: str) -> str:
    rows = list(
        gateway.query_in(
            "AR_Invoice__c",
            ["Invoice_Number__c", "Due_Date__c"],
            "Case__c",
            [case_id],
            extra_where="Disputed__c = false AND Balance__c > 0",
        )
    )
    rows.sort(key=lambda row: (str(row["Due_Date__c"]), str(row["Invoice_Number__c"])))
    return str(rows[-1]["Invoice_Number__c"])


def _open_balance(engine: Any, customer: str) -> Decimal:
    """Everything the customer still owes in its first currency (undisputed), to pay it off."""
    from sqlalchemy import select  # noqa: PLC0415

    from sfsync.sources.demo import invoices_table  # noqa: PLC0415

    with engine.connect() as connection:
        rows = connection.execute(
            select(invoices_table.c.balance, invoices_table.c.currency)
            .where(
                invoices_table.c.customer_id == customer,
                invoices_table.c.status == "open",
                invoices_table.c.disputed.is_not(True),
            )
            .order_by(invoices_table.c.due_date)
        ).all()
    currency = rows[0].currency
    return sum((Decimal(row.balance) for row in rows if row.currency == currency), Decimal(0))


def _cycle_table(title: str, counts: Mapping[str, int], calls: int | None) -> Table:
    table = Table(title=title)
    table.add_column("What")
    table.add_column("Count", justify="right")
    for name in ("accounts_read", "cases_opened", "cases_updated", "cases_closed",
                 "tasks_created", "tasks_closed", "invoices_upserted", "unmatched"):  # fmt: skip
        table.add_row(name.replace("_", " "), str(counts.get(name, 0)))
    if calls is not None:
        table.add_row("Salesforce API calls", str(calls))
    return table


def _writeback_table(title: str, counts: Mapping[str, int]) -> Table:
    table = Table(title=title)
    table.add_column("What")
    table.add_column("Count", justify="right")
    for name in ("tasks_read", "outcomes_recorded", "promises_recorded", "disputes_recorded",
                 "notes_written"):  # fmt: skip
        table.add_row(name.replace("_", " "), str(counts.get(name, 0)))
    return table


def _unmatched_table(unmatched: tuple[str, ...], left_out: list[str]) -> Table:
    table = Table(title="Customers with no Salesforce Account (listed, never guessed)")
    table.add_column("Customer")
    table.add_column("Fix")
    for customer in sorted(set(unmatched) | set(left_out)):
        table.add_row(customer, f"create an Account with Accounting_Id__c = {customer}")
    return table


def _story_table(story: _Story) -> Table:
    table = Table(title="What happened")
    for column in ("When", "Who", "What"):
        table.add_column(column)
    for row in story.rows:
        table.add_row(*row)
    return table


_ROLES = (
    ("kept", "promise kept"),
    ("broken", "promise broken"),
    ("voicemail", "voicemail"),
    ("dispute", "disputed"),
)


def _cases_table(gateway: Any, story: _Story) -> Table:
    from simple_salesforce.format import format_soql  # noqa: PLC0415

    labels = {story.picks[f"{role}_case"]: label for role, label in _ROLES}
    dispute = story.picks["dispute_case"] + DISPUTE_CASE_SUFFIX
    labels[dispute] = "dispute Case"
    rows = {
        str(row["Collections_Key__c"]): row
        for row in gateway.query(
            format_soql(
                "SELECT Id, Collections_Key__c, Status, Priority, Past_Due_Amount__c, "
                "Disputed_Amount__c, Promise_Status__c FROM Case "
                "WHERE Collections_Key__c IN {}",
                list(labels),
            )
        )
    }
    table = Table(title="The Cases the reps worked, in Salesforce now")
    for column in ("Customer", "Case", "Status, priority", "Past due", "Disputed", "Promise"):
        table.add_column(column)
    for key, label in labels.items():
        row = rows.get(key)
        if row is None:
            continue
        past_due = row["Past_Due_Amount__c"]
        table.add_row(
            key.split(":")[1],
            label,
            f"{row['Status']}, {row['Priority']}",
            "-" if key == dispute else f"{past_due or 0:,.2f}",
            f"{row['Disputed_Amount__c'] or 0:,.2f}",
            str(row["Promise_Status__c"] or "-"),
        )
    return table


def _notes_table(books: Any, story: _Story) -> Table:
    table = Table(title="Notes written back to the accounting system (collection_notes)")
    table.add_column("Customer")
    table.add_column("Note")
    for role, _ in _ROLES:
        customer = story.picks[role]
        for note in books.notes(customer):
            table.add_row(customer, note)
    return table


#: Queries to paste into any client once the org is served again.
EXAMPLE_QUERIES = (
    (
        "SELECT Collections_Key__c, Status, Priority, Past_Due_Amount__c, Promise_Status__c "
        "FROM Case ORDER BY Collections_Key__c"
    ),
    (
        "SELECT Collections_Key__c, Subject, Status, Collections_Outcome__c FROM Task "
        "WHERE IsClosed = true"
    ),
    (
        "SELECT Collections_Key__c, Subject, Owner.Name, Parent.Collections_Key__c FROM Case "
        "WHERE Collections_Key__c LIKE '%:dispute'"
    ),
)


def _how_to_look(out: Console, org_dir: Path) -> None:
    out.print(
        "\n[bold]Look at it yourself[/bold] (the org keeps its data in "
        f"{org_dir}; its clock follows real time after a restart):\n"
        f"  sfsync sandbox serve --data {org_dir} --port 8443\n"
        f"  CA certificate: {org_dir / 'ca.pem'}   credentials: {org_dir / 'org.json'} "
        "(client_id, client_secret; local demo values only)\n"
        "  Example queries (simple-salesforce, or any REST client trusting the CA):"
    )
    for query in EXAMPLE_QUERIES:
        out.print(f"    {query}", markup=False)
