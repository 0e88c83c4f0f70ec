"""Apply: execute account plans through the gateway in batches and record every outcome.

Apply makes no business decisions (DESIGN.md "Plan, then apply"): the plan says what to open,
update, close or create; apply turns each change into a Salesforce record with the compiled field
mappings, sends them in sObject Collections batches, and records each item as applied, skipped
(with the reason) or failed (with Salesforce's code and message, for the dead-letter table).

Order of one chunk of accounts, chosen so every write is keyed and nothing waits for an id:

1. Cases, upserted by ``Collections_Key__c``. A close carries the org's closed status, read from
   ``CaseStatus`` once per run and only when something closes.
2. Invoice records, upserted by ``Invoice_Key__c``; the Case lookup is the relationship form
   ``Case__r: {Collections_Key__c: ...}``, so they need the Case to exist, not its id.
3. Tasks: closes are updates by the ids the ledger holds; creates follow the ledger protocol —
   ``planned → sent`` is committed *before* the call, then ``created`` / ``failed`` /
   ``unknown`` go into the run's final transaction.

Owners (:mod:`sfsync.owners`): every owner rule of a chunk is resolved before its first write
(an unknown queue is a ConfigError then); a new Case gets ``OwnerId`` from its rule, an update
never changes it; every created Task gets a user (never a queue) or no ``OwnerId`` at all.

An account whose Case write failed gets none of its other changes sent (they would only fail on
the missing Case); they are skipped with that reason and planned again next cycle.

Nothing here commits except the ``sent`` markers; :class:`Outcomes` is what the sync cycle
writes in its one final transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from sfsync.bulkstore import mark_tasks_sent
from sfsync.domain import (
    AccountKey,
    AccountPlan,
    CaseAction,
    OwnerRule,
    TaskAction,
    TaskChange,
)
from sfsync.errors import BudgetExhaustedError, ConfigError
from sfsync.mappers.compile import CompiledMappings, RecordContext
from sfsync.owners import OwnerResolver
from sfsync.salesforce.ports import ItemResult, SalesforceGateway
from sfsync.store.models import TaskState
from sfsync.store.repositories import AccountLinkValues, InvoiceLinkValues

#: Dead-letter operations, as stored in ``dead_letters.operation``.
UPSERT, CREATE, UPDATE = "upsert", "create", "update"
#: The most records handed to the gateway in one call: it never switches to Bulk API for them
#: (relationship values by external id are JSON objects, which Bulk CSV cannot carry).
MAX_RECORDS_PER_CALL = 2_000


@dataclass(frozen=True, slots=True)
class AccountWork:
    """One account's plan with what the store knows that applying it needs.

    ``link`` is the account's link row as stored (``episode`` 0 and no ``case_key`` before its
    first Case); ``account_id`` the matched Salesforce Account; ``task_ids`` the Salesforce ids of
    the account's created Tasks (to close them); ``task_states`` the ledger state of every key
    the ledger holds for the account.
    """

    plan: AccountPlan
    link: AccountLinkValues
    account_id: str
    task_ids: Mapping[str, str] = field(default_factory=dict)
    task_states: Mapping[str, TaskState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeadLetterValues:
    """A refused write as ``record_dead_letter`` stores it."""

    sobject: str
    record_key: str
    operation: str
    payload: dict[str, Any]
    error_code: str
    message: str


@dataclass
class Outcomes:
    """Everything a run applied, skipped or failed: written in the run's final transaction."""

    links: dict[AccountKey, AccountLinkValues] = field(default_factory=dict)
    invoice_links: list[InvoiceLinkValues] = field(default_factory=list)
    tasks_created: list[tuple[str, str]] = field(default_factory=list)
    tasks_failed: list[tuple[str, str]] = field(default_factory=list)
    tasks_unknown: list[str] = field(default_factory=list)
    tasks_closed: list[str] = field(default_factory=list)
    dead_letters: list[DeadLetterValues] = field(default_factory=list)
    succeeded: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "cases_opened",
                "cases_updated",
                "cases_closed",
                "tasks_created",
                "tasks_closed",
                "invoices_upserted",
                "skipped",
                "dead_lettered",
            ),
            0,
        )
    )

    def add(self, name: str, amount: int = 1) -> None:
        """Bump a count of the run summary."""
        self.counts[name] = self.counts.get(name, 0) + amount

    @property
    def has_failures(self) -> bool:
        """Some write was refused or left in doubt: the watermark must not move past it."""
        return bool(self.dead_letters or self.tasks_unknown or self.tasks_failed)


class OrgStatuses:
    """The org's closed Case and Task statuses, read once per run and only when needed."""

    def __init__(self, gateway: SalesforceGateway) -> None:
        self._gateway = gateway
        self._found: dict[str, str] = {}

    def closed(self, sobject: str) -> str:
        """``ApiName`` of the first closed status of ``sobject`` (``Case`` or ``Task``)."""
        if sobject not in self._found:
            table = f"{sobject}Status"
            rows = list(
                self._gateway.query(
                    f"SELECT ApiName FROM {table} WHERE IsClosed = true ORDER BY SortOrder"  # noqa: S608 - fixed names
                )
            )
            if not rows:
                raise ConfigError(f"no {table} value counts as closed; mark one as closed in Setup")
            self._found[sobject] = str(rows[0]["ApiName"])
        return self._found[sobject]


#: Opens a state-store session (a ``sessionmaker``).
SessionFactory = Callable[[], Session]


class Applier:
    """Applies chunks of :class:`AccountWork` for one run, collecting :class:`Outcomes`."""

    def __init__(
        self,
        gateway: SalesforceGateway,
        mappings: CompiledMappings,
        sessions: SessionFactory,
        clock_now: Callable[[], Any],
        *,
        batch_size: int = 200,
        owners: OwnerResolver | None = None,
    ) -> None:
        self._gateway = gateway
        self.owners = owners or OwnerResolver(gateway, case_external_id=mappings.case.external_id)
        self._mappings = mappings
        self._sessions = sessions
        self._now = clock_now
        self._per_call = max(batch_size, MAX_RECORDS_PER_CALL // batch_size * batch_size)
        self.statuses = OrgStatuses(gateway)
        self.outcomes = Outcomes()
        self.stopped_budget = False

    # --- one chunk ------------------------------------------------------------------------------

    def apply(self, work: Sequence[AccountWork]) -> None:
        """Apply every change of ``work``; a spent API budget stops writes cleanly."""
        if self.stopped_budget or not work:
            return
        links = {item.plan.account: item.link for item in work}
        self._prepare_owners(work)
        try:
            failed_cases = self._apply_cases(work, links)
            ready = [item for item in work if item.plan.account not in failed_cases]
            for item in work:
                if item.plan.account in failed_cases:
                    self._skip_rest(item, "its Case could not be written")
            self._apply_invoices(ready, links)
            self._close_tasks(ready)
            self._create_tasks(ready, links)
        except BudgetExhaustedError:
            self.stopped_budget = True

    def _skip_rest(self, item: AccountWork, reason: str) -> None:
        for change in item.plan.invoices:
            self.outcomes.skipped.append((change.key, reason))
        for task in item.plan.tasks:
            self.outcomes.skipped.append((task.key, reason))
        self.outcomes.add("skipped", len(item.plan.invoices) + len(item.plan.tasks))

    # --- Cases ----------------------------------------------------------------------------------

    def _apply_cases(
        self, work: Sequence[AccountWork], links: dict[AccountKey, AccountLinkValues]
    ) -> set[AccountKey]:
        mapping = self._mappings.case
        items = [item for item in work if item.plan.case is not None]
        records: list[dict[str, Any]] = []
        for item in items:
            change = item.plan.case
            assert change is not None  # noqa: S101 - filtered above
            record = mapping.record(
                change.values, RecordContext.for_case(item.plan.account, change)
            )
            record[mapping.external_id] = change.key
            if change.action is CaseAction.CLOSE:
                record["Status"] = self.statuses.closed("Case")
            if change.action is CaseAction.OPEN:  # owner hook: set on creation only
                owner = self.owners.case_owner(
                    change.values.owner, key=change.key, account_id=item.account_id
                )
                _set_owner(record, owner)
                self.owners.remember_case_owner(change.key, owner)
            records.append(record)
        results = self._send(
            records, lambda part: self._upsert(mapping.sobject, mapping.external_id, part)
        )
        failed: set[AccountKey] = set()
        for item, record, result in zip(items, records, results, strict=True):
            change = item.plan.case
            assert change is not None  # noqa: S101 - filtered above
            if not result.ok:
                failed.add(item.plan.account)
                self._fail(mapping.sobject, change.key, UPSERT, record, result, mapping.external_id)
                continue
            self.outcomes.succeeded.append((mapping.sobject, change.key))
            links[item.plan.account] = _replace_link(
                links[item.plan.account],
                episode=change.episode,
                case_key=change.key,
                case_id=result.id or links[item.plan.account].case_id,
                case_open=change.action is not CaseAction.CLOSE,
                case_hash=change.content_hash,
            )
            self.outcomes.add(f"cases_{_CASE_COUNTS[change.action]}")
        for item in work:
            self.outcomes.links[item.plan.account] = links[item.plan.account]
        return failed

    # --- invoice records ------------------------------------------------------------------------

    def _apply_invoices(
        self, work: Sequence[AccountWork], links: dict[AccountKey, AccountLinkValues]
    ) -> None:
        mapping = self._mappings.invoice
        changes = []
        records: list[dict[str, Any]] = []
        for item in work:
            for change in item.plan.invoices:
                record = mapping.record(
                    change.values, RecordContext.for_invoice(item.plan.account, change)
                )
                record[mapping.external_id] = change.key
                changes.append((item, change))
                records.append(record)
        results = self._send(
            records, lambda part: self._upsert(mapping.sobject, mapping.external_id, part)
        )
        for (item, change), record, result in zip(changes, records, results, strict=True):
            if not result.ok:
                self._fail(mapping.sobject, change.key, UPSERT, record, result, mapping.external_id)
                continue
            case_key = change.case_key or links[item.plan.account].case_key
            self.outcomes.invoice_links.append(
                InvoiceLinkValues(
                    invoice_key=change.key,
                    status=change.values.status.value,
                    salesforce_id=result.id,
                    case_key=case_key,
                    content_hash=change.content_hash,
                )
            )
            self.outcomes.succeeded.append((mapping.sobject, change.key))
            self.outcomes.add("invoices_upserted")

    # --- Tasks ----------------------------------------------------------------------------------

    def _close_tasks(self, work: Sequence[AccountWork]) -> None:
        sobject = self._mappings.task.sobject
        keys: list[str] = []
        records: list[dict[str, Any]] = []
        for item in work:
            for task in item.plan.tasks:
                if task.action is not TaskAction.CLOSE:
                    continue
                task_id = item.task_ids.get(task.key)
                if task_id is None:
                    self.outcomes.skipped.append((task.key, "no Salesforce id in the ledger"))
                    self.outcomes.add("skipped")
                    continue
                keys.append(task.key)
                records.append({"Id": task_id, "Status": self.statuses.closed("Task")})
        results = self._send(records, lambda part: self._gateway.update(sobject, part))
        for key, record, result in zip(keys, records, results, strict=True):
            if result.ok:
                self.outcomes.tasks_closed.append(key)
                self.outcomes.succeeded.append((sobject, key))
                self.outcomes.add("tasks_closed")
            else:
                self._fail(sobject, key, UPDATE, record, result)

    def _create_tasks(
        self, work: Sequence[AccountWork], links: Mapping[AccountKey, AccountLinkValues]
    ) -> None:
        mapping = self._mappings.task
        pending: list[tuple[AccountWork, TaskChange]] = []
        records: list[dict[str, Any]] = []
        self.owners.load_cases(  # owner hook: the Cases' owners as they are now
            task.case_key
            for item in work
            for task in _creates(item)
            if task.case_key is not None and task.values is not None
            and task.values.owner.kind == "case_owner"
        )  # fmt: skip
        for item in work:
            for task in item.plan.tasks:
                if task.action is not TaskAction.CREATE or task.values is None:
                    continue
                state = item.task_states.get(task.key)
                if state in (TaskState.CREATED, TaskState.CLOSED, TaskState.SENT):
                    continue  # the ledger already holds it (or a concurrent writer does)
                record = mapping.record(
                    task.values, RecordContext.for_task(item.plan.account, task)
                )
                record[mapping.external_id] = task.key
                if task.case_key is None and "What" not in record:
                    # A reminder has no Case yet: it hangs from the matched Account.
                    record.setdefault("WhatId", links[item.plan.account].salesforce_account_id)
                _set_owner(  # owner hook: a user, never a queue
                    record,
                    self.owners.task_owner(
                        task.values.owner,
                        key=task.key,
                        account_id=item.account_id,
                        case_key=task.case_key,
                    ),
                )
                pending.append((item, task))
                records.append(record)
        for start in range(0, len(records), self._per_call):
            part = slice(start, start + self._per_call)
            self._send_tasks(pending[part], records[part])

    def _send_tasks(
        self, pending: list[tuple[AccountWork, TaskChange]], records: list[dict[str, Any]]
    ) -> None:
        """Ledger ``sent`` committed first, then one create call; outcomes for the final commit."""
        mapping = self._mappings.task
        with self._sessions() as session:
            sent = mark_tasks_sent(
                session,
                [
                    (task.key, task.case_key or item.plan.account.text, _step(task))
                    for item, task in pending
                ],
                at=self._now(),
            )
            session.commit()
        held = [index for index, (_, task) in enumerate(pending) if task.key not in sent]
        for index in reversed(held):  # another writer holds these keys: not ours to send
            self.outcomes.skipped.append((pending[index][1].key, "the task ledger holds it"))
            self.outcomes.add("skipped")
            del pending[index]
            del records[index]
        if not records:
            return
        try:
            results = self._gateway.create(mapping.sobject, records)
        except BudgetExhaustedError:
            self.outcomes.tasks_unknown.extend(task.key for _, task in pending)
            raise
        for (_, task), record, result in zip(pending, records, results, strict=True):
            if result.ok and result.id:
                self.outcomes.tasks_created.append((task.key, result.id))
                self.outcomes.succeeded.append((mapping.sobject, task.key))
                self.outcomes.add("tasks_created")
            elif result.outcome_unknown:
                self.outcomes.tasks_unknown.append(task.key)
            else:
                self.outcomes.tasks_failed.append((task.key, f"{result.code}: {result.message}"))
                self._fail(mapping.sobject, task.key, CREATE, record, result)

    # --- owners (sfsync.owners) -----------------------------------------------------------------

    def _prepare_owners(self, work: Sequence[AccountWork]) -> None:
        """Resolve the owner rules before the first write that needs an owner; read the Account
        owners the chunk needs. A chunk that creates nothing (invoice updates, closes) resolves
        nothing, so such a cycle pays no owner query."""
        rules = [rule for item in work for rule in _rules_of(item)]
        if rules:
            self.owners.check(rules)
        self.owners.load_accounts(
            item.account_id
            for item in work
            if any(_needs_account_owner(task) for task in _creates(item))
            or (_opens_case(item) and any(r.kind == "account_owner" for r in _rules_of(item)))
        )

    # --- plumbing -------------------------------------------------------------------------------

    def _upsert(
        self, sobject: str, external_id: str, part: list[dict[str, Any]]
    ) -> list[ItemResult]:
        return self._gateway.upsert(sobject, part, external_id_field=external_id)

    def _send(
        self,
        records: list[dict[str, Any]],
        call: Callable[[list[dict[str, Any]]], list[ItemResult]],
    ) -> list[ItemResult]:
        """``records`` in calls of at most :data:`MAX_RECORDS_PER_CALL` (the gateway batches)."""
        results: list[ItemResult] = []
        for start in range(0, len(records), self._per_call):
            results.extend(call(records[start : start + self._per_call]))
        return results

    def _fail(  # noqa: PLR0917 - one call site per write kind; all positional reads clearly
        self,
        sobject: str,
        key: str,
        operation: str,
        record: dict[str, Any],
        result: ItemResult,
        external_id: str | None = None,
    ) -> None:
        payload: dict[str, Any] = {"record": record}
        if external_id is not None:
            payload["external_id_field"] = external_id
        self.outcomes.dead_letters.append(
            DeadLetterValues(
                sobject=sobject,
                record_key=key,
                operation=operation,
                payload=payload,
                error_code=result.code or "UNKNOWN_ERROR",
                message=result.message or "Salesforce gave no message",
            )
        )
        self.outcomes.add("dead_lettered")


_CASE_COUNTS = {CaseAction.OPEN: "opened", CaseAction.UPDATE: "updated", CaseAction.CLOSE: "closed"}


def _opens_case(item: AccountWork) -> bool:
    return item.plan.case is not None and item.plan.case.action is CaseAction.OPEN


def _creates(item: AccountWork) -> list[TaskChange]:
    return [task for task in item.plan.tasks if task.action is TaskAction.CREATE]


def _rules_of(item: AccountWork) -> list[OwnerRule]:
    rules = [task.values.owner for task in _creates(item) if task.values is not None]
    case = item.plan.case
    if case is not None and case.action is CaseAction.OPEN:
        rules.append(case.values.owner)
    return rules


def _needs_account_owner(task: TaskChange) -> bool:
    """``account_owner``, or ``case_owner`` of a reminder (no Case yet: the account owner)."""
    rule = task.values.owner if task.values is not None else None
    return rule is not None and (
        rule.kind == "account_owner" or (rule.kind == "case_owner" and task.case_key is None)
    )


def _set_owner(record: dict[str, Any], owner_id: str | None) -> None:
    """``OwnerId`` when the rule resolved to someone; otherwise the integration user keeps it."""
    if owner_id is not None:
        record["OwnerId"] = owner_id


def _step(task: TaskChange) -> str:
    return task.values.step if task.values is not None else task.key.rsplit(":", 1)[-1]


def _replace_link(link: AccountLinkValues, **changes: Any) -> AccountLinkValues:
    return replace(link, **changes)


def keys_of(pairs: Iterable[tuple[str, str]]) -> list[str]:
    """The first element of each pair (keys of ``tasks_created`` and friends)."""
    return [key for key, _ in pairs]
