"""The progress of a long run: ``on_progress`` hears the customers planned at least every
:data:`PROGRESS_EVERY`, and the rich display draws it on a terminal."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rich.console import Console

from sfsync.sync import PROGRESS_EVERY
from sfsync.syncview import progress_reporter
from tests.sync.conftest import START, SyncHarness

pytestmark = pytest.mark.org

CUSTOMERS = 450


def test_on_progress_hears_increasing_counts_every_planned_batch(harness: SyncHarness) -> None:
    for number in range(CUSTOMERS):
        ident = f"C{number:04d}"
        harness.ledger.customer(ident, f"Customer {number}")
        harness.ledger.invoice(f"I{number:04d}", ident, "100.00", due=START.date() - timedelta(5))
    heard: list[int] = []

    report = harness.run(on_progress=heard.append)

    assert report.counts["accounts_read"] == CUSTOMERS
    assert heard == sorted(set(heard)), f"progress went backwards or repeated: {heard}"
    assert heard[-1] == CUSTOMERS
    steps = [after - before for before, after in zip([0, *heard], heard, strict=False)]
    assert max(steps) <= PROGRESS_EVERY
    assert len(heard) >= 3


def test_the_progress_display_renders_on_a_terminal() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80)

    with progress_reporter(console) as on_progress:
        assert on_progress is not None
        on_progress(200)
        on_progress(450)

    assert "syncing: 450 customers" in screen.getvalue()


def test_no_progress_display_off_a_terminal() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)

    with progress_reporter(console) as on_progress:
        assert on_progress is None
