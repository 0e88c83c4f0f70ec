"""Account and invoice links: one row per key, so one open Case per account."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sfsync.store.models import AccountLink, InvoiceLink
from sfsync.store.repositories import (
    AccountLinkValues,
    InvoiceLinkValues,
    get_account_link,
    get_invoice_links,
    invoice_links_for_case,
    list_account_links,
    put_account_link,
    put_invoice_links,
)
from tests.store.conftest import T0

ACME = AccountLinkValues(
    source="erp",
    customer_id="C-100",
    currency="USD",
    salesforce_account_id="001000000000001AAA",
    episode=1,
    case_key="erp:C-100:1",
    case_id="500000000000001AAA",
    case_open=True,
    case_hash="a" * 64,
)


def test_link_is_stored_and_read_back(session: Session) -> None:
    put_account_link(session, ACME, at=T0)
    session.commit()
    session.expunge_all()

    link = get_account_link(session, "erp", "C-100", "USD")

    assert link is not None
    assert (link.salesforce_account_id, link.case_key, link.case_open, link.episode) == (
        "001000000000001AAA",
        "erp:C-100:1",
        True,
        1,
    )
    assert link.updated_at == T0
    assert get_account_link(session, "erp", "C-100", "EUR") is None


def test_putting_a_link_again_updates_the_one_row(session: Session) -> None:
    put_account_link(session, ACME, at=T0)
    closed = replace(ACME, case_open=False, case_hash="b" * 64)
    put_account_link(session, closed, at=T0 + timedelta(hours=1))
    reopened = replace(ACME, episode=2, case_key="erp:C-100:2", case_id=None, case_open=True)
    link = put_account_link(session, reopened, at=T0 + timedelta(days=30))
    session.commit()

    assert session.scalar(select(func.count()).select_from(AccountLink)) == 1
    assert (link.episode, link.case_key, link.case_id, link.case_open) == (
        2,
        "erp:C-100:2",
        None,
        True,
    )
    assert link.updated_at == T0 + timedelta(days=30)


def test_a_second_link_row_for_the_same_account_is_impossible(session: Session) -> None:
    put_account_link(session, ACME, at=T0)
    session.commit()

    session.add(
        AccountLink(
            source="erp",
            customer_id="C-100",
            currency="USD",
            case_key="erp:C-100:9",
            case_open=True,
            updated_at=T0,
        )
    )
    with pytest.raises(IntegrityError):
        session.commit()


def test_two_customers_cannot_share_a_case_key(session: Session) -> None:
    put_account_link(session, ACME, at=T0)
    thief = replace(ACME, customer_id="C-200", salesforce_account_id=None)
    with pytest.raises(IntegrityError):
        put_account_link(session, thief, at=T0)


def test_list_open_links(session: Session) -> None:
    put_account_link(session, ACME, at=T0)
    put_account_link(
        session, replace(ACME, customer_id="C-050", case_key="erp:C-050:1", case_open=False), at=T0
    )
    put_account_link(session, replace(ACME, source="crm", case_key="crm:C-100:1"), at=T0)
    session.commit()

    all_erp = [link.customer_id for link in list_account_links(session, "erp")]
    open_erp = [link.customer_id for link in list_account_links(session, "erp", open_only=True)]

    assert all_erp == ["C-050", "C-100"]
    assert open_erp == ["C-100"]


def test_invoice_links_bulk_upsert_keeps_one_row_per_invoice(session: Session) -> None:
    first = [
        InvoiceLinkValues(invoice_key=f"erp:INV-{n}", status="Open", case_key="erp:C-100:1")
        for n in range(3)
    ]
    put_invoice_links(session, first, at=T0)
    put_invoice_links(
        session,
        [
            InvoiceLinkValues(
                invoice_key="erp:INV-1",
                status="Paid",
                salesforce_id="a00000000000001AAA",
                case_key="erp:C-100:1",
                content_hash="c" * 64,
            )
        ],
        at=T0 + timedelta(hours=1),
    )
    put_invoice_links(session, [], at=T0)
    session.commit()

    links = get_invoice_links(session, ["erp:INV-0", "erp:INV-1", "erp:INV-404"])

    assert session.scalar(select(func.count()).select_from(InvoiceLink)) == 3
    assert set(links) == {"erp:INV-0", "erp:INV-1"}
    assert (links["erp:INV-1"].status, links["erp:INV-1"].salesforce_id) == (
        "Paid",
        "a00000000000001AAA",
    )
    assert links["erp:INV-1"].updated_at == T0 + timedelta(hours=1)
    assert links["erp:INV-0"].status == "Open"
    assert get_invoice_links(session, []) == {}
    assert [link.invoice_key for link in invoice_links_for_case(session, "erp:C-100:1")] == [
        "erp:INV-0",
        "erp:INV-1",
        "erp:INV-2",
    ]
