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
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from sfsync.cases import plan_customer
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


def run_demo(config: Path | None, console: Console | None = None) -> int:
    """Plan the demo ledger against empty state and print what would change; the exit code."""
    out = console or Console()
    sfsync_yaml = config or Path(os.environ.get("SFSYNC_CONFIG", "config/sfsync.yaml"))
    policy_path = sfsync_yaml.parent / "policy.yaml"
    try:
        policy = load_policy(policy_path)
    except OSError as error:
        out.print(f"[red]cannot read {policy_path}: {error.strerror}[/red]")
        return 2
    except yaml.YAMLError as error:
        out.print(f"[red]{policy_path} is not valid YAML: {error}[/red]")
        return 2
    except ValidationError as error:
        out.print(f"[red]{policy_path} is invalid:[/red]")
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"])
            out.print(f"  {where}: {item['msg']}")
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


__all__ = ["DEMO_DATE", "DemoCustomer", "generate_ledger", "load_policy", "run_demo"]
