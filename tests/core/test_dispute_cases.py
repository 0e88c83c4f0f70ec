"""The dispute Case plan: one child Case per account while an invoice is disputed."""

from __future__ import annotations

from decimal import Decimal

from sfsync.cases import DisputeCaseState, plan_dispute_case
from sfsync.domain import CaseAction, InvoiceStatus
from tests.core.factories import invoice, ledger

PARENT = "erp:C1:USD:1"


def test_no_disputed_invoice_and_no_dispute_case_plans_nothing() -> None:
    assert plan_dispute_case(ledger(invoice("I1")), PARENT, None) is None


def test_a_disputed_invoice_opens_a_child_case_naming_it() -> None:
    account = ledger(
        invoice("I1"),
        invoice("I2", days_past_due=40, amount="250.00", disputed=True),
        invoice("I3", days_past_due=5, amount="80.00", disputed=True),
    )

    change = plan_dispute_case(account, PARENT, None)

    assert change is not None
    assert change.action is CaseAction.OPEN
    assert change.key == "erp:C1:USD:1:dispute"
    assert change.parent_key == PARENT
    assert change.invoices == ("N-I2", "N-I3")  # oldest due first
    assert change.disputed_amount == Decimal("330.00")
    assert change.subject == "Dispute: Acme Ltd invoice N-I2, N-I3"
    assert change.description == "N-I2: USD 250.00 - goods damaged\nN-I3: USD 80.00 - goods damaged"


def test_without_a_collections_case_the_child_hangs_from_the_account_key() -> None:
    change = plan_dispute_case(ledger(invoice("I2", disputed=True)), None, None)

    assert change is not None
    assert change.key == "erp:C1:USD:dispute"


def test_an_unchanged_dispute_case_is_not_rewritten_and_a_changed_one_is_updated() -> None:
    one = ledger(invoice("I2", disputed=True))
    opened = plan_dispute_case(one, PARENT, None)
    assert opened is not None
    state = DisputeCaseState(opened.key, True, opened.content_hash)

    assert plan_dispute_case(one, PARENT, state) is None
    two = ledger(invoice("I2", disputed=True), invoice("I4", disputed=True))
    updated = plan_dispute_case(two, PARENT, state)
    assert updated is not None
    assert updated.action is CaseAction.UPDATE
    assert updated.key == opened.key
    assert updated.invoices == ("N-I2", "N-I4")


def test_the_dispute_case_closes_when_no_invoice_is_disputed_any_more() -> None:
    paid = invoice("I2", disputed=True, balance="0.00", status=InvoiceStatus.PAID)
    state = DisputeCaseState("erp:C1:USD:1:dispute", True, "hash")

    change = plan_dispute_case(ledger(invoice("I1"), paid), PARENT, state)

    assert change is not None
    assert change.action is CaseAction.CLOSE
    assert change.key == "erp:C1:USD:1:dispute"
    closed = DisputeCaseState(state.key, False, change.content_hash)
    assert plan_dispute_case(ledger(invoice("I1")), PARENT, closed) is None


def test_a_new_dispute_after_the_last_one_closed_reopens_under_the_current_case() -> None:
    closed = DisputeCaseState("erp:C1:USD:1:dispute", False, "hash")

    change = plan_dispute_case(ledger(invoice("I5", disputed=True)), "erp:C1:USD:2", closed)

    assert change is not None
    assert change.action is CaseAction.OPEN
    assert change.key == "erp:C1:USD:2:dispute"
