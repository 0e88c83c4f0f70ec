"""Run every registered benchmark, or those named on the command line: ``python -m bench [name]``.

Later benchmarks (the local org, the sync cycle) register here by adding one line to
:data:`BENCHMARKS`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from bench import gateway, jobs, org, plan, sync

#: name → entry point returning an exit code (0 when the targets were met).
BENCHMARKS: dict[str, Callable[[], int]] = {
    "plan": plan.main,
    "sync": sync.main,
    "org": org.main,
    "gateway": gateway.main,
    "jobs": jobs.main,
}


def main(argv: list[str]) -> int:
    """Run the named benchmarks (all when none is named); the worst exit code wins."""
    names = argv or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    return max(BENCHMARKS[name]() for name in names)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
