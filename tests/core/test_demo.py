"""The demo plan and its generator: deterministic, streaming, honest about bad rows."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from bench.plan import run as run_plan_benchmark
from sfsync.cases import plan_customer
from sfsync.demo import DEMO_DATE, DEMO_SOURCE, generate_ledger, load_policy, preview_demo

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


def test_the_demo_prints_the_summary_totals_skipped_rows_and_a_sample_account() -> None:
    console, buffer = _console()

    code = preview_demo(CONFIG_DIR / "sfsync.yaml", console)

    text = buffer.getvalue()
    assert code == 0
    for heading in (
        "Plan summary",
        "Cases to open",
        "Chased past due by currency",
        "Skipped rows",
        "Sample account demo:",
    ):
        assert heading in text
    assert "is not a known ISO 4217 code" in text
    assert "case open" in text
    assert "invoice upsert" in text


def test_the_demo_refuses_a_missing_or_invalid_policy_with_the_reason(tmp_path: Path) -> None:
    console, buffer = _console()
    missing = preview_demo(tmp_path / "sfsync.yaml", console)
    (tmp_path / "policy.yaml").write_text(
        "cadence:\n  steps: []\n  min_balance: -1\n", encoding="utf-8"
    )
    invalid = preview_demo(tmp_path / "sfsync.yaml", console)

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "policy.yaml").write_text("cadence: [\n", encoding="utf-8")
    broken = preview_demo(tmp_path / "broken" / "sfsync.yaml", console)

    text = buffer.getvalue()
    assert (missing, invalid, broken) == (2, 2, 2)
    assert "cannot read" in text
    assert "is not valid YAML" in text
    assert "cadence.min_balance: Input should be greater than or equal to 0" in text


def test_the_generator_is_deterministic_and_each_customer_stands_alone() -> None:
    first = list(generate_ledger(40))
    again = list(generate_ledger(40))
    short = list(generate_ledger(5))

    assert first == again
    assert short == first[:5]
    assert {row.customer.id for row in first} == {f"CUST-{n:06d}" for n in range(1, 41)}


def test_the_generated_ledger_has_the_cases_a_collections_desk_sees() -> None:
    policy = load_policy(CONFIG_DIR / "policy.yaml")
    statuses: set[object] = set()
    disputed = partial = credits = skipped = currencies = 0
    for row in generate_ledger(300):
        credits += len(row.payments)
        for record in row.invoices:
            statuses.add(record.get("status"))
            disputed += record.get("disputed") is True
            partial += record.get("status") == "open" and record.get("balance") != record.get(
                "amount"
            )
        planned = plan_customer(
            DEMO_SOURCE,
            row.customer,
            row.invoices,
            row.payments,
            states={},
            policy=policy,
            as_of=DEMO_DATE,
        )
        skipped += len(planned.skipped)
        currencies += len(planned.plans) > 1

    assert {"open", "paid", "void"} <= statuses
    assert min(disputed, partial, credits, skipped, currencies) > 0


def test_the_plan_benchmark_counts_what_it_planned() -> None:
    result = run_plan_benchmark(25, load_policy(CONFIG_DIR / "policy.yaml"))

    assert result["customers"] == 25
    assert result["accounts"] >= 25
    assert result["invoices"] == sum(len(row.invoices) for row in generate_ledger(25))
    assert result["peak_rss_mb"] > 0
