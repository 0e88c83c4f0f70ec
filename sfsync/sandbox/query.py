"""The query and queryAll resources: SOQL through the engine in :mod:`soql`, paged as the REST
API pages it.

A page holds up to 2,000 records (``Sforce-Query-Options: batchSize=N`` asks for 200..2,000);
``totalSize`` counts every match; when more remain, ``nextRecordsUrl`` is a
``/services/data/vXX.X/query/{locator}-{offset}`` path (also for queryAll, as Salesforce does).
Results are held in a bounded cursor cache, so a later page sees the rows as they were when the
query ran. A cursor idle for 15 minutes of org time expires, as Salesforce documents; an expired,
unknown or evicted locator is 400 ``INVALID_QUERY_LOCATOR``.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sfsync.sandbox.errors import ApiError
from sfsync.sandbox.exchange import Context, Response
from sfsync.sandbox.ids import make_id
from sfsync.sandbox.soql import SoqlError, execute_soql, parse_soql

MAX_BATCH = 2000
MIN_BATCH = 200
MAX_CURSORS = 200
CURSOR_IDLE_LIMIT = timedelta(minutes=15)
_BATCH_SIZE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class Cursor:
    records: list[dict[str, Any]]
    batch_size: int
    last_used: datetime


class CursorCache:
    """Open query cursors, newest kept, oldest evicted beyond :data:`MAX_CURSORS`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._counter = 0

    def open(self, cursor: Cursor) -> str:
        with self._lock:
            self._counter += 1
            locator = make_id("01g", self._counter)
            self._cursors[locator] = cursor
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
            return locator

    def get(self, locator: str, now: datetime) -> Cursor | None:
        """The cursor, unless unknown or idle past :data:`CURSOR_IDLE_LIMIT` (then dropped)."""
        with self._lock:
            cursor = self._cursors.get(locator)
            if cursor is None:
                return None
            if now - cursor.last_used > CURSOR_IDLE_LIMIT:
                del self._cursors[locator]
                return None
            cursor.last_used = now
            return cursor

    def clear(self) -> None:
        with self._lock:
            self._cursors.clear()


def batch_size(ctx: Context) -> int:
    """The page size the client asked for, clamped to what Salesforce allows."""
    options = ctx.request.header("Sforce-Query-Options") or ""
    match = _BATCH_SIZE.search(options)
    if match is None:
        return MAX_BATCH
    return max(MIN_BATCH, min(MAX_BATCH, int(match.group(1))))


def run_query(
    ctx: Context, text: str, include_deleted: bool
) -> tuple[int, list[dict[str, Any]], bool]:
    """``(totalSize, records, is_count)`` for a SOQL text; engine errors become 400s."""
    org = ctx.org
    try:
        query = parse_soql(text)
        result = execute_soql(
            query, org.schema, org.store, ctx.writer.now, ctx.api_version, include_deleted
        )
    except SoqlError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    return result.total_size, result.records, result.is_count


def get_query(ctx: Context, params: Mapping[str, str]) -> Response:
    include_deleted = params["resource"].lower() == "queryall"
    text = ctx.request.query.get("q")
    if not text:
        raise ApiError(400, "MALFORMED_QUERY", "A query string is required: ?q=SELECT ...")
    total, records, is_count = run_query(ctx, text, include_deleted)
    if is_count:
        return Response.json(200, {"totalSize": total, "done": True, "records": []})
    return _page(ctx, Cursor(records, batch_size(ctx), ctx.writer.now), None, 0, total)


def get_query_more(ctx: Context, params: Mapping[str, str]) -> Response:
    locator, _, offset_text = params["locator"].rpartition("-")
    cursor = ctx.org.cursors.get(locator, ctx.writer.now) if offset_text.isdigit() else None
    if cursor is None:
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(ctx, cursor, locator, int(offset_text), len(cursor.records))


def _page(ctx: Context, cursor: Cursor, locator: str | None, offset: int, total: int) -> Response:
    end = offset + cursor.batch_size
    body: dict[str, Any] = {
        "totalSize": total,
        "done": end >= len(cursor.records),
        "records": cursor.records[offset:end],
    }
    if not body["done"]:
        locator = locator or ctx.org.cursors.open(cursor)
        body["nextRecordsUrl"] = f"{ctx.base_path}/query/{locator}-{end}"
    # nextRecordsUrl goes before records, as Salesforce orders the keys
    ordered = {k: body[k] for k in ("totalSize", "done", "nextRecordsUrl", "records") if k in body}
    return Response.json(200, ordered)
