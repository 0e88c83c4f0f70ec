"""``sfsync plan``: what a sync would change in Salesforce, without writing anything.

Reads the configured source, plans every account against the store's current state with the
pure planning core, maps each change through the compiled field mappings, and prints per
object how many records would be created, updated and closed plus a sample of the exact field
dicts that would be sent. Salesforce is only read (describe, to validate and compile the
mappings); the call counts printed at the end show the writes: always zero.

The source is the configured one (``source.kind``: demo, sql or csv) read in full, as of the
clock's day, as a first sync reads it; reading a source writes nothing to it.

:class:`AccountStateStore` says what was already written for a customer's accounts;
:class:`NullAccountStateStore` (an empty store: everything is new) is used until the sync layer's
store-backed view is passed in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.pretty import Pretty
from rich.table import Table

from sfsync.cases import plan_customer
from sfsync.checks import GatewayFactory, fetch_schema, mapping_sobjects
from sfsync.clock import Clock, today
from sfsync.demo import load_policy
from sfsync.domain import AccountPlan, AccountState, CaseAction, TaskAction
from sfsync.errors import ConfigError
from sfsync.mappers.compile import CompiledMappings, RecordContext, compile_mappings
from sfsync.mappers.spec import read_mappings
from sfsync.mappers.validate import field_lengths, validate_mappings
from sfsync.policy import Policy
from sfsync.settings import Settings, print_problems
from sfsync.sources import CustomerRecords, InvoiceSource, build_source

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
    """What the store knows was written for a customer's accounts, by currency."""

    def states_for(self, source: str, customer_id: str) -> Mapping[str, AccountState]:
        """Currency → state; a currency never written is absent."""
        ...


class NullAccountStateStore:
    """An empty store: nothing written yet, so every account plans from scratch."""

    def states_for(self, source: str, customer_id: str) -> Mapping[str, AccountState]:
        """No state for anyone."""
        del source, customer_id
        return {}


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
    sample_size: int = SAMPLE_SIZE,
) -> PlanPreview:
    """Plan every customer of ``source`` and map each change; nothing is written anywhere."""
    preview = PlanPreview()
    for rows in source.customers():
        planned = plan_customer(
            source.name,
            rows.customer,
            rows.invoices,
            rows.payments,
            states=states.states_for(source.name, rows.customer.id),
            policy=policy,
            as_of=source.as_of,
        )
        preview.skipped += len(planned.skipped) + len(rows.skipped)
        for plan in planned.plans:
            preview.accounts += 1
            state = states.states_for(source.name, plan.account.customer_id).get(
                plan.account.currency, AccountState()
            )
            _add_plan(preview, plan, state, mappings, sample_size)
    return preview


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
    """``sfsync plan``: validate the mappings against the org, then preview; the exit status."""
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
        preview = preview_plan(source, states or NullAccountStateStore(), policy, compiled)
        out.print(f"sfsync plan for source {source.name} as of {source.as_of.isoformat()}")
        print_preview(preview, out)
        calls = gateway.calls
        out.print(f"\nSalesforce calls: {calls.read} reads, {calls.write} writes")
    return 0


def _policy(path: Path) -> Policy:
    """policy.yaml, or a ConfigError pointing at ``sfsync config check``."""
    try:
        return load_policy(path)
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise ConfigError(
            f"{path} cannot be used ({type(error).__name__}); run sfsync config check for details"
        ) from None
