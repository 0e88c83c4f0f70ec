"""Plan the Case, Task and invoice-record changes of one collections account. Pure.

``plan_account(ledger, state, policy, as_of)`` compares what the account *should* look like in
Salesforce today with what the store says was written (:class:`~sfsync.domain.AccountState`) and
returns an immutable :class:`~sfsync.domain.AccountPlan`; an account already up to date gives an
empty plan. ``apply_plan_to_state`` is the state the store holds once a plan is applied.

Rules (also in ``docs/planning.md``):

* **Account** = customer + currency. Amounts in different currencies are never summed; a customer
  owing USD and EUR has two Cases, keyed ``<source>:<customer>:<currency>:<episode>``.
* **Chased balance**: open, undisputed invoices, net of unapplied payments and credits (oldest
  due first). Disputed invoices are shown (flag, ``disputed_amount``) but never chased.
* **Episode**: a Case is open iff the chased past-due balance is above the tolerance
  (``min_balance``). When it falls to or below it, the Case closes (the gateway picks the org's
  closed status) and its open Tasks close. A later delinquency opens episode ``n + 1``.
* **Cadence** inside an episode: the reference is the oldest remaining past-due invoice; the step
  is the latest one whose ``offset_days`` it has reached. When an account jumps several steps at
  once only that latest step is created, and the ladder never goes down within an episode: a
  partial payment that makes the account younger moves the next action date, but a step at or
  below one already created is not created again (Task key ``<case key>:<step>``).
* **Reminders** (``offset_days <= 0``) go out while no Case is open, about the earliest invoice not
  yet past due, when the balance coming due is above the tolerance. They hang from the Account
  (key ``<account>:due-<invoice id>:<step>``) and close once that invoice is no longer the one
  coming due (paid, or past due and handed to a Case).
* **Promise pending** pauses the cadence (no new Task); the next action date becomes the day the
  promise is judged (promise date + grace days). A broken promise raises the Case priority and
  creates one follow-up Task (``promises.broken_follow_up``), keyed by the promise.
* **Invoice records**: every open invoice of the account (disputed ones flagged) and every invoice
  written before whose values changed (so a paid invoice shows its final status). Days past due
  stop counting once an invoice is closed, so a paid invoice is written once, not daily. Records
  link to the Case planned (open, update or close); with no Case they keep their link.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal

from sfsync.aging import ChasedInvoice, age_balances, chase_invoices, unapplied_credit
from sfsync.domain import (
    AccountKey,
    AccountPlan,
    AccountState,
    CaseAction,
    CaseChange,
    CaseValues,
    Customer,
    Invoice,
    InvoiceChange,
    InvoiceValues,
    Payment,
    Priority,
    PromiseStatus,
    TaskAction,
    TaskChange,
    TaskValues,
    canonical_money,
    content_hash,
    parse_invoice,
)
from sfsync.errors import SkippedRecord
from sfsync.policy import CadenceStep, Policy

_ZERO = Decimal(0)
#: ``TaskValues.step`` of the follow-up Task a broken promise creates (key
#: ``<case key>:promise-<promise id>``; step names cannot contain ``-``, so it never collides).
BROKEN_PROMISE_STEP = "broken_promise"


@dataclass(frozen=True, slots=True)
class AccountLedger:
    """The valid invoices and payments of one account (customer + currency)."""

    key: AccountKey
    customer: Customer
    invoices: tuple[Invoice, ...] = ()
    payments: tuple[Payment, ...] = ()


@dataclass(frozen=True, slots=True)
class CustomerLedgers:
    """A customer's ledgers, one per currency, and the rows that could not be used."""

    ledgers: tuple[AccountLedger, ...]
    skipped: tuple[SkippedRecord, ...]


@dataclass(frozen=True, slots=True)
class CustomerPlan:
    """The plans of a customer's accounts and the rows skipped on the way."""

    plans: tuple[AccountPlan, ...]
    skipped: tuple[SkippedRecord, ...]


def build_ledgers(
    source: str,
    customer: Customer,
    invoice_records: Iterable[Mapping[str, object] | Invoice],
    payments: Iterable[Payment] = (),
) -> CustomerLedgers:
    """Validate a customer's rows and split them by currency; a bad row never stops the rest.

    Rows may be source mappings (parsed by :func:`~sfsync.domain.parse_invoice`) or invoices
    already built. A row of another customer, or an invoice id seen twice, is skipped too.
    """
    invoices: dict[str, list[Invoice]] = {}
    credits: dict[str, list[Payment]] = {}
    skipped: list[SkippedRecord] = []
    seen: set[str] = set()
    for record in invoice_records:
        try:
            invoice = record if isinstance(record, Invoice) else parse_invoice(record, source)
        except SkippedRecord as skip:
            skipped.append(skip)
            continue
        problem = _foreign_problem(invoice.customer_id, customer.id)
        if problem is None and invoice.id in seen:
            problem = "appears twice in the source; the first row was used"
        if problem is not None:
            skipped.append(
                SkippedRecord(f"{source}:{invoice.id}", f"invoice {invoice.number}: {problem}")
            )
            continue
        seen.add(invoice.id)
        invoices.setdefault(invoice.currency, []).append(invoice)
    for payment in payments:
        problem = _foreign_problem(payment.customer_id, customer.id)
        if problem is not None:
            skipped.append(SkippedRecord(f"{source}:{payment.id}", f"payment: {problem}"))
            continue
        credits.setdefault(payment.currency, []).append(payment)
    ledgers = tuple(
        AccountLedger(
            AccountKey(source, customer.id, currency),
            customer,
            tuple(invoices.get(currency, ())),
            tuple(credits.get(currency, ())),
        )
        for currency in sorted(invoices.keys() | credits.keys())
    )
    return CustomerLedgers(ledgers, tuple(skipped))


def _foreign_problem(owner: str, customer_id: str) -> str | None:
    if owner == customer_id:
        return None
    return f"belongs to customer {owner!r}, not {customer_id!r}; check the source's customer link"


def plan_customer(
    source: str,
    customer: Customer,
    invoice_records: Iterable[Mapping[str, object] | Invoice],
    payments: Iterable[Payment] = (),
    *,
    states: Mapping[str, AccountState],
    policy: Policy,
    as_of: date,
) -> CustomerPlan:
    """Plan every account of a customer; ``states`` maps currency → state (missing: new).

    A currency with an open Case or open Tasks but no rows today is planned too, so its Case
    closes instead of being forgotten.
    """
    built = build_ledgers(source, customer, invoice_records, payments)
    ledgers = {ledger.key.currency: ledger for ledger in built.ledgers}
    for currency, state in states.items():
        if currency not in ledgers and (state.case_open or state.open_task_keys):
            ledgers[currency] = AccountLedger(AccountKey(source, customer.id, currency), customer)
    plans = tuple(
        plan_account(ledgers[currency], states.get(currency, AccountState()), policy, as_of)
        for currency in sorted(ledgers)
    )
    return CustomerPlan(plans, built.skipped)


@dataclass(frozen=True, slots=True)
class _Assessment:
    """The account as of the planning date, with what was written and the policy at hand."""

    ledger: AccountLedger
    state: AccountState
    policy: Policy
    as_of: date
    chased: tuple[ChasedInvoice, ...]
    past_due: tuple[ChasedInvoice, ...]
    coming_due: tuple[ChasedInvoice, ...]
    delinquent: bool
    paused: bool


def plan_account(
    ledger: AccountLedger, state: AccountState, policy: Policy, as_of: date
) -> AccountPlan:
    """The changes that bring one account's Case, Tasks and invoice records up to date."""
    account = _assess(ledger, state, policy, as_of)
    case = _plan_case(account)
    link = None if case is None else case.key
    open_case_key = None if case is None or case.action is CaseAction.CLOSE else case.key
    tasks = _plan_tasks(account, open_case_key)
    invoices = _plan_invoices(account, link)
    case_change = case if case is not None and _case_changed(case, state) else None
    return AccountPlan(ledger.key, case_change, invoices, tasks)


def _assess(ledger: AccountLedger, state: AccountState, policy: Policy, as_of: date) -> _Assessment:
    chased = chase_invoices(ledger.invoices, unapplied_credit(ledger.payments), as_of)
    past_due = tuple(item for item in chased if item.days_past_due > 0)
    coming_due = tuple(item for item in chased if item.days_past_due <= 0)
    tolerance = policy.cadence.tolerance_for(ledger.key.currency)
    owed = sum((item.remaining for item in past_due), _ZERO)
    paused = state.promise is not None and state.promise.is_pending
    return _Assessment(
        ledger, state, policy, as_of, chased, past_due, coming_due, owed > tolerance, paused
    )


def _plan_case(account: _Assessment) -> CaseChange | None:
    """The Case as it should be (an unchanged one is dropped by the caller)."""
    state = account.state
    if account.delinquent:
        action = CaseAction.UPDATE if state.case_open else CaseAction.OPEN
        episode = state.episode if state.case_open else state.episode + 1
    elif state.case_open:
        action, episode = CaseAction.CLOSE, state.episode
    else:
        return None
    key = account.ledger.key.case_key(episode)
    values = _case_values(account, key, action)
    return CaseChange(action, key, episode, values, content_hash("case", values.canonical()))


def _case_changed(case: CaseChange, state: AccountState) -> bool:
    return case.action is not CaseAction.UPDATE or case.content_hash != state.case_hash


def _case_values(account: _Assessment, case_key: str, action: CaseAction) -> CaseValues:
    ledger, state, policy = account.ledger, account.state, account.policy
    aging = age_balances(account.chased)
    step: CadenceStep | None = None
    next_action: date | None = None
    if action is not CaseAction.CLOSE:
        steps = policy.cadence.case_steps
        reference = account.past_due[0]
        level = max(
            _reached_index(steps, reference.days_past_due),
            _created_index(steps, state.task_keys, case_key + ":"),
        )
        step = steps[level] if level >= 0 else None
        next_action = _next_action(account, steps, level, reference)
    promise = state.promise
    priority = step.priority if step is not None else policy.case.priority
    if promise is not None and promise.status is PromiseStatus.BROKEN:
        priority = Priority.HIGH
    disputed = sum((i.balance for i in ledger.invoices if i.is_open and i.disputed), _ZERO)
    oldest = max(0, account.chased[0].days_past_due) if account.chased else 0
    return CaseValues(
        subject=policy.case.subject.format(
            customer=ledger.customer.name, currency=ledger.key.currency
        ),
        owner=policy.case.owner,
        priority=priority,
        currency=ledger.key.currency,
        past_due=aging.past_due,
        aging=aging,
        open_invoice_count=len(account.chased),
        oldest_days_past_due=oldest,
        next_action_date=next_action,
        disputed_amount=disputed,
        promise_status=None if promise is None else promise.status,
        promise_date=None if promise is None else promise.promised_date,
        promise_amount=None if promise is None else promise.amount,
        step=None if step is None else step.name,
    )


def _next_action(
    account: _Assessment, steps: tuple[CadenceStep, ...], level: int, reference: ChasedInvoice
) -> date | None:
    """When someone should act next: the promise judgement day, or the next step's day."""
    promise = account.state.promise
    if promise is not None and promise.is_pending:
        return promise.promised_date + timedelta(days=account.policy.promises.grace_days)
    if level + 1 < len(steps):
        return reference.invoice.due_date + timedelta(days=steps[level + 1].offset_days)
    return None


def _reached_index(steps: tuple[CadenceStep, ...], days: int) -> int:
    """Index of the latest step whose offset ``days`` has reached, -1 if none."""
    reached = -1
    for index, step in enumerate(steps):
        if step.offset_days <= days:
            reached = index
    return reached


def _created_index(steps: tuple[CadenceStep, ...], task_keys: frozenset[str], prefix: str) -> int:
    """Index of the highest step already created under ``prefix``, -1 if none."""
    created = -1
    for index, step in enumerate(steps):
        if prefix + step.name in task_keys:
            created = index
    return created


def _plan_tasks(account: _Assessment, open_case_key: str | None) -> tuple[TaskChange, ...]:
    """The Task to create (at most one) and the open Tasks that are no longer wanted."""
    cadence = account.policy.cadence
    created: TaskChange | None = None
    keep_prefix: str | None = None
    if open_case_key is not None:
        keep_prefix = open_case_key + ":"
        created = _step_task(
            account, cadence.case_steps, account.past_due, keep_prefix, case_key=open_case_key
        )
    elif account.coming_due:
        keep_prefix = account.ledger.key.reminder_prefix(account.coming_due[0].invoice.id)
        owed = sum((item.remaining for item in account.coming_due), _ZERO)
        if owed > cadence.tolerance_for(account.ledger.key.currency):
            created = _step_task(
                account, cadence.reminder_steps, account.coming_due, keep_prefix, case_key=None
            )
    if account.paused:
        created = None
    closes = tuple(
        TaskChange(TaskAction.CLOSE, key, None, None, content_hash("task-close", (key,)))
        for key in sorted(account.state.open_task_keys)
        if keep_prefix is None or not key.startswith(keep_prefix)
    )
    creates = tuple(
        task for task in (created, _follow_up_task(account, open_case_key)) if task is not None
    )
    return closes + creates


def _follow_up_task(account: _Assessment, case_key: str | None) -> TaskChange | None:
    """The one follow-up Task of a broken promise, while the Case is open."""
    promise = account.state.promise
    if case_key is None or promise is None or promise.status is not PromiseStatus.BROKEN:
        return None
    key = f"{case_key}:promise-{promise.id}"
    if key in account.state.task_keys:
        return None
    rule = account.policy.promises.broken_follow_up
    past_due = account.past_due
    subject = rule.subject.format(
        customer=account.ledger.customer.name,
        currency=account.ledger.key.currency,
        past_due=sum((item.remaining for item in past_due), _ZERO),
        days_past_due=past_due[0].days_past_due,
        invoice_count=len(past_due),
        step=BROKEN_PROMISE_STEP,
    )
    values = TaskValues(
        BROKEN_PROMISE_STEP, subject, rule.channel, rule.owner, rule.priority, account.as_of
    )
    return TaskChange(
        TaskAction.CREATE, key, case_key, values, content_hash("task", values.canonical())
    )


def _step_task(
    account: _Assessment,
    steps: tuple[CadenceStep, ...],
    items: tuple[ChasedInvoice, ...],
    prefix: str,
    *,
    case_key: str | None,
) -> TaskChange | None:
    """The latest step reached, unless it (or a later one) was already created."""
    reached = _reached_index(steps, items[0].days_past_due)
    if reached < 0 or reached <= _created_index(steps, account.state.task_keys, prefix):
        return None
    step = steps[reached]
    subject = step.subject.format(
        customer=account.ledger.customer.name,
        currency=account.ledger.key.currency,
        past_due=sum((item.remaining for item in items), _ZERO),
        days_past_due=items[0].days_past_due,
        invoice_count=len(items),
        step=step.name,
    )
    values = TaskValues(step.name, subject, step.channel, step.owner, step.priority, account.as_of)
    key = prefix + step.name
    return TaskChange(
        TaskAction.CREATE, key, case_key, values, content_hash("task", values.canonical())
    )


def _plan_invoices(account: _Assessment, case_key: str | None) -> tuple[InvoiceChange, ...]:
    """Open invoices, and invoices written before whose record changed, sorted by key.

    With a Case planned, every record links to it (the link is part of the hash, so a record
    whose link failed to apply is sent again). With no Case, ``case_key`` is ``None``: the
    record keeps whatever link it has, so a record written under the last (now closed) episode
    is unchanged and is not rewritten just because that Case closed.
    """
    changes: list[InvoiceChange] = []
    source = account.ledger.key.source
    hashes = account.state.invoice_hashes
    last_case = account.state.case_key
    for invoice in account.ledger.invoices:
        key = f"{source}:{invoice.id}"
        written = hashes.get(key)
        if written is None and not invoice.is_open:
            continue
        values = _invoice_values(invoice, account.as_of)
        canonical = values.canonical()
        digest = content_hash("invoice", (case_key, *canonical))
        if digest == written or (
            case_key is None
            and last_case
            and written == content_hash("invoice", (last_case, *canonical))
        ):
            continue
        changes.append(InvoiceChange(key, invoice.id, case_key, values, digest))
    changes.sort(key=lambda change: change.key)
    return tuple(changes)


def _invoice_values(invoice: Invoice, as_of: date) -> InvoiceValues:
    days = (as_of - invoice.due_date).days if invoice.is_open else 0
    return InvoiceValues(
        number=invoice.number,
        currency=invoice.currency,
        amount=invoice.amount,
        balance=invoice.balance,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        days_past_due=max(0, days),
        status=invoice.status,
        disputed=invoice.disputed,
        dispute_reason=invoice.dispute_reason,
    )


def apply_plan_to_state(state: AccountState, plan: AccountPlan) -> AccountState:
    """The state the store holds once every change of ``plan`` has been applied."""
    updated = state
    if plan.case is not None:
        updated = replace(
            updated,
            episode=plan.case.episode,
            case_open=plan.case.action is not CaseAction.CLOSE,
            case_key=plan.case.key,
            case_hash=plan.case.content_hash,
        )
    if plan.invoices:
        hashes = dict(state.invoice_hashes)
        hashes.update((change.key, change.content_hash) for change in plan.invoices)
        updated = replace(updated, invoice_hashes=hashes)
    if plan.tasks:
        created = {t.key for t in plan.tasks if t.action is TaskAction.CREATE}
        closed = {t.key for t in plan.tasks if t.action is TaskAction.CLOSE}
        updated = replace(
            updated,
            task_keys=state.task_keys | created,
            open_task_keys=(state.open_task_keys | created) - closed,
        )
    return updated


# --- dispute Cases ------------------------------------------------------------------------------

#: Suffix of an account's dispute Case key: ``<collections case key>:dispute``.
DISPUTE_CASE_SUFFIX = ":dispute"
_SUBJECT_LIMIT = 255


@dataclass(frozen=True, slots=True)
class DisputeCaseState:
    """The dispute Case last written for an account (key, open flag, content hash)."""

    key: str
    is_open: bool
    content_hash: str


@dataclass(frozen=True, slots=True)
class DisputeCaseChange:
    """Open, update or close the account's dispute Case (a child of its collections Case).

    ``invoices`` are the disputed invoice numbers and ``disputed_amount`` their balance; the
    gateway side adds the dispute queue as owner and, for ``close``, the org's closed status.
    """

    action: CaseAction
    key: str
    parent_key: str | None
    subject: str
    description: str
    currency: str
    disputed_amount: Decimal
    invoices: tuple[str, ...]
    content_hash: str


def plan_dispute_case(
    ledger: AccountLedger, parent_key: str | None, current: DisputeCaseState | None
) -> DisputeCaseChange | None:
    """The dispute Case an account needs, relative to the one last written (``current``).

    Disputed invoices (open, flagged in the source or by a rep) go to one child Case per
    account, owned by the dispute team, keyed ``<parent case key>:dispute`` (or
    ``<account>:dispute`` when the account has no collections Case). It lists the invoices and
    their reasons, is rewritten only when that list changes, and closes once no invoice is
    disputed any more (paid, voided or cleared). ``None``: nothing to write.
    """
    disputed = sorted(
        (invoice for invoice in ledger.invoices if invoice.is_open and invoice.disputed),
        key=lambda invoice: (invoice.due_date, invoice.number),
    )
    currency = ledger.key.currency
    if not disputed:
        if current is None or not current.is_open:
            return None
        digest = content_hash("dispute-case-close", (current.key,))
        return DisputeCaseChange(
            CaseAction.CLOSE, current.key, parent_key, "", "", currency, _ZERO, (), digest
        )
    if current is not None and current.is_open:
        action, key, written = CaseAction.UPDATE, current.key, current.content_hash
    else:
        action, key, written = (
            CaseAction.OPEN,
            f"{parent_key or ledger.key.text}{DISPUTE_CASE_SUFFIX}",
            "",
        )
    numbers = tuple(invoice.number for invoice in disputed)
    amount = sum((invoice.balance for invoice in disputed), _ZERO)
    subject = f"Dispute: {ledger.customer.name} invoice {', '.join(numbers)}"[:_SUBJECT_LIMIT]
    description = "\n".join(
        f"{invoice.number}: {currency} {invoice.balance:,.2f} - "
        f"{invoice.dispute_reason or 'no reason given'}"
        for invoice in disputed
    )
    digest = content_hash(
        "dispute-case",
        (key, parent_key, subject, description, currency, canonical_money(amount)),
    )
    if digest == written:
        return None
    return DisputeCaseChange(
        action, key, parent_key, subject, description, currency, amount, numbers, digest
    )
