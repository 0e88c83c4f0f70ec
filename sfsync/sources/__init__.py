"""Accounting adapters behind one :class:`~sfsync.sources.base.InvoiceSource` protocol.

* ``sql`` (:mod:`sfsync.sources.sql`): any SQLAlchemy URL, the admin's tables or queries;
* ``csv`` (:mod:`sfsync.sources.aging_file`): a CSV or XLSX aging export, diffed by snapshot;
* ``demo`` (:mod:`sfsync.sources.demo`): the bundled demo ledger, served by the SQL source.

:func:`build_source` picks one from the settings. The adapters are imported when chosen, so
code that only needs the port does not load SQLAlchemy or openpyxl.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sfsync.errors import ConfigError
from sfsync.sources.base import (
    INVOICE_STREAM,
    CustomerRecords,
    InvoiceSource,
    SkippedRow,
    SourceBatch,
    Watermark,
)
from sfsync.sources.layouts import AgingFileLayout, SqlLayout

if TYPE_CHECKING:
    from sfsync.clock import Clock
    from sfsync.settings import SourceSettings

#: Where sources keep their own files (demo ledger, aging snapshots, outcomes export).
DEFAULT_STATE_DIR = Path("var")


def build_source(
    settings: SourceSettings,
    *,
    clock: Clock,
    state_dir: Path = DEFAULT_STATE_DIR,
    sql_layout: SqlLayout | None = None,
    file_layout: AgingFileLayout | None = None,
) -> InvoiceSource:
    """The source ``settings.kind`` names, called ``settings.name``.

    ``state_dir`` holds the demo ledger (``demo-ledger.sqlite``, built on first use), aging
    snapshots and the default outcomes export. A layout passed in wins; else the one in the
    settings (``source.sql.layout`` / ``source.csv.layout``, once settings carry them); else the
    conventional table and column names (SQL) and a typical SAP/NetSuite header (CSV/XLSX).
    """
    # Imported here: only the chosen adapter's libraries are loaded.
    if settings.kind == "demo":
        from sfsync.sources.demo import demo_source  # noqa: PLC0415

        return demo_source(clock, path=state_dir / "demo-ledger.sqlite", name=settings.name)
    if settings.kind == "sql":
        from sfsync.sources.sql import SqlSource, create_source_engine  # noqa: PLC0415

        if settings.sql.url is None:
            raise ConfigError("source.sql.url is required when source.kind is sql")
        engine = create_source_engine(
            settings.sql.url, timeout_seconds=settings.sql.timeout_seconds
        )
        layout = sql_layout or settings.sql.layout
        return SqlSource(settings.name, engine, layout, clock)
    from sfsync.sources.aging_file import AgingFileSource  # noqa: PLC0415

    if settings.csv.path is None:
        raise ConfigError("source.csv.path is required when source.kind is csv")
    aging = file_layout or settings.csv.layout
    return AgingFileSource(settings.name, settings.csv.path, aging, state_dir=state_dir)


__all__ = [
    "DEFAULT_STATE_DIR",
    "INVOICE_STREAM",
    "CustomerRecords",
    "InvoiceSource",
    "SkippedRow",
    "SourceBatch",
    "Watermark",
    "build_source",
]
