"""The generic SQL source: any SQLAlchemy URL, the admin's own tables or SELECT queries.

The admin describes the accounting database in a :class:`SqlLayout`: for invoices, customers and
(optionally) payments either a table and a column map, or a raw ``SELECT`` that returns sfsync's
column names and may use the bound parameters ``:since`` (start of the changed window, a
timestamp) and ``:as_of`` (the planning date). Either way sfsync wraps the relation in a
subquery with sfsync's column names and filters it itself, so the two modes read the same way.
Every value reaches the database as a bound parameter, never as SQL text.

One read (:meth:`SqlSource.read_changes`):

1. the watermark candidate: the highest ``updated_at`` of invoices, payments and customers,
   capped at the moment the read started (rows committed later are the next read's);
2. the customers touched: invoices, payments or customers changed since the watermark minus
   the overlap, plus open invoices whose due date was crossed (see :func:`base.due_window`);
3. for those customers, in chunks, every open invoice, every invoice changed in the window
   (just paid or voided), unapplied payments and credits and recent cash, and the customer row.

Values are fetched as the driver returns them (text on SQLite, typed on PostgreSQL) and parsed
by :func:`~sfsync.domain.parse_invoice`, so a malformed row is quarantined with its reason
instead of failing the read. Notes go to an admin-named table
``(customer_id, invoice_id, note, created_at)``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    and_,
    bindparam,
    column,
    create_engine,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    true,
    type_coerce,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, NoSuchTableError, OperationalError, SQLAlchemyError
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.sql.selectable import Subquery

from sfsync.clock import Clock
from sfsync.domain import Customer, InvoiceStatus
from sfsync.errors import ConfigError, RetryableError
from sfsync.sources.base import (
    CustomerRecords,
    SkippedRow,
    SourceBatch,
    Watermark,
    changed_since,
    due_window,
    next_watermark,
    raw_values,
)
from sfsync.sources.layouts import CustomerColumns, InvoiceColumns, PaymentColumns, SqlLayout
from sfsync.sources.rows import assemble_customer, moment_of, text_of

#: Customers read per round trip: small enough for any database's parameter limit.
CHUNK = 500
CONNECT_TIMEOUT_S = 10
#: Longest one statement may run unless ``source.sql.timeout_seconds`` says otherwise.
STATEMENT_TIMEOUT_S = 60.0
#: SQLSTATE of a statement cancelled by PostgreSQL's ``statement_timeout``.
_QUERY_CANCELED = "57014"
#: ``:since`` in a raw query on the first read, when everything counts as changed.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: The bound-parameter syntax SQLAlchemy's ``text()`` recognises.
_BIND_NAME = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


def create_source_engine(url: str, *, timeout_seconds: float = STATEMENT_TIMEOUT_S) -> Engine:
    """An engine for the accounting database, with connect and statement timeouts, UTC time.

    A read that hangs (a lock, a runaway query) must fail rather than hold the cycle forever:
    PostgreSQL cancels any statement past ``timeout_seconds`` (``statement_timeout``); MySQL
    drivers get read and write timeouts; SQLite waits that long for a locked file. Naive
    source timestamps are taken as UTC; on PostgreSQL the session time zone is set to UTC so
    ``timestamptz`` and ``timestamp`` columns compare the same way.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        milliseconds = max(1, round(timeout_seconds * 1000))
        return create_engine(
            parsed.set(drivername="postgresql+psycopg"),
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_S,
                "options": f"-c timezone=UTC -c statement_timeout={milliseconds}",
            },
        )
    if backend == "sqlite":
        return create_engine(parsed, connect_args={"timeout": timeout_seconds})
    if backend == "mysql":
        seconds = max(1, round(timeout_seconds))
        return create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_S,
                "read_timeout": seconds,
                "write_timeout": seconds,
            },
        )
    # SQL Server and Oracle: the driver's own query timeout, set in the URL (docs/sources.md).
    return create_engine(parsed, pool_pre_ping=True)


class SqlSource:
    """An :class:`~sfsync.sources.base.InvoiceSource` over a SQL database."""

    def __init__(
        self, name: str, engine: Engine, layout: SqlLayout, clock: Clock, *, chunk: int = CHUNK
    ) -> None:
        self._name = name
        self._engine = engine
        self._layout = layout
        self._clock = clock
        self._chunk = chunk
        self._metadata = MetaData(schema=layout.db_schema)

    @property
    def name(self) -> str:
        """The source name (first part of every key)."""
        return self._name

    @property
    def supports_notes(self) -> bool:
        """True when the layout names a notes table."""
        return self._layout.notes_table is not None

    @property
    def engine(self) -> Engine:
        """The accounting database's engine (the demo ledger helpers write through it)."""
        return self._engine

    # --- reading --------------------------------------------------------------------------------

    def read_changes(
        self,
        since: Watermark | None,
        as_of: date,
        overlap: timedelta,
        *,
        lookahead: timedelta = timedelta(0),
    ) -> SourceBatch:
        """Customers touched since ``since``; everything with an open invoice when ``None``."""
        started = self._clock.now()
        window = changed_since(since, overlap)
        first_due, last_due = due_window(since, as_of, overlap, lookahead)
        relations = self._relations(window, as_of)
        with self._translated(), self._engine.connect() as connection:
            highest = [
                moment_of(connection.execute(select(func.max(_raw(q.c.updated_at)))).scalar())
                for q in relations.values()
                if "updated_at" in q.c
            ]
            touched = self._touched(
                connection, relations, since, window=window, due=(first_due, last_due)
            )
            orphans = self._orphans(connection, relations["invoices"], window, since is None)
        watermark = next_watermark(since, highest, as_of, started)
        full = since is None
        return SourceBatch(
            customers=self._stream(sorted(touched, key=str), window, as_of, full=full),
            watermark=watermark,
            orphans=orphans,
        )

    def iter_customers(self, as_of: date) -> Iterator[CustomerRecords]:
        """Every customer with an open invoice or an unapplied payment, streamed in id order."""
        relations = self._relations(None, as_of)
        with self._translated(), self._engine.connect() as connection:
            touched = self._touched(connection, relations, None, window=None, due=(None, as_of))
        return self._stream(sorted(touched, key=str), None, as_of, full=True)

    def confirm_read(self, watermark: Watermark) -> None:
        """Nothing to keep: the SQL source's bookmark is the watermark itself."""
        del watermark

    def _touched(
        self,
        connection: Connection,
        relations: Mapping[str, Subquery],
        since: Watermark | None,
        *,
        window: datetime | None,
        due: tuple[date | None, date],
    ) -> set[object]:
        """Raw customer ids (as the database has them) the read must cover."""
        first_due, last_due = due
        invoices = relations["invoices"]
        statements = []
        if since is None:
            statements.append(select(invoices.c.customer_id).where(self._not_closed(invoices)))
            payments = relations.get("payments")
            if payments is not None and "applied_to" in payments.c:
                statements.append(
                    select(payments.c.customer_id).where(_blank(payments.c.applied_to))
                )
        else:
            for relation in relations.values():
                changed = _changed(relation, window)
                if changed is not None:
                    key = relation.c.customer_id if "customer_id" in relation.c else relation.c.id
                    statements.append(select(key).where(changed))
            crossing = [
                self._not_closed(invoices),
                invoices.c.due_date <= _bound(invoices.c.due_date, last_due),
            ]
            if first_due is not None:
                crossing.append(invoices.c.due_date >= _bound(invoices.c.due_date, first_due))
            statements.append(select(invoices.c.customer_id).where(and_(*crossing)))
        touched: set[object] = set()
        for statement in statements:
            touched.update(
                value
                for value in connection.execute(statement.distinct()).scalars()
                if text_of(value)
            )
        return touched

    def _orphans(
        self, connection: Connection, invoices: Subquery, window: datetime | None, full: bool
    ) -> tuple[SkippedRow, ...]:
        """Invoice rows with no customer id: no account can hold them, so quarantine them."""
        condition: ColumnElement[bool] = _blank(invoices.c.customer_id)
        changed = _changed(invoices, window)
        if not full and changed is not None:
            condition = and_(condition, changed)
        rows = connection.execute(select(*_raw_columns(invoices)).where(condition)).mappings()
        result = []
        for row in rows:
            key = f"{self._name}:{text_of(row['id']) or '?'}"
            number = text_of(row.get("number")) or text_of(row["id"])
            reason = f"invoice {number}: has no customer"
            result.append(SkippedRow(key, reason, raw_values(dict(row))))
        return tuple(result)

    def _stream(
        self, customer_ids: Sequence[object], window: datetime | None, as_of: date, *, full: bool
    ) -> Iterator[CustomerRecords]:
        """Yield the touched customers chunk by chunk: memory stays flat in ledger size."""
        relations = self._relations(window, as_of)
        for start in range(0, len(customer_ids), self._chunk):
            chunk = list(customer_ids[start : start + self._chunk])
            # The chunk is read whole and the connection returned before anything is yielded:
            # the caller may take its time per customer (Salesforce calls) without holding a
            # read transaction open on the accounting database.
            with self._translated(), self._engine.connect() as connection:
                records = list(
                    self._read_chunk(
                        connection, relations, chunk, window=window, as_of=as_of, full=full
                    )
                )
            yield from records

    def _read_chunk(
        self,
        connection: Connection,
        relations: Mapping[str, Subquery],
        chunk: list[object],
        *,
        window: datetime | None,
        as_of: date,
        full: bool,
    ) -> Iterator[CustomerRecords]:
        invoices = relations["invoices"]
        wanted = self._not_closed(invoices)
        changed = None if full else _changed(invoices, window)
        if changed is not None:
            wanted = or_(wanted, changed)
        statement = (
            select(*_raw_columns(invoices))
            .where(invoices.c.customer_id.in_(chunk), wanted)
            .order_by(invoices.c.customer_id, invoices.c.due_date, invoices.c.id)
        )
        by_customer: defaultdict[str, list[dict[str, object]]] = defaultdict(list)
        for row in connection.execute(statement).mappings():
            by_customer[text_of(row["customer_id"])].append(self._invoice_row(dict(row)))
        payments_by_customer = self._payments(connection, relations.get("payments"), chunk, as_of)
        names = self._names(connection, relations.get("customers"), chunk)
        for raw_id in chunk:
            ident = text_of(raw_id)
            yield assemble_customer(
                self._name,
                Customer(ident, names.get(ident) or ident),
                by_customer.get(ident, ()),
                payments_by_customer.get(ident, ()),
            )

    def _invoice_row(self, row: Mapping[str, object]) -> dict[str, object]:
        """The row under parse_invoice's keys, with the database's status codes translated."""
        values = dict(row)
        status = values.get("status")
        mapped = self._layout.status_values.get(text_of(status))
        if mapped is not None:
            values["status"] = mapped.value
        return values

    def _payments(
        self, connection: Connection, payments: Subquery | None, chunk: list[object], as_of: date
    ) -> dict[str, list[dict[str, object]]]:
        result: defaultdict[str, list[dict[str, object]]] = defaultdict(list)
        if payments is None:
            return result
        since = as_of - timedelta(days=self._layout.payment_lookback_days)
        wanted: ColumnElement[bool] = payments.c.received_on >= _bound(
            payments.c.received_on, since
        )
        if "applied_to" in payments.c:
            wanted = or_(wanted, _blank(payments.c.applied_to))
        statement = (
            select(*_raw_columns(payments))
            .where(payments.c.customer_id.in_(chunk), wanted)
            .order_by(payments.c.customer_id, payments.c.received_on, payments.c.id)
        )
        for row in connection.execute(statement).mappings():
            values = dict(row)
            mapped = self._layout.kind_values.get(text_of(values.get("kind")))
            if mapped is not None:
                values["kind"] = mapped.value
            result[text_of(row["customer_id"])].append(values)
        return result

    def _names(
        self, connection: Connection, customers: Subquery | None, chunk: list[object]
    ) -> dict[str, str]:
        """Customer names; a customer missing from the table is named by its id."""
        if customers is None:
            return {}
        statement = select(_raw(customers.c.id), _raw(customers.c.name)).where(
            customers.c.id.in_(chunk)
        )
        return {text_of(ident): text_of(name) for ident, name in connection.execute(statement)}

    def _not_closed(self, invoices: Subquery) -> ColumnElement[bool]:
        """Invoices not known to be paid or void: open ones, and unknown statuses to quarantine."""
        if "status" not in invoices.c:
            return true()
        closed = {"paid", "void"} | {
            raw.lower()
            for raw, status in self._layout.status_values.items()
            if status is not InvoiceStatus.OPEN
        }
        status = invoices.c.status
        return or_(status.is_(None), func.lower(status).not_in(sorted(closed)))

    # --- relations ------------------------------------------------------------------------------

    def _relations(self, window: datetime | None, as_of: date) -> dict[str, Subquery]:
        """invoices / customers / payments as subqueries with sfsync's column names."""
        layout = self._layout
        params = (window or _EPOCH, as_of)
        relations = {
            "invoices": self._relation(
                "invoices",
                layout.invoices_table,
                layout.invoices_query,
                layout.invoice_columns.model_dump(),
                params,
            )
        }
        if layout.customers_table or layout.customers_query:
            relations["customers"] = self._relation(
                "customers",
                layout.customers_table,
                layout.customers_query,
                layout.customer_columns.model_dump(),
                params,
            )
        if layout.payments_table or layout.payments_query:
            relations["payments"] = self._relation(
                "payments",
                layout.payments_table,
                layout.payments_query,
                layout.payment_columns.model_dump(),
                params,
            )
        return relations

    def _relation(
        self,
        label: str,
        table_name: str | None,
        query: str | None,
        columns: Mapping[str, str | None],
        params: tuple[datetime, date],
    ) -> Subquery:
        present = {key: name for key, name in columns.items() if name}
        if query is not None:
            return _query_relation(label, query, list(present), *params)
        if table_name is None:  # pragma: no cover - callers check one of the two is set
            raise ConfigError(f"source.sql: {label} needs a table or a query")
        table = self._table(table_name)
        missing = [name for name in present.values() if name not in table.c]
        if missing:
            raise ConfigError(
                f"source.sql: table {table_name!r} has no column {', '.join(map(repr, missing))} "
                f"(it has {', '.join(table.c.keys())}); fix the {label} column map"
            )
        return select(*(table.c[name].label(key) for key, name in present.items())).subquery(label)

    def _table(self, name: str) -> Table:
        if name in self._metadata.tables:
            return self._metadata.tables[name]
        qualified = f"{self._layout.db_schema}.{name}" if self._layout.db_schema else name
        if qualified in self._metadata.tables:
            return self._metadata.tables[qualified]
        with self._translated():
            try:
                return Table(name, self._metadata, autoload_with=self._engine)
            except NoSuchTableError:
                raise ConfigError(
                    f"source.sql: the accounting database has no table {qualified!r}; "
                    "fix the table name in the source layout"
                ) from None

    # --- notes ----------------------------------------------------------------------------------

    def write_note(self, customer_id: str, invoice_id: str | None, text: str, at: datetime) -> None:
        """INSERT the note into the admin-named notes table (nothing when none is named)."""
        if self._layout.notes_table is None:
            return
        table = self._table(self._layout.notes_table)
        values = {"customer_id": customer_id, "invoice_id": invoice_id, "note": text}
        moment = table.c["created_at"]
        values_at: object = at
        if isinstance(moment.type, DateTime) and not moment.type.timezone:
            values_at = at.astimezone(UTC).replace(tzinfo=None)
        with self._translated(), self._engine.begin() as connection:
            connection.execute(insert(table).values(**values, created_at=values_at))

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver errors into the error tree: unreachable database retries, the rest is config."""
        try:
            yield
        except DBAPIError as error:
            if getattr(error.orig, "sqlstate", None) == _QUERY_CANCELED:
                raise RetryableError(
                    f"source {self._name}: a statement to the accounting database ran past "
                    "source.sql.timeout_seconds and was cancelled"
                ) from error
            if self._is_transient(error):
                raise RetryableError(
                    f"source {self._name}: the accounting database is unreachable "
                    f"({type(error.orig).__name__})"
                ) from error
            raise self._refused(error) from error
        except SQLAlchemyError as error:
            raise self._refused(error) from error

    def _is_transient(self, error: DBAPIError) -> bool:
        """Connection lost or refused, or a busy SQLite file: the same read may work later.

        sqlite3 also reports "no such table" and syntax errors as OperationalError; those are
        the layout's fault, not the network's.
        """
        if error.connection_invalidated:
            return True
        if not isinstance(error, OperationalError):
            return False
        if self._engine.dialect.name == "sqlite":
            text_of_error = str(error.orig).lower()
            return (
                "locked" in text_of_error
                or "busy" in text_of_error
                or "unable to open" in text_of_error
            )
        return True

    def _refused(self, error: SQLAlchemyError) -> ConfigError:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        return ConfigError(
            f"source {self._name}: the accounting database refused sfsync's statement "
            f"({first_line}); check the source layout"
        )


def _query_relation(
    label: str, query: str, keys: list[str], since: datetime, as_of: date
) -> Subquery:
    """A raw SELECT wrapped as a subquery; only the parameters it names are bound."""
    used = set(_BIND_NAME.findall(query))
    unknown = used - {"since", "as_of"}
    if unknown:
        raise ConfigError(
            f"source.sql: the {label} query uses :{', :'.join(sorted(unknown))}; "
            "only :since and :as_of are provided"
        )
    binds: list[BindParameter[Any]] = []
    if "since" in used:
        naive = since.astimezone(UTC).replace(tzinfo=None)
        binds.append(bindparam("since", naive, type_=DateTime()))
    if "as_of" in used:
        binds.append(bindparam("as_of", as_of, type_=Date()))
    types: dict[str, Any] = {"updated_at": DateTime(), "due_date": Date(), "received_on": Date()}
    columns = [column(key, types.get(key, String())) for key in keys]
    return text(query).bindparams(*binds).columns(*columns).subquery(label)


def _raw(element: ColumnElement[Any]) -> ColumnElement[Any]:
    """Fetch a column as the driver returns it: no SQLAlchemy conversion can fail on bad data."""
    return type_coerce(element, String())


def _raw_columns(relation: Subquery) -> list[ColumnElement[Any]]:
    return [_raw(col).label(col.key) for col in relation.c]


def _blank(element: ColumnElement[Any]) -> ColumnElement[bool]:
    """NULL, or the empty string where the column holds text."""
    if isinstance(element.type, String):
        return or_(element.is_(None), element == "")
    return element.is_(None)


def _changed(relation: Subquery, window: datetime | None) -> ColumnElement[bool] | None:
    """Rows updated in the window (all rows when there is no window yet), or ``None``."""
    if "updated_at" not in relation.c:
        if "received_on" in relation.c and window is not None:
            return relation.c.received_on >= _bound(relation.c.received_on, window.date())
        return None
    if window is None:
        return true()
    return relation.c.updated_at >= _bound(relation.c.updated_at, window)


def _bound(element: ColumnElement[Any], value: date) -> ColumnElement[Any]:
    """``value`` as a bound parameter the column compares correctly with.

    Timestamps bind naive UTC to a column without time zone and aware to one with; text
    columns get ISO text (``YYYY-MM-DD`` / ``YYYY-MM-DD HH:MM:SS``), which sorts like the value.
    """
    kind = element.type
    if isinstance(value, datetime):
        utc = value.astimezone(UTC)
        if isinstance(kind, DateTime):
            return literal(
                utc if kind.timezone else utc.replace(tzinfo=None), DateTime(timezone=kind.timezone)
            )
        return literal(utc.strftime("%Y-%m-%d %H:%M:%S"), String())
    if isinstance(kind, Date):
        return literal(value, Date())
    return literal(value.isoformat(), String())


__all__ = [
    "CustomerColumns",
    "InvoiceColumns",
    "PaymentColumns",
    "SqlLayout",
    "SqlSource",
    "create_source_engine",
]
