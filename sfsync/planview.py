"""``sfsync plan``: what a sync would change in Salesforce, without writing anything.

Reads the configured source, plans every account against what the sync store says was
already written — loaded by the cycle's own code (:func:`sfsync.sync.load_stored_accounts`),
so the preview is what the next full cycle would do — maps each change through the compiled
field mappings, and prints per object how many records would be created, updated and closed
plus a sample of the exact field dicts that would be sent. Customers the store shows with an
open Case but that have nothing open in the source any more are planned with no rows, as a
cycle does, so their Case shows as a close.

Customers are matched to Accounts as a cycle matches them (the stored link, else a read-only
query by the Account mapping's external id). A customer with no Account is listed apart and
its changes are not counted, since a cycle would not write them — unless
``sync.create_missing_accounts`` is on, when the Account shows as a create. Salesforce is only
read (describe, the match queries); the call counts printed at the end show the writes: always
zero.

The source is the configured one (``source.kind``: demo, sql or csv) read in full, as of the
clock's day, as a first sync of the day reads it; reading a source writes nothing to it. The
store is only read too: a store never migrated (a fresh checkout) plans as empty.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.pretty import Pretty
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sfsync.cases import plan_customer
from sfsync.checks import GatewayFactory, fetch_schema, mapping_sobjects
from sfsync.clock import Clock, today
from sfsync.demo import load_policy
from sfsync.domain import AccountPlan, AccountState, CaseAction, Customer, TaskAction
from sfsync.errors import ConfigError
from sfsync.mappers.compile import CompiledMappings, RecordContext, compile_mappings
from sfsync.mappers.spec import read_mappings
from sfsync.mappers.validate import field_lengths, validate_mappings
from sfsync.policy import Policy
from sfsync.salesforce.ports import SalesforceGateway
from sfsync.settings import Settings, print_problems
from sfsync.sources import CustomerRecords, InvoiceSource, build_source
from sfsync.store import models
from sfsync.store.db import (
    create_engine_from_url,
    create_session_factory,
    current_revision,
    display_url,
    head_revision,
)
from sfsync.sync import CHUNK_CUSTOMERS, StoredAccounts, load_stored_accounts

SAMPLE_SIZE = 3


@dataclass(frozen=True)
class SourceLedger:
    """The configured source read in full as of one day, as a first sync would read it."""

    source: InvoiceSource
    as_of: date

    @property
    def name(self) -> str:
        """The source name keys are built from."""
        return self.source.name

    def customers(self) -> Iterator[CustomerRecords]:
        """Every customer with anything open, streamed."""
        return self.source.iter_customers(self.as_of)


class AccountStateStore(Protocol):
    """What the store knows was written for the accounts of a chunk of customers."""

    def load(self, source: str, chunk: Sequence[CustomerRecords]) -> StoredAccounts:
        """States (customer → currency → state) and stored Account ids of ``chunk``."""
        ...

    def open_case_customers(self, source: str) -> list[str]:
        """Customers of ``source`` with a Case the store knows is open."""
        ...


class NullAccountStateStore:
    """An empty store: nothing written yet, so every account plans from scratch."""

    def load(self, source: str, chunk: Sequence[CustomerRecords]) -> StoredAccounts:
        """No state and no Account for anyone."""
        del source, chunk
        return StoredAccounts({}, {})

    def open_case_customers(self, source: str) -> list[str]:
        """Nobody has an open Case."""
        del source
        return []


class StoreAccountStates:
    """The sync store, read through the cycle's own view (one short session per chunk)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def load(self, source: str, chunk: Sequence[CustomerRecords]) -> StoredAccounts:
        """What a cycle would load for ``chunk``."""
        with self._sessions() as session:
            return load_stored_accounts(session, source, chunk)

    def open_case_customers(self, source: str) -> list[str]:
        """Customers with a link whose Case is open, in id order."""
        statement = (
            select(models.AccountLink.customer_id)
            .where(models.AccountLink.source == source, models.AccountLink.case_open)
            .distinct()
            .order_by(models.AccountLink.customer_id)
        )
        with self._sessions() as session:
            return [str(customer) for customer in session.scalars(statement)]


@contextmanager
def open_store_states(url: str) -> Iterator[AccountStateStore]:
    """The store at ``url`` for reading; never migrated (nothing written yet) is empty.

    Nothing is created or migrated: a store at another revision than this sfsync's is a
    ConfigError pointing at ``sfsync db upgrade``."""
    revision = current_revision(url)
    if revision is None:
        yield NullAccountStateStore()
        return
    head = head_revision()
    if revision != head:
        raise ConfigError(
            f"the store {display_url(url)} is at revision {revision}, this sfsync needs {head}; "
            "run sfsync db upgrade first"
        )
    engine = create_engine_from_url(url)
    try:
        yield StoreAccountStates(create_session_factory(engine))
    finally:
        engine.dispose()


def source_for(settings: Settings, clock: Clock) -> SourceLedger:
    """The configured source (``source.kind``), read as of the clock's day."""
    return SourceLedger(build_source(settings.source, clock=clock), today(clock))


# --------------------------------------------------------------------------------------------
# The preview


@dataclass
class ObjectCounts:
    """How many records of one object would be created, updated and closed."""

    creates: int = 0
    updates: int = 0
    closes: int = 0


@dataclass
class PlanPreview:
    """Counts per Salesforce object and a sample of mapped records for each kind of change."""

    accounts: int = 0
    skipped: int = 0
    counts: dict[str, ObjectCounts] = field(default_factory=dict)
    samples: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    #: customer id → name: customers with changes but no Account (nothing would be written).
    unmatched: dict[str, str] = field(default_factory=dict)

    def count(self, sobject: str) -> ObjectCounts:
        """The counts of ``sobject`` (created on first use)."""
        return self.counts.setdefault(sobject, ObjectCounts())

    def add_sample(self, sobject: str, action: str, record: dict[str, Any], size: int) -> None:
        """Keep the first ``size`` records of each (object, action)."""
        kept = self.samples.setdefault((sobject, action), [])
        if len(kept) < size:
            kept.append(record)


def preview_plan(
    source: SourceLedger,
    states: AccountStateStore,
    policy: Policy,
    mappings: CompiledMappings,
    gateway: SalesforceGateway,
    *,
    create_missing_accounts: bool = False,
    sample_size: int = SAMPLE_SIZE,
) -> PlanPreview:
    """Plan every customer of ``source`` as a cycle would and map each change; Salesforce is
    only queried (to match Accounts) and nothing is written anywhere."""
    preview = PlanPreview()
    for chunk in _chunks(_with_open_cases(source, states)):
        stored = states.load(source.name, chunk)
        planned: dict[str, list[AccountPlan]] = {}
        names: dict[str, str] = {}
        for rows in chunk:
            result = plan_customer(
                source.name,
                rows.customer,
                rows.invoices,
                rows.payments,
                states=stored.states.get(rows.customer.id, {}),
                policy=policy,
                as_of=source.as_of,
            )
            preview.skipped += len(result.skipped) + len(rows.skipped)
            plans = [plan for plan in result.plans if not plan.is_empty]
            if plans:
                planned[rows.customer.id] = plans
                names[rows.customer.id] = rows.customer.name
        unmatched = _unmatched(
            gateway, mappings, [c for c in planned if c not in stored.account_ids]
        )
        for customer, plans in planned.items():
            if customer in unmatched:
                if not create_missing_accounts:
                    preview.unmatched[customer] = names[customer]
                    continue
                preview.count(mappings.account.sobject).creates += 1
                preview.add_sample(
                    mappings.account.sobject,
                    "create",
                    {mappings.account.external_id: customer, "Name": names[customer][:255]},
                    sample_size,
                )
            for plan in plans:
                preview.accounts += 1
                state = stored.states.get(customer, {}).get(plan.account.currency, AccountState())
                _add_plan(preview, plan, state, mappings, sample_size)
    return preview


def _with_open_cases(source: SourceLedger, states: AccountStateStore) -> Iterator[CustomerRecords]:
    """The source's open customers, then each customer the store shows with an open Case that
    the source no longer yields, with no rows (its Case closes), as a cycle plans it."""
    seen: set[str] = set()
    for rows in source.customers():
        seen.add(rows.customer.id)
        yield rows
    for customer in states.open_case_customers(source.name):
        if customer not in seen:
            yield CustomerRecords(Customer(customer, customer))


def _chunks(rows: Iterator[CustomerRecords]) -> Iterator[list[CustomerRecords]]:
    chunk: list[CustomerRecords] = []
    for records in rows:
        chunk.append(records)
        if len(chunk) >= CHUNK_CUSTOMERS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _unmatched(
    gateway: SalesforceGateway, mappings: CompiledMappings, customers: Sequence[str]
) -> set[str]:
    """The ``customers`` no Account carries as its external id (one read-only query per
    URI-sized part of the list; matched case-insensitively, as a cycle matches)."""
    if not customers:
        return set()
    mapping = mappings.account
    rows = gateway.query_in(
        mapping.sobject, ["Id", mapping.external_id], mapping.external_id, list(customers)
    )
    found = {str(row[mapping.external_id]).lower() for row in rows}
    return {customer for customer in customers if customer.lower() not in found}


def _add_plan(
    preview: PlanPreview,
    plan: AccountPlan,
    state: AccountState,
    mappings: CompiledMappings,
    size: int,
) -> None:
    account = plan.account
    case = plan.case
    if case is not None:
        sobject = mappings.case.sobject
        counts = preview.count(sobject)
        if case.action is CaseAction.CLOSE:
            counts.closes += 1
            preview.add_sample(sobject, "close", {mappings.case.external_id: case.key}, size)
        else:
            record = mappings.case_record(case.values, RecordContext.for_case(account, case))
            action = "create" if case.action is CaseAction.OPEN else "update"
            if case.action is CaseAction.OPEN:
                counts.creates += 1
            else:
                counts.updates += 1
            preview.add_sample(
                sobject, action, {mappings.case.external_id: case.key, **record}, size
            )
    for task in plan.tasks:
        sobject = mappings.task.sobject
        counts = preview.count(sobject)
        if task.action is TaskAction.CLOSE or task.values is None:
            counts.closes += 1
            preview.add_sample(sobject, "close", {mappings.task.external_id: task.key}, size)
            continue
        counts.creates += 1
        record = mappings.task_record(task.values, RecordContext.for_task(account, task))
        preview.add_sample(sobject, "create", {mappings.task.external_id: task.key, **record}, size)
    for invoice in plan.invoices:
        sobject = mappings.invoice.sobject
        counts = preview.count(sobject)
        action = "update" if invoice.key in state.invoice_hashes else "create"
        if action == "create":
            counts.creates += 1
        else:
            counts.updates += 1
        record = mappings.invoice_record(
            invoice.values, RecordContext.for_invoice(account, invoice)
        )
        preview.add_sample(
            sobject, action, {mappings.invoice.external_id: invoice.key, **record}, size
        )


def print_preview(preview: PlanPreview, console: Console) -> None:
    """The counts table, then each sample record as Salesforce would receive it."""
    table = Table(title=f"Planned changes ({preview.accounts} accounts; dry run, nothing written)")
    for column in ("Object", "Create", "Update", "Close"):
        table.add_column(column, justify="left" if column == "Object" else "right")
    for sobject, counts in preview.counts.items():
        table.add_row(sobject, str(counts.creates), str(counts.updates), str(counts.closes))
    console.print(table)
    console.print(f"Source rows skipped: {preview.skipped}")
    if preview.unmatched:
        console.print(
            f"\nCustomers without an Account ({len(preview.unmatched)}; not counted above, "
            "nothing would be written for them):"
        )
        for customer, name in sorted(preview.unmatched.items()):
            console.print(f"  {customer}  {name}")
    for (sobject, action), records in preview.samples.items():
        console.print(f"\nSample {sobject} {action} ({len(records)}):")
        for record in records:
            console.print(Pretty(record))


# --------------------------------------------------------------------------------------------
# The command


def run_plan(
    settings: Settings,
    config_path: Path,
    gateway_factory: GatewayFactory,
    clock: Clock,
    console: Console | None = None,
    *,
    states: AccountStateStore | None = None,
) -> int:
    """``sfsync plan``: validate the mappings against the org, then preview against the sync
    store of ``settings`` (or ``states`` when given); the exit status."""
    out = console or Console(highlight=False, soft_wrap=True)
    policy = _policy(config_path.with_name("policy.yaml"))
    mappings_path = config_path.with_name("mappings.yaml")
    loaded, problems = read_mappings(mappings_path)
    if loaded is None or problems:
        print_problems([problem.as_config_problem() for problem in problems])
        return 1
    with gateway_factory() as gateway:
        schema = fetch_schema(gateway, mapping_sobjects(loaded))
        problems = validate_mappings(loaded, schema.describes, schema.visible)
        if problems:
            print_problems([problem.as_config_problem() for problem in problems])
            return 1
        compiled = compile_mappings(loaded, field_lengths(schema.describes))
        source = source_for(settings, clock)
        with _states(settings, states) as store:
            preview = preview_plan(
                source,
                store,
                policy,
                compiled,
                gateway,
                create_missing_accounts=settings.sync.create_missing_accounts,
            )
        out.print(f"sfsync plan for source {source.name} as of {source.as_of.isoformat()}")
        print_preview(preview, out)
        calls = gateway.calls
        out.print(f"\nSalesforce calls: {calls.read} reads, {calls.write} writes")
    return 0


@contextmanager
def _states(settings: Settings, given: AccountStateStore | None) -> Iterator[AccountStateStore]:
    if given is not None:
        yield given
        return
    with open_store_states(settings.store.url) as store:
        yield store


def _policy(path: Path) -> Policy:
    """policy.yaml, or a ConfigError pointing at ``sfsync config check``."""
    try:
        return load_policy(path)
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ConfigError(
            f"{path} cannot be used ({type(error).__name__}); run sfsync config check for details"
        ) from None
