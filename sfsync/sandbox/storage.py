"""The org's records: a SQLite file for durability and an in-memory index for speed.

Every record is a dict keyed by canonical field names with wire JSON values (what the REST API
returns), always with ``Id`` and ``IsDeleted``. Records are never mutated in place: a write puts
a new dict, so readers holding an old one see a consistent row.

Each request runs in one :class:`Transaction`. Writes change the in-memory index at once and are
journaled; on success the touched rows are written to SQLite in a single SQLite transaction, on
failure the journal is played back so nothing is half-written in memory or on disk. The store's
lock serialises requests that touch data (the server holds it while a handler runs), which keeps
the memory index and SQLite in step without finer locking.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sfsync.sandbox.ids import normalize_id
from sfsync.sandbox.schema import Schema

Record = Mapping[str, Any]

_DDL = (
    (
        "CREATE TABLE IF NOT EXISTS records ("
        " id TEXT PRIMARY KEY, sobject TEXT NOT NULL, body TEXT NOT NULL)"
    ),
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    (
        "CREATE TABLE IF NOT EXISTS sessions ("
        " token TEXT PRIMARY KEY, user_id TEXT NOT NULL, issued_at TEXT NOT NULL,"
        " expires_at TEXT NOT NULL)"
    ),
)


def index_key(value: Any, case_sensitive: bool) -> Any:
    """How a unique or external-id value is compared: case-insensitively unless the field says
    otherwise, and numbers by value."""
    if isinstance(value, str):
        return value if case_sensitive else value.lower()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class OrgStore:
    """Records of every object, by id and by unique/external-id value, persisted in SQLite."""

    def __init__(self, path: Path, schema: Schema) -> None:
        self.schema = schema
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        for statement in _DDL:
            self._conn.execute(statement)
        self._records: dict[str, Record] = {}
        self._by_object: dict[str, dict[str, Record]] = {}
        self._indexed: dict[str, tuple[tuple[str, bool], ...]] = {
            name: tuple(
                (f.name, f.case_sensitive) for f in obj.fields.values() if f.external_id or f.unique
            )
            for name, obj in schema.objects.items()
        }
        self._index: dict[tuple[str, str], dict[Any, set[str]]] = {}
        self._counters: dict[str, int] = {}
        self._types: dict[str, str] = {}
        self._load()

    # --- loading -----------------------------------------------------------------------------

    def _load(self) -> None:
        for record_id, sobject, body in self._conn.execute(
            "SELECT id, sobject, body FROM records ORDER BY rowid"
        ):
            obj = self.schema.object(sobject)
            if obj is None:
                continue  # the object left the schema; keep the row on disk, hide it here
            self._apply(record_id, json.loads(body), obj.name)
        for name, value in self._conn.execute("SELECT name, value FROM counters"):
            self._counters[name] = value

    def close(self) -> None:
        with self.lock:
            self._conn.close()

    # --- reads (call with the lock held) -----------------------------------------------------

    def get(self, record_id: str) -> Record | None:
        """Any stored row by its 18-character id, deleted or not."""
        return self._records.get(record_id)

    def records(self, sobject: str, include_deleted: bool) -> list[Record]:
        """Every row of ``sobject`` in creation order; deleted rows only when asked."""
        rows = self._by_object.get(sobject.lower(), {})
        if include_deleted:
            return list(rows.values())
        return [row for row in rows.values() if not row.get("IsDeleted")]

    def find(self, sobject: str, field: str, value: Any) -> list[str]:
        """Ids of live rows whose ``field`` equals ``value`` (indexed fields use the index)."""
        obj = self.schema.object(sobject)
        if obj is None:
            return []
        field_def = obj.field(field)
        if field_def is None:
            return []
        if field_def.external_id or field_def.unique:
            key = index_key(value, field_def.case_sensitive)
            ids = self._index.get((obj.name.lower(), field_def.name.lower()), {}).get(key, set())
            return sorted(i for i in ids if not self._records[i].get("IsDeleted"))
        wanted = index_key(value, field_def.case_sensitive)
        return [
            row["Id"]
            for row in self.records(obj.name, include_deleted=False)
            if row.get(field_def.name) is not None
            and index_key(row[field_def.name], field_def.case_sensitive) == wanted
        ]

    def lookup(self, sobject: str, field: str, values: list[str]) -> list[Record] | None:
        """Rows of ``sobject`` whose Id or indexed ``field`` equals one of ``values``; None when
        the field has no index (the SOQL engine then scans)."""
        obj = self.schema.object(sobject)
        field_def = obj.field(field) if obj is not None else None
        if obj is None or field_def is None:
            return None
        if field_def.name == "Id":
            rows = (self._records.get(normalize_id(v) or "") for v in values)
            return [row for row in rows if row is not None and self._types[row["Id"]] == obj.name]
        if not (field_def.external_id or field_def.unique):
            return None
        bucket = self._index.get((obj.name.lower(), field_def.name.lower()), {})
        ids: set[str] = set()
        for value in values:
            ids |= bucket.get(index_key(value, field_def.case_sensitive), set())
        return [self._records[record_id] for record_id in sorted(ids)]

    # --- writes ------------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One request's unit of work: committed to SQLite on success, undone on error."""
        with self.lock:
            txn = Transaction(self)
            try:
                yield txn
            except BaseException:
                txn.rollback_to(0)
                raise
            if txn.rollback_only:
                txn.rollback_to(0)
                return
            self._commit(txn)

    def _commit(self, txn: Transaction) -> None:
        touched = txn.touched_ids()
        if not touched and not txn.counters_changed:
            return
        try:
            self._conn.execute("BEGIN")
            for record_id in touched:
                record = self._records.get(record_id)
                if record is None:
                    self._conn.execute("DELETE FROM records WHERE id = ?", (record_id,))
                else:
                    self._conn.execute(
                        "INSERT INTO records (id, sobject, body) VALUES (?, ?, ?)"
                        " ON CONFLICT(id) DO UPDATE SET body = excluded.body",
                        (record_id, self._types[record_id], json.dumps(record)),
                    )
            self._conn.executemany(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                list(self._counters.items()),
            )
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            txn.rollback_to(0)
            raise

    def next_counter(self, name: str) -> int:
        """The next value of a named org sequence (ids, case numbers); persisted on commit."""
        value = self._counters.get(name, 0) + 1
        self._counters[name] = value
        return value

    def _apply(self, record_id: str, record: Record | None, sobject: str) -> None:
        """Make ``record`` (or nothing) the current ``sobject`` row for ``record_id``, with its
        index entries."""
        old = self._records.get(record_id)
        if old is not None:
            self._unindex(record_id, old, self._types[record_id])
        if record is None:
            self._records.pop(record_id, None)
            self._types.pop(record_id, None)
            self._by_object.get(sobject.lower(), {}).pop(record_id, None)
            return
        self._records[record_id] = record
        self._types[record_id] = sobject
        self._by_object.setdefault(sobject.lower(), {})[record_id] = record
        self._reindex(record_id, record, sobject)

    def _reindex(self, record_id: str, record: Record, sobject_name: str) -> None:
        """Index a row's unique and external-id values; deleted rows too, so queryAll lookups
        find them (:meth:`find` filters them out for writes)."""
        sobject = sobject_name.lower()
        for field_name, case_sensitive in self._indexed.get(sobject, ()):
            value = record.get(field_name)
            if value is None:
                continue
            bucket = self._index.setdefault((sobject, field_name.lower()), {})
            bucket.setdefault(index_key(value, case_sensitive), set()).add(record_id)

    def _unindex(self, record_id: str, record: Record, sobject_name: str) -> None:
        sobject = sobject_name.lower()
        for field_name, case_sensitive in self._indexed.get(sobject, ()):
            value = record.get(field_name)
            if value is None:
                continue
            bucket = self._index.get((sobject, field_name.lower()), {})
            ids = bucket.get(index_key(value, case_sensitive))
            if ids is not None:
                ids.discard(record_id)
                if not ids:
                    del bucket[index_key(value, case_sensitive)]

    # --- sessions ----------------------------------------------------------------------------

    def save_session(self, token: str, user_id: str, issued_at: str, expires_at: str) -> None:
        with self.lock:
            self._conn.execute(
                "INSERT INTO sessions (token, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?)",
                (token, user_id, issued_at, expires_at),
            )

    def load_sessions(self) -> list[tuple[str, str, str, str]]:
        with self.lock:
            return list(
                self._conn.execute("SELECT token, user_id, issued_at, expires_at FROM sessions")
            )

    def expire_sessions(self, expires_at: str) -> None:
        with self.lock:
            self._conn.execute("UPDATE sessions SET expires_at = ?", (expires_at,))

    # --- reset -------------------------------------------------------------------------------

    def snapshot(self) -> list[tuple[str, Record]]:
        """Every row with its object name, to restore later with :meth:`replace_all`."""
        with self.lock:
            return [(self._types[record_id], row) for record_id, row in self._records.items()]

    def replace_all(self, rows: Iterable[tuple[str, Record]]) -> None:
        """Drop every row and store ``rows`` instead (the test fixture's cheap reset)."""
        rows = list(rows)
        with self.lock:
            self._conn.execute("BEGIN")
            self._conn.execute("DELETE FROM records")
            self._conn.executemany(
                "INSERT INTO records (id, sobject, body) VALUES (?, ?, ?)",
                [(row["Id"], sobject, json.dumps(row)) for sobject, row in rows],
            )
            self._conn.execute("COMMIT")
            self._records.clear()
            self._types.clear()
            self._by_object.clear()
            self._index.clear()
            for sobject, row in rows:
                self._apply(row["Id"], row, sobject)

    def sobject_of(self, record_id: str) -> str | None:
        """The canonical object name of a stored row."""
        return self._types.get(record_id)


class Transaction:
    """The journal of one request's writes, with savepoints for all-or-none groups inside it."""

    def __init__(self, store: OrgStore) -> None:
        self.store = store
        self._journal: list[tuple[str, Record | None, str]] = []
        self.rollback_only = False
        self.counters_changed = False

    def put(self, sobject: str, record: Record) -> None:
        """Store ``record`` as the new current ``sobject`` row for its id."""
        record_id: str = record["Id"]
        self._journal.append((record_id, self.store.get(record_id), sobject))
        self.store._apply(record_id, record, sobject)

    def remove(self, record_id: str) -> None:
        """Erase a row entirely (hard delete)."""
        sobject = self.store.sobject_of(record_id)
        if sobject is None:
            return
        self._journal.append((record_id, self.store.get(record_id), sobject))
        self.store._apply(record_id, None, sobject)

    def next_counter(self, name: str) -> int:
        self.counters_changed = True
        return self.store.next_counter(name)

    def savepoint(self) -> int:
        return len(self._journal)

    def rollback_to(self, savepoint: int) -> None:
        """Undo every write made after ``savepoint``, newest first."""
        while len(self._journal) > savepoint:
            record_id, previous, sobject = self._journal.pop()
            self.store._apply(record_id, previous, sobject)

    def touched_ids(self) -> list[str]:
        return list(dict.fromkeys(record_id for record_id, _, _ in self._journal))
