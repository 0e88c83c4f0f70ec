"""What a cycle leaves behind never freezes the watermark for everyone.

An unmatched customer, a refused write, a Task in doubt or a spent budget used to keep the
watermark where it was; a first sync that never committed one then read "every customer with an
open invoice" forever, so a customer who paid everything was never read again and its Case never
closed. Now the watermark moves and the customers left behind are listed in the store and read
again by key until they are written.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from sfsync.deadletters import list_errors
from sfsync.sources.aging_file import AgingFileSource
from sfsync.sources.layouts import AgingFileLayout
from sfsync.store.repositories import get_watermark
from sfsync.sync import HELD_SUFFIX, run_cycle
from tests.sync.conftest import FaultingGateway, SyncHarness, case_rows

pytestmark = pytest.mark.org


def _open_cases(world: SyncHarness) -> dict[str, bool]:
    return {row["Collections_Key__c"]: bool(row["IsClosed"]) for row in case_rows(world)}


def test_a_paid_customer_closes_next_cycle_while_another_is_unmatched(
    harness: SyncHarness,
) -> None:
    harness.account("C1", "Acme Ltd")
    harness.ledger.customer("C1", "Acme Ltd")
    harness.ledger.invoice("I1", "C1", "700.00", due=date(2026, 3, 6))
    harness.ledger.customer("C9", "Nobody Inc")
    harness.ledger.invoice("I9", "C9", "400.00", due=date(2026, 3, 1))

    first = harness.run()
    assert first.unmatched == ("C9",)
    assert first.watermark_advanced
    assert _open_cases(harness) == {"erp:C1:USD:1": False}

    # Acme pays everything the same morning; nobody creates the missing Account yet.
    harness.advance(hours=1)
    harness.ledger.pay("C1", "700.00")
    harness.advance(hours=1)
    paid = harness.run()

    assert paid.counts["cases_closed"] == 1
    assert _open_cases(harness) == {"erp:C1:USD:1": True}
    assert paid.unmatched == ("C9",)
    assert paid.held == ("C9",)
    assert [row.row_key for row in list_errors(harness.sessions).quarantined] == ["account:C9"]

    # The admin creates the Account: C9 is read again by key and synced, though nothing
    # changed for it in the books and it is not the first cycle of a day.
    harness.account("C9", "Nobody Inc")
    harness.advance(hours=1)
    matched = harness.run()

    assert matched.unmatched == ()
    assert matched.counts["cases_opened"] == 1
    assert _open_cases(harness) == {"erp:C1:USD:1": True, "erp:C9:USD:1": False}
    assert matched.settled
    assert list_errors(harness.sessions).quarantined == []
    with harness.sessions() as session:
        held = get_watermark(session, "erp", "invoices" + HELD_SUFFIX)
        assert held is not None
        assert held.cursor == "{}"
    harness.advance(hours=1)
    assert harness.run().calls.write == 0


def test_a_refused_close_is_retried_by_key_after_the_watermark_moved_on(
    harness: SyncHarness,
) -> None:
    """The held customer has nothing open any more: its changes since the read it was left
    behind in are read for it, so its Case still closes once the org takes the write."""
    harness.account("C1", "Acme Ltd")
    harness.ledger.customer("C1", "Acme Ltd")
    harness.ledger.invoice("I1", "C1", "700.00", due=date(2026, 3, 6))
    harness.run()

    harness.advance(hours=1)
    harness.ledger.pay("C1", "700.00")  # 09:00
    harness.advance(hours=1)
    harness.account("C2", "Beta Ltd")
    harness.ledger.customer("C2", "Beta Ltd")  # 10:00: later than the payment
    harness.ledger.invoice("I2", "C2", "300.00", due=date(2026, 3, 2))
    locked = FaultingGateway(harness, "upsert", "Case", fault="lock")
    refused = run_cycle(replace(harness.deps(), gateway=locked))

    assert locked.fired
    assert refused.watermark_advanced
    assert refused.held == ("C1", "C2")
    assert {letter.record_key for letter in list_errors(harness.sessions).dead_letters} == {
        "erp:C1:USD:1",
        "erp:C2:USD:1",
    }
    assert _open_cases(harness) == {"erp:C1:USD:1": False}

    # Hours later the payment is far outside the overlap of the moved watermark.
    harness.advance(hours=3)
    retried = harness.run()

    assert retried.counts["cases_closed"] == 1
    assert retried.counts["cases_opened"] == 1
    assert _open_cases(harness) == {"erp:C1:USD:1": True, "erp:C2:USD:1": False}
    assert list_errors(harness.sessions).dead_letters == []
    assert retried.settled


def _export(path: Path, rows: list[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ("Customer ID", "Customer Name", "Invoice Number", "Currency", "Original Amount",
             "Open Balance", "Invoice Date", "Due Date", "Disputed", "Dispute Reason")
        )  # fmt: skip
        writer.writerows(rows)


def test_a_held_customer_gone_from_an_aging_export_still_gets_its_case_closed(
    harness: SyncHarness, tmp_path: Path
) -> None:
    """An aging export only shows what is open: once the snapshot moved on, a customer whose
    close was refused is in no read at all. It is planned with nothing open, so its Case closes
    once the org takes the write."""
    export = tmp_path / "aging.csv"
    _export(export, [("C1", "Acme Ltd", "INV-1", "USD", "900.00", "900.00", "2026-02-04",
                      "2026-03-06", "", "")])  # fmt: skip
    source = AgingFileSource("erp", export, AgingFileLayout(), state_dir=tmp_path / "state")
    harness.account("C1", "Acme Ltd")
    assert run_cycle(replace(harness.deps(), source=source)).counts["cases_opened"] == 1

    harness.advance(hours=1)
    _export(export, [])  # paid: gone from the export
    locked = FaultingGateway(harness, "upsert", "Case", fault="lock")
    refused = run_cycle(replace(harness.deps(), source=source, gateway=locked))
    assert refused.held == ("C1",)
    assert _open_cases(harness) == {"erp:C1:USD:1": False}

    harness.advance(hours=1)
    retried = run_cycle(replace(harness.deps(), source=source))

    assert retried.counts["cases_closed"] == 1
    assert _open_cases(harness) == {"erp:C1:USD:1": True}
    assert retried.settled
