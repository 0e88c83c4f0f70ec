"""Bulk API 2.0: ingest jobs (insert, update, upsert, delete, hardDelete) and query jobs.

Ingest follows the documented state machine: a job is created ``Open``; one CSV upload
(``PUT .../batches``, 201) is allowed while it is open; ``PATCH {"state":"UploadComplete"}``
queues it, and the org then processes it in that same request, so the next poll sees
``JobComplete`` (or ``Failed`` with ``errorMessage`` when the CSV header names an unknown field);
``PATCH {"state":"Aborted"}`` stops an open job, leaving its rows unprocessed. Each row is its own
unit (one bad row never stops the others), with results as CSV: ``successfulResults``
(``sf__Id,sf__Created,...``), ``failedResults`` (``sf__Id,sf__Error,...``) and
``unprocessedrecords``.

Query jobs run their SOQL when created and serve CSV pages with ``Sforce-Locator`` (``null`` on
the last page) and ``Sforce-NumberOfRecords``.
"""

from __future__ import annotations

import base64
import csv
import io
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sfsync.sandbox.errors import ApiError, MultipleMatchesError, RecordError
from sfsync.sandbox.exchange import Context, Response
from sfsync.sandbox.ids import make_id
from sfsync.sandbox.query import run_query
from sfsync.sandbox.records import prepare
from sfsync.sandbox.schema import ObjectDef

_DELIMITERS = {
    "COMMA": ",",
    "TAB": "\t",
    "PIPE": "|",
    "SEMICOLON": ";",
    "CARET": "^",
    "BACKQUOTE": "`",
}
_LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
_INGEST_OPERATIONS = ("insert", "update", "upsert", "delete", "hardDelete")
_SELECT = re.compile(r"^\s*SELECT\s+(.*?)\s+FROM\s+(\w+)", re.IGNORECASE | re.DOTALL)
DEFAULT_MAX_RECORDS = 50_000


@dataclass
class BulkJob:
    """One job and, once processed, its per-row outcomes."""

    info: dict[str, Any]
    kind: str  # "ingest" | "query"
    csv_data: str | None = None
    successful: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    query_rows: list[list[str]] = field(default_factory=list)
    query_columns: list[str] = field(default_factory=list)


class BulkJobs:
    """The org's jobs by id (kept in memory: jobs do not survive a restart)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: dict[str, BulkJob] = {}
        self._counter = 0

    def new_id(self) -> str:
        with self._lock:
            self._counter += 1
            return make_id("750", self._counter)

    def clear(self) -> None:
        with self._lock:
            self.jobs.clear()


def _job_or_404(ctx: Context, job_id: str, kind: str) -> BulkJob:
    job = ctx.org.bulk.jobs.get(job_id)
    if job is None or job.kind != kind:
        raise ApiError(404, "NOT_FOUND", f"Job not found: {job_id}")
    return job


def _base_info(
    ctx: Context, job_id: str, operation: str, sobject: str, body: Mapping[str, Any]
) -> dict[str, Any]:
    now = ctx.org.format_now()
    return {
        "id": job_id,
        "operation": operation,
        "object": sobject,
        "createdById": ctx.writer.user_id,
        "createdDate": now,
        "systemModstamp": now,
        "state": "Open",
        "concurrencyMode": "Parallel",
        "contentType": "CSV",
        "apiVersion": float(ctx.api_version),
        "lineEnding": str(body.get("lineEnding") or "LF"),
        "columnDelimiter": str(body.get("columnDelimiter") or "COMMA"),
    }


def _check_format(body: Mapping[str, Any]) -> None:
    if str(body.get("columnDelimiter") or "COMMA") not in _DELIMITERS:
        raise ApiError(
            400, "INVALIDJOB", f"Invalid column delimiter: {body.get('columnDelimiter')}"
        )
    if str(body.get("lineEnding") or "LF") not in _LINE_ENDINGS:
        raise ApiError(400, "INVALIDJOB", f"Invalid line ending: {body.get('lineEnding')}")
    if str(body.get("contentType") or "CSV") != "CSV":
        raise ApiError(400, "INVALIDJOB", "Only contentType CSV is supported")


# --- ingest -----------------------------------------------------------------------------------


def post_ingest_job(ctx: Context, _: Mapping[str, str]) -> Response:
    body = ctx.request.json_object()
    operation = str(body.get("operation") or "")
    if operation not in _INGEST_OPERATIONS:
        raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
    obj = ctx.org.rules.object(str(body.get("object") or ""))
    if obj is None:
        raise ApiError(
            400, "INVALIDJOB", f"InvalidJob : Unable to find object: {body.get('object')}"
        )
    _check_format(body)
    job_id = ctx.org.bulk.new_id()
    info = _base_info(ctx, job_id, operation, obj.name, body)
    if operation == "upsert":
        key = obj.field(str(body.get("externalIdFieldName") or ""))
        if key is None or not (key.external_id or key.id_lookup or key.name == "Id"):
            raise ApiError(
                400,
                "INVALIDJOB",
                f"InvalidJob : External ID was blank or not an External ID field for "
                f"{obj.name}: {body.get('externalIdFieldName')}",
            )
        info["externalIdFieldName"] = key.name
    info.update(
        {
            "jobType": "V2Ingest",
            "contentUrl": f"services/data/v{ctx.api_version}/jobs/ingest/{job_id}/batches",
            "numberRecordsProcessed": 0,
            "numberRecordsFailed": 0,
            "retries": 0,
            "totalProcessingTime": 0,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        }
    )
    ctx.org.bulk.jobs[job_id] = BulkJob(info=info, kind="ingest")
    return Response.json(200, info)


def list_ingest_jobs(ctx: Context, _: Mapping[str, str]) -> Response:
    records = [job.info for job in ctx.org.bulk.jobs.values() if job.kind == "ingest"]
    return Response.json(200, {"done": True, "records": records, "nextRecordsUrl": None})


def put_ingest_batch(ctx: Context, params: Mapping[str, str]) -> Response:
    job = _job_or_404(ctx, params["job_id"], "ingest")
    content_type = (ctx.request.header("Content-Type") or "").split(";")[0].strip().lower()
    if content_type != "text/csv":
        raise ApiError(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            f"Content type {content_type or 'none'} not supported; use text/csv",
        )
    if job.info["state"] != "Open" or job.csv_data is not None:
        raise ApiError(
            409,
            "INVALIDJOBSTATE",
            f"Job {job.info['id']} is in state {job.info['state']}; data can be uploaded once, "
            "while the job is Open",
        )
    try:
        job.csv_data = ctx.request.body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiError(400, "INVALIDBATCH", "The CSV data is not UTF-8") from None
    return Response.empty(201)


def ingest_job(ctx: Context, params: Mapping[str, str]) -> Response:
    """GET the job, PATCH its state, or DELETE it."""
    job = _job_or_404(ctx, params["job_id"], "ingest")
    method = ctx.request.method
    if method == "GET":
        return Response.json(200, job.info)
    if method == "DELETE":
        if job.info["state"] not in {"JobComplete", "Failed", "Aborted"}:
            raise ApiError(409, "INVALIDJOBSTATE", "Only a finished or aborted job can be deleted")
        del ctx.org.bulk.jobs[job.info["id"]]
        return Response.empty(204)
    wanted = str(ctx.request.json_object().get("state") or "")
    current = job.info["state"]
    if wanted == "Aborted" and current in {"Open", "UploadComplete", "InProgress"}:
        _set_state(ctx, job, "Aborted")
        job.unprocessed = _rows(job)[1]
        return Response.json(200, job.info)
    if wanted == "UploadComplete" and current == "Open":
        _set_state(ctx, job, "UploadComplete")
        accepted = dict(job.info)
        _process_ingest(ctx, job)
        return Response.json(200, accepted)
    raise ApiError(409, "INVALIDJOBSTATE", f"Invalid state transition from {current} to {wanted}")


def _set_state(ctx: Context, job: BulkJob, state: str) -> None:
    job.info["state"] = state
    job.info["systemModstamp"] = ctx.org.format_now()


def _rows(job: BulkJob) -> tuple[list[str], list[list[str]]]:
    if not job.csv_data:
        return [], []
    delimiter = _DELIMITERS[job.info["columnDelimiter"]]
    reader = csv.reader(io.StringIO(job.csv_data, newline=""), delimiter=delimiter)
    rows = [row for row in reader if row]
    if not rows:
        return [], []
    return rows[0], rows[1:]


def _process_ingest(ctx: Context, job: BulkJob) -> None:
    header, rows = _rows(job)
    job.header = header
    obj = ctx.org.rules.object(job.info["object"])
    if obj is None or not header:
        _fail(ctx, job, "InvalidBatch : No data or header in the uploaded CSV")
        return
    unknown = _unknown_columns(ctx, obj, header)
    if unknown:
        _fail(ctx, job, f"InvalidBatch : Field name not found : {unknown}")
        return
    _set_state(ctx, job, "InProgress")
    for row in rows:
        _process_row(ctx, job, obj, header, row)
    job.info["numberRecordsProcessed"] = len(job.successful) + len(job.failed)
    job.info["numberRecordsFailed"] = len(job.failed)
    _set_state(ctx, job, "JobComplete")


def _fail(ctx: Context, job: BulkJob, message: str) -> None:
    _set_state(ctx, job, "Failed")
    job.info["errorMessage"] = message
    job.unprocessed = _rows(job)[1]


def _unknown_columns(ctx: Context, obj: ObjectDef, header: list[str]) -> str | None:
    for column in header:
        name, _, key = column.partition(".")
        if not key:
            if obj.field(name) is None:
                return column
            continue
        if ctx.org.rules.relationships[obj.name.lower()].get(name.lower()) is None:
            return column
    return None


def _row_body(header: list[str], row: list[str]) -> dict[str, Any]:
    """A CSV row as a REST-style body: empty cells are left out, ``#N/A`` means null."""
    body: dict[str, Any] = {}
    for column, cell in zip(header, row, strict=False):
        if cell == "":
            continue
        value = None if cell == "#N/A" else cell
        name, _, key = column.partition(".")
        if key:
            body[name] = {key: value}
        else:
            body[name] = value
    return body


def _process_row(
    ctx: Context, job: BulkJob, obj: ObjectDef, header: list[str], row: list[str]
) -> None:
    """One CSV row, atomic on its own: its outcome goes to the successful or failed results.
    A failed row keeps the id it named (updates and deletes), blank otherwise."""
    body = _row_body(header, row)
    named_id = str(body.get("Id") or body.get("id") or "")
    try:
        record_id, created = _apply_row(ctx, job, obj, body)
    except RecordError as exc:
        error = _error_text(exc.code, exc.message, exc.fields)
    except ApiError as exc:
        error = _error_text(exc.code, exc.message, exc.fields or ())
    except MultipleMatchesError as exc:
        message = f"more than one record found for external id field: {exc.ids}"
        error = _error_text("DUPLICATE_EXTERNAL_ID", message, ())
    else:
        job.successful.append([record_id, "true" if created else "false", *row])
        return
    job.failed.append([named_id, error, *row])


def _apply_row(
    ctx: Context, job: BulkJob, obj: ObjectDef, body: dict[str, Any]
) -> tuple[str, bool]:
    """Run the job's operation on one row; returns ``(id, created)``."""
    operation = job.info["operation"]
    writer = ctx.writer
    if operation == "delete":
        return writer.delete(obj, str(body.get("Id") or body.get("id") or ""), 400), False
    if operation == "hardDelete":
        return writer.hard_delete(obj, str(body.get("Id") or body.get("id") or "")), False
    prepared = prepare(ctx.org.rules, obj, body)
    if operation == "insert":
        return writer.create(prepared), True
    prepared.id_given = False
    if operation == "update":
        return writer.update(prepared, prepared.record_id or "", 400), False
    key = obj.field(job.info["externalIdFieldName"])
    if key is None:
        raise RecordError("INVALID_FIELD", "The job's external id field is gone", ())
    value = prepared.values.get(key.name) if key.name != "Id" else prepared.record_id
    if value is None:
        raise RecordError("MISSING_ARGUMENT", f"{key.name} not specified", (key.name,))
    return writer.upsert(prepared, key, value)


def _error_text(code: str, message: str, fields: tuple[str, ...]) -> str:
    """Bulk's ``sf__Error`` form: ``CODE:message:fields --``."""
    return f"{code}:{message}:{','.join(fields)} --"


def _csv_text(header: list[str], rows: list[list[str]], job: BulkJob) -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=_DELIMITERS[job.info["columnDelimiter"]],
        lineterminator=_LINE_ENDINGS[job.info["lineEnding"]],
    )
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def ingest_results(ctx: Context, params: Mapping[str, str]) -> Response:
    job = _job_or_404(ctx, params["job_id"], "ingest")
    kind = params["kind"].lower()
    if kind == "successfulresults":
        return Response.csv(_csv_text(["sf__Id", "sf__Created", *job.header], job.successful, job))
    if kind == "failedresults":
        return Response.csv(_csv_text(["sf__Id", "sf__Error", *job.header], job.failed, job))
    header = job.header or _rows(job)[0]
    return Response.csv(_csv_text(header, job.unprocessed, job))


# --- query ------------------------------------------------------------------------------------


def post_query_job(ctx: Context, _: Mapping[str, str]) -> Response:
    body = ctx.request.json_object()
    operation = str(body.get("operation") or "")
    if operation not in {"query", "queryAll"}:
        raise ApiError(400, "INVALIDJOB", f"InvalidJob : Invalid operation: {operation}")
    text = str(body.get("query") or "")
    _check_format(body)
    total, records, is_count = run_query(ctx, text, operation == "queryAll")
    match = _SELECT.match(text)
    columns = [c.strip() for c in match.group(1).split(",")] if match else []
    job_id = ctx.org.bulk.new_id()
    info = _base_info(ctx, job_id, operation, match.group(2) if match else "", body)
    info.update(
        {
            "state": "UploadComplete",
            "jobType": "V2Query",
            "numberRecordsProcessed": 0,
            "retries": 0,
            "totalProcessingTime": 0,
        }
    )
    accepted = dict(info)
    job = BulkJob(info=info, kind="query", query_columns=columns)
    job.query_rows = (
        [[_cell(_path(r, c)) for c in columns] for r in records] if not is_count else []
    )
    info["state"] = "JobComplete"
    info["numberRecordsProcessed"] = len(job.query_rows) if not is_count else total
    ctx.org.bulk.jobs[job_id] = job
    return Response.json(200, accepted)


def _path(record: Mapping[str, Any], column: str) -> Any:
    value: Any = record
    for step in column.split("."):
        if not isinstance(value, Mapping):
            return None
        lowered = {k.lower(): v for k, v in value.items()}
        value = lowered.get(step.lower())
    return value


def _cell(value: Any) -> str:
    if value is None or isinstance(value, Mapping):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def query_job(ctx: Context, params: Mapping[str, str]) -> Response:
    job = _job_or_404(ctx, params["job_id"], "query")
    method = ctx.request.method
    if method == "GET":
        return Response.json(200, job.info)
    if method == "DELETE":
        del ctx.org.bulk.jobs[job.info["id"]]
        return Response.empty(204)
    wanted = str(ctx.request.json_object().get("state") or "")
    if wanted == "Aborted" and job.info["state"] in {"UploadComplete", "InProgress"}:
        _set_state(ctx, job, "Aborted")
        return Response.json(200, job.info)
    raise ApiError(
        409, "INVALIDJOBSTATE", f"Invalid state transition from {job.info['state']} to {wanted}"
    )


def query_results(ctx: Context, params: Mapping[str, str]) -> Response:
    job = _job_or_404(ctx, params["job_id"], "query")
    if job.info["state"] != "JobComplete":
        raise ApiError(400, "INVALIDJOBSTATE", f"Job is in state {job.info['state']}")
    try:
        max_records = int(ctx.request.query.get("maxRecords") or DEFAULT_MAX_RECORDS)
        offset = _decode_locator(ctx.request.query.get("locator"))
    except ValueError:
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid locator or maxRecords") from None
    if max_records <= 0:
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "maxRecords must be positive")
    page = job.query_rows[offset : offset + max_records]
    end = offset + len(page)
    locator = _encode_locator(end) if end < len(job.query_rows) else "null"
    return Response.csv(
        _csv_text(job.query_columns, page, job),
        {"Sforce-Locator": locator, "Sforce-NumberOfRecords": str(len(page))},
    )


def _encode_locator(offset: int) -> str:
    return base64.b32encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(locator: str | None) -> int:
    if not locator or locator == "null":
        return 0
    padded = locator + "=" * (-len(locator) % 8)
    try:
        return int(base64.b32decode(padded).decode())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(locator) from exc
