"""Random histories of ledger changes, clock moves, crashes and cycles against the local org.

After every step: at most one open Case per account, no Task key twice, no invoice record
twice; a Case is open exactly when the account is past due above the tolerance (once a cycle
completed); and a cycle right after a successful one writes nothing.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections import Counter
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from sfsync.sandbox.server import OrgServer
from sfsync.sources.demo import invoices_table, payments_table
from sfsync.sync import run_cycle
from tests.sync.conftest import (
    CrashError,
    FaultingGateway,
    SyncHarness,
    case_rows,
    invoice_rows,
    make_harness,
    task_rows,
)

pytestmark = pytest.mark.org

CUSTOMERS = ("C1", "C2")
TOLERANCE = Decimal(25)  # cadence.min_balance of config/policy.yaml


def _machine(server: OrgServer) -> type[RuleBasedStateMachine]:
    class SyncHistory(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            server.org.reset()
            self._tmp = tempfile.TemporaryDirectory(prefix="sfsync-stateful-")
            self.world: SyncHarness = make_harness(server, Path(self._tmp.name))
            for customer in CUSTOMERS:
                self.world.account(customer, f"Customer {customer}")
                self.world.ledger.customer(customer, f"Customer {customer}")
            self.serial = 0
            self.synced = False

        def teardown(self) -> None:
            self.world.close()
            self._tmp.cleanup()

        @rule(
            customer=st.sampled_from(CUSTOMERS),
            amount=st.sampled_from([20, 150, 900]),  # 20 is below the tolerance alone
            days_ago=st.sampled_from([15, 2, 8, -3, 31]),  # past due by the ladder, or not yet
        )
        def invoice_created(self, customer: str, amount: int, days_ago: int) -> None:
            self.serial += 1
            today = self.world.clock.now().date()
            due = date.fromordinal(today.toordinal() - days_ago)
            self.world.ledger.invoice(f"N{self.serial}", customer, f"{amount}.00", due=due)
            self.synced = False

        @rule(customer=st.sampled_from(CUSTOMERS), amount=st.sampled_from([100, 400, 2_000]))
        def payment_applied(self, customer: str, amount: int) -> None:
            if self.world.ledger.helper.open_invoice_ids(customer):
                try:
                    self.world.ledger.pay(customer, f"{amount}.00")
                except Exception:  # noqa: BLE001 - only disputed/zero-balance invoices left
                    return
                self.synced = False

        @rule(days=st.integers(min_value=1, max_value=9))
        def clock_advanced(self, days: int) -> None:
            self.world.advance(days=days)
            self.synced = False

        @rule()
        def sync_run(self) -> None:
            report = self.world.run()
            assert report.status == "succeeded"
            if report.settled:
                self.world.advance(hours=1)
                again = self.world.run()
                assert again.calls.write == 0, again.counts
                self.synced = True

        @rule(
            target_write=st.sampled_from(
                [("upsert", "Case"), ("upsert", "AR_Invoice__c"), ("create", "Task")]
            ),
            crash=st.booleans(),
        )
        def write_interrupted(self, target_write: tuple[str, str], crash: bool) -> None:
            operation, sobject = target_write
            gateway = FaultingGateway(
                self.world, operation, sobject, fault="crash" if crash else "drop"
            )
            with contextlib.suppress(CrashError):
                run_cycle(replace(self.world.deps(), gateway=gateway))
            self.world.org.faults.clear()
            self.synced = False

        @invariant()
        def nothing_duplicated(self) -> None:
            cases = case_rows(self.world)
            open_per_account = Counter(c["AccountId"] for c in cases if not c["IsClosed"])
            assert all(count == 1 for count in open_per_account.values()), open_per_account
            assert max(Counter(c["Collections_Key__c"] for c in cases).values(), default=0) <= 1
            tasks = Counter(t["Collections_Key__c"] for t in task_rows(self.world))
            assert max(tasks.values(), default=0) <= 1, tasks
            records = Counter(r["Invoice_Key__c"] for r in invoice_rows(self.world))
            assert max(records.values(), default=0) <= 1, records

        @invariant()
        def case_open_iff_past_due(self) -> None:
            """Once a cycle completed: a Case is open exactly when the ledger says past due."""
            if not self.synced:
                return
            open_cases = {
                str(c["Collections_Key__c"]).split(":")[1]
                for c in case_rows(self.world)
                if not c["IsClosed"]
            }
            today = self.world.clock.now().date()
            for customer in CUSTOMERS:
                owed = _past_due(self.world, customer, today)
                assert (owed > TOLERANCE) == (customer in open_cases), (customer, owed)

    return SyncHistory


def _past_due(world: SyncHarness, customer: str, today: date) -> Decimal:
    """Past-due balance straight from the ledger, net of unapplied payments (oldest first)."""
    with world.ledger.engine.connect() as connection:
        invoices = connection.execute(
            select(invoices_table.c.balance, invoices_table.c.due_date).where(
                invoices_table.c.customer_id == customer, invoices_table.c.status == "open"
            )
        ).all()
        unapplied = connection.execute(
            select(payments_table.c.amount).where(
                payments_table.c.customer_id == customer, payments_table.c.applied_to.is_(None)
            )
        ).scalars()
        credit = sum((Decimal(amount) for amount in unapplied), Decimal(0))
    past_due = sum(
        (Decimal(balance) for balance, due in invoices if date.fromisoformat(due) < today),
        Decimal(0),
    )
    return max(Decimal(0), past_due - credit)


def test_random_histories_never_duplicate_and_converge(local_org_server: OrgServer) -> None:
    run_state_machine_as_test(
        _machine(local_org_server),
        settings=settings(
            max_examples=10,
            stateful_step_count=14,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
