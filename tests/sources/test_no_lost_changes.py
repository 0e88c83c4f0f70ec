"""Property: with late commits inside the overlap, incremental reads never lose a change.

Each example is a random timeline on a SQLite ledger: invoices edited at the current time or
committed late (stamped up to the overlap before it, as a long transaction does), the clock
moving, and incremental reads chaining their watermarks. Whatever happened, the balance each
invoice last showed in a read is the balance the ledger holds after a final read.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from sfsync.clock import FixedClock
from sfsync.sources.base import Watermark
from sfsync.sources.sql import SqlLayout, SqlSource, create_source_engine
from tests.sources.conftest import DAY0, T0, Accounting, metadata

OVERLAP = timedelta(minutes=10)
INVOICES = 4

edit = st.tuples(
    st.just("edit"),
    st.integers(0, INVOICES - 1),
    st.sampled_from([0, 0, 1, 5, 10]),  # minutes the commit is late: at most the overlap
)
tick = st.tuples(st.just("tick"), st.integers(1, 30), st.just(0))
read = st.tuples(st.just("read"), st.just(0), st.just(0))
timelines = st.lists(st.one_of(edit, edit, tick, read, read), min_size=1, max_size=12)


@pytest.fixture
def ledger_engine() -> Iterator[Engine]:
    engine = create_source_engine("sqlite://")
    yield engine
    engine.dispose()


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(timeline=timelines)
def test_incremental_reads_lose_no_change(
    ledger_engine: Engine, timeline: list[tuple[str, int, int]]
) -> None:
    metadata.drop_all(ledger_engine)
    metadata.create_all(ledger_engine)
    books = Accounting(ledger_engine, "sqlite")
    clock = FixedClock(T0)
    for n in range(INVOICES):
        books.customer(f"C{n}")
        books.invoice(f"I{n}", f"C{n}", amount="1000", at=T0 - timedelta(days=1))
    source = SqlSource("erp", ledger_engine, SqlLayout(), clock)
    truth = {f"I{n}": Decimal(1000) for n in range(INVOICES)}
    seen: dict[str, Decimal] = {}
    since: Watermark | None = None

    def read_into_seen() -> None:
        nonlocal since
        batch = source.read_changes(since, DAY0, OVERLAP)
        for record in batch.customers:
            for invoice in record.invoices:
                seen[invoice.id] = invoice.balance
        since = batch.watermark

    for step, (kind, which, late) in enumerate(timeline):
        if kind == "edit":
            balance = Decimal(999 - step)
            books.change_invoice(
                f"I{which}", at=clock.now() - timedelta(minutes=late), balance=balance
            )
            truth[f"I{which}"] = balance
        elif kind == "tick":
            clock.advance(timedelta(minutes=which))
        else:
            read_into_seen()
        clock.advance(timedelta(seconds=1))
    read_into_seen()

    assert seen == truth
