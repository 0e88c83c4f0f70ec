"""build_source picks the adapter from settings; the watermark round-trips through the store."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from sfsync.clock import FixedClock
from sfsync.settings import SourceSettings
from sfsync.sources import INVOICE_STREAM, InvoiceSource, Watermark, build_source
from sfsync.sources.aging_file import AgingFileSource
from sfsync.sources.sql import SqlLayout, SqlSource
from sfsync.store.db import create_engine_from_url, create_session_factory, upgrade_database
from sfsync.store.repositories import advance_watermark, get_watermark, put_watermark_cursor
from tests.sources.conftest import T0, Accounting

OVERLAP = timedelta(minutes=10)


def test_demo_kind_builds_the_ledger_on_first_use(tmp_path: Path) -> None:
    settings = SourceSettings(kind="demo", name="demo")

    source = build_source(settings, clock=FixedClock(T0), state_dir=tmp_path)

    assert isinstance(source, SqlSource)
    assert isinstance(source, InvoiceSource)
    assert (tmp_path / "demo-ledger.sqlite").exists()
    assert source.name == "demo"
    assert source.supports_notes
    assert next(source.iter_customers(date(2026, 3, 16))).customer.id == "CUST-000001"


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
def test_sql_kind_reads_the_configured_database(
    accounting: Accounting, accounting_url: str, tmp_path: Path
) -> None:
    accounting.customer("C1")
    accounting.invoice("I1", "C1")
    settings = SourceSettings.model_validate(
        {"kind": "sql", "name": "erp", "sql": {"url": accounting_url}}
    )

    source = build_source(settings, clock=FixedClock(T0), state_dir=tmp_path)

    assert isinstance(source, SqlSource)
    [record] = source.read_changes(None, T0.date(), OVERLAP).customers
    assert [i.id for i in record.invoices] == ["I1"]
    assert not source.supports_notes


def test_csv_kind_reads_the_export(tmp_path: Path) -> None:
    export = tmp_path / "aging.csv"
    export.write_text(
        "Customer ID,Invoice Number,Currency,Open Balance,Due Date\n"
        "C1,INV-1,USD,10.00,2026-01-31\n",
        encoding="utf-8",
    )
    settings = SourceSettings.model_validate(
        {"kind": "csv", "name": "sap", "csv": {"path": export}}
    )

    source = build_source(settings, clock=FixedClock(T0), state_dir=tmp_path / "var")

    assert isinstance(source, AgingFileSource)
    [record] = source.read_changes(None, T0.date(), OVERLAP).customers
    assert [(i.id, str(i.amount)) for i in record.invoices] == [("INV-1", "10.00")]
    assert source.outcomes_path == tmp_path / "var" / "sap-outcomes.csv"


def test_the_watermark_round_trips_through_the_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade_database(url)
    engine = create_engine_from_url(url)
    candidate = Watermark(T0 - timedelta(hours=1), date(2026, 3, 16), "abc123")
    try:
        with create_session_factory(engine)() as session, session.begin():
            advance_watermark(
                session,
                source="erp",
                stream=INVOICE_STREAM,
                value=candidate.updated_at or T0,
                run_started_at=T0,
                at=T0,
            )
            put_watermark_cursor(
                session, source="erp", stream=INVOICE_STREAM, cursor=candidate.cursor, at=T0
            )
        with create_session_factory(engine)() as session:
            row = get_watermark(session, "erp", INVOICE_STREAM)
            assert row is not None
            stored = Watermark.from_stored(row.value_at, row.cursor)
    finally:
        engine.dispose()

    assert stored == candidate
    assert Watermark.from_stored(T0, None) is None
    assert Watermark.from_stored(T0, "not json") is None
    assert Watermark.from_stored(None, '{"as_of": "2026-03-16"}') == Watermark(
        None, date(2026, 3, 16)
    )


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
def test_a_layout_comes_from_the_caller_or_the_settings_section(
    accounting: Accounting, accounting_url: str, tmp_path: Path
) -> None:
    settings = SourceSettings.model_validate(
        {"kind": "sql", "name": "erp", "sql": {"url": accounting_url}}
    )
    proposed = SourceSettings.model_validate(
        {
            "kind": "sql",
            "name": "erp",
            "sql": {"url": accounting_url, "layout": {"notes_table": "ar_notes"}},
        }
    )

    passed = build_source(
        settings, clock=FixedClock(T0), sql_layout=SqlLayout(notes_table="ar_notes")
    )
    configured = build_source(proposed, clock=FixedClock(T0), state_dir=tmp_path)

    assert passed.supports_notes
    assert configured.supports_notes
