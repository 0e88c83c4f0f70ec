"""Planning throughput: 1,000,000 invoices across 100,000 customers, streamed, on one core.

Targets: ≤ 20 s on one core and peak RSS < 400 MB. The run is single-threaded, so "on one core"
is judged by the process's CPU time: on a shared machine wall time also counts the time other
processes held the core. Both are printed. The ledger comes from the demo generator one
customer at a time and each plan is counted and dropped, so memory stays flat however large the
ledger (``SFSYNC_BENCH_CUSTOMERS`` changes the size).
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from sfsync.cases import plan_customer
from sfsync.demo import DEMO_DATE, DEMO_SOURCE, generate_ledger, load_policy
from sfsync.policy import Policy

TARGET_SECONDS = 20.0
TARGET_RSS_MB = 400.0


def run(customers: int, policy: Policy) -> dict[str, float]:
    """Plan ``customers`` generated customers against empty state; counts and timings."""
    invoices = accounts = changes = skipped = 0
    generating = 0.0
    rows = generate_ledger(customers)
    started = time.perf_counter()
    cpu_started = time.process_time()
    while True:
        before = time.perf_counter()
        row = next(rows, None)
        generating += time.perf_counter() - before
        if row is None:
            break
        invoices += len(row.invoices)
        planned = plan_customer(
            DEMO_SOURCE, row.customer, row.invoices, row.payments,
            states={}, policy=policy, as_of=DEMO_DATE,
        )  # fmt: skip
        skipped += len(planned.skipped)
        for plan in planned.plans:
            accounts += 1
            changes += len(plan.invoices) + len(plan.tasks) + (plan.case is not None)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return {
        "customers": customers,
        "accounts": accounts,
        "invoices": invoices,
        "changes": changes,
        "skipped": skipped,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "generating_seconds": generating,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    """Print invoices/s and peak RSS; exit 1 when a target is missed."""
    customers = int(os.environ.get("SFSYNC_BENCH_CUSTOMERS", "100000"))
    policy = load_policy(Path("config/policy.yaml"))
    result = run(customers, policy)
    rate = result["invoices"] / result["seconds"]
    print(
        f"plan: {result['invoices']:,.0f} invoices, {result['customers']:,.0f} customers "
        f"({result['accounts']:,.0f} accounts), {result['changes']:,.0f} changes, "
        f"{result['skipped']:,.0f} rows skipped"
    )
    planning = result["seconds"] - result["generating_seconds"]
    print(
        f"plan: {result['seconds']:.1f} s in all, {rate:,.0f} invoices/s "
        f"(generating the ledger {result['generating_seconds']:.1f} s, parsing and planning "
        f"{planning:.1f} s = {result['invoices'] / planning:,.0f} invoices/s)"
    )
    print(f"plan: {result['cpu_seconds']:.1f} s of CPU on one core (the target's measure)")
    print(
        f"plan: peak RSS {result['peak_rss_mb']:.0f} MB "
        f"(targets: ≤ {TARGET_SECONDS:.0f} s for 1,000,000 invoices, < {TARGET_RSS_MB:.0f} MB)"
    )
    scaled = result["cpu_seconds"] * 1_000_000 / max(result["invoices"], 1)
    met = scaled <= TARGET_SECONDS and result["peak_rss_mb"] < TARGET_RSS_MB
    print(f"plan: targets {'met' if met else 'MISSED'}")
    return 0 if met else 1
