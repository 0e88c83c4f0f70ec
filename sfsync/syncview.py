"""What ``sfsync run`` and ``sfsync dlq list`` print: summary table, progress, error lists.

Output only (rich); the numbers come from :class:`~sfsync.sync.CycleReport` and the store.
The progress display appears only on a terminal, so logs and CI output stay plain.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from sfsync.deadletters import ErrorList
from sfsync.sync import SUMMARY_COUNTS, CycleReport, ProgressCallback

_LABELS = {
    "accounts_read": "accounts read",
    "accounts_planned": "accounts with changes",
    "cases_opened": "Cases opened",
    "cases_updated": "Cases updated",
    "cases_closed": "Cases closed",
    "tasks_created": "Tasks created",
    "tasks_closed": "Tasks closed",
    "invoices_upserted": "invoice records written",
    "skipped": "changes skipped",
    "dead_lettered": "writes refused (dead letters)",
    "unmatched": "customers without an Account",
    "quarantined": "source rows quarantined",
}


def summary_table(report: CycleReport) -> Table:
    """The run summary: counts, API calls and status."""
    table = Table(title=f"sync run {report.run_id} ({report.source}): {report.status}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for name in SUMMARY_COUNTS:
        table.add_row(_LABELS[name], str(report.counts.get(name, 0)))
    calls = report.calls
    table.add_row(
        "Salesforce calls (read / write / auth)", f"{calls.read} / {calls.write} / {calls.auth}"
    )
    table.add_row("duration", f"{report.duration_seconds:.1f} s")
    return table


def print_report(report: CycleReport, console: Console | None = None) -> None:
    """Print the summary table, the unmatched customers and any error."""
    out = console or Console(highlight=False)
    out.print(summary_table(report))
    if report.unmatched:
        shown = ", ".join(report.unmatched[:20])
        more = f" and {len(report.unmatched) - 20} more" if len(report.unmatched) > 20 else ""
        out.print(f"customers without a Salesforce Account: {shown}{more} (see sfsync dlq list)")
    if report.error:
        out.print(f"[red]{report.error}[/red]")


@contextmanager
def progress_reporter(console: Console | None = None) -> Iterator[ProgressCallback | None]:
    """A progress callback drawing the customers planned so far, on a terminal only (None
    elsewhere). The default console also needs a real TTY on stdout, so a forced-colour CI log
    stays plain; a console passed in is trusted as it is (tests render into one)."""
    out = console or Console()
    if not out.is_terminal or (console is None and not sys.stdout.isatty()):
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("syncing: {task.completed} customers"),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as progress:
        task = progress.add_task("sync", total=None)

        def advance(done: int) -> None:
            progress.update(task, completed=done)

        yield advance


def errors_tables(errors: ErrorList) -> list[Table]:
    """One table of dead letters, one of quarantined rows."""
    letters = Table(title=f"refused writes: {len(errors.dead_letters)}")
    for column in (
        "id",
        "object",
        "key",
        "operation",
        "code",
        "message",
        "attempts",
        "last failed",
    ):
        letters.add_column(column)
    for letter in errors.dead_letters:
        letters.add_row(
            str(letter.id),
            letter.sobject,
            letter.record_key,
            letter.operation,
            letter.error_code,
            letter.message,
            str(letter.attempts),
            letter.last_failed_at.isoformat(timespec="seconds"),
        )
    rows = Table(title=f"quarantined source rows: {len(errors.quarantined)}")
    for column in ("source", "row", "reason", "last seen"):
        rows.add_column(column)
    for row in errors.quarantined:
        rows.add_row(
            row.source, row.row_key, row.reason, row.last_seen.isoformat(timespec="seconds")
        )
    return [letters, rows]


def print_errors(errors: ErrorList, console: Console | None = None) -> None:
    """Print both lists: tables on a terminal, one plain line per item otherwise (for scripts
    and logs, where a table would cut long keys and messages)."""
    out = console or Console(highlight=False)
    if out.is_terminal:
        for table in errors_tables(errors):
            out.print(table)
        return
    for letter in errors.dead_letters:
        out.print(
            f"dead_letter id={letter.id} object={letter.sobject} key={letter.record_key} "
            f"operation={letter.operation} code={letter.error_code} attempts={letter.attempts} "
            f"last_failed={letter.last_failed_at.isoformat(timespec='seconds')} "
            f"message={letter.message}",
            soft_wrap=True,
            markup=False,
        )
    for row in errors.quarantined:
        out.print(
            f"quarantined source={row.source} row={row.row_key} "
            f"last_seen={row.last_seen.isoformat(timespec='seconds')} reason={row.reason}",
            soft_wrap=True,
            markup=False,
        )
    out.print(
        f"{len(errors.dead_letters)} refused writes, {len(errors.quarantined)} quarantined rows",
        markup=False,
    )
