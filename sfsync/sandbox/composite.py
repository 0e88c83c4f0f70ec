"""sObject Collections (create, update, upsert, delete, retrieve), composite and composite/batch.

Collections answer 200 with one result per record in request order: ``{"id","success":true,
"errors":[]}`` (upsert adds ``created``), or ``{"success":false,"errors":[{"statusCode",...}]}``.
With ``allOrNone`` a single failure rolls the whole request back: the failing records keep their
own error and every other record reports ``ALL_OR_NONE_OPERATION_ROLLED_BACK``. More than 200
records is a 400 ``EXCEEDED_ID_LIMIT``.

Composite runs up to 25 subrequests, at most 5 of them queries or collections, through the same
handlers, substituting ``@{ref.path}`` references; with ``allOrNone`` one failure rolls back all
of them (``PROCESSING_HALTED``). Batch runs up to 25 independent subrequests, each counted
against the API allocation: once it is spent, the remaining subrequests are refused with
``REQUEST_LIMIT_EXCEEDED`` and usage never passes the allocation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from sfsync.sandbox.errors import ApiError, MultipleMatchesError, RecordError
from sfsync.sandbox.exchange import Context, Request, Response
from sfsync.sandbox.records import PreparedRecord, prepare
from sfsync.sandbox.rest import (
    key_field_or_404,
    object_or_404,
    render_record,
    requested_fields,
)
from sfsync.sandbox.schema import ObjectDef

MAX_COLLECTION = 200
MAX_COMPOSITE = 25
MAX_COMPOSITE_QUERIES_OR_COLLECTIONS = 5
_QUERY_OR_COLLECTIONS = re.compile(
    r"^/?services/data/v\d+\.\d/(query|queryAll|composite/sobjects)(/|\?|$)", re.IGNORECASE
)
_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}
_LIMIT_EXCEEDED = {
    "errorCode": "REQUEST_LIMIT_EXCEEDED",
    "message": "TotalRequests Limit exceeded.",
}
_REFERENCE = re.compile(r"@\{([^}]+)\}")


def _exceeded() -> ApiError:
    return ApiError(
        400,
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this call",
    )


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _records_of(body: Mapping[str, Any]) -> list[Any]:
    records = body.get("records")
    if not isinstance(records, list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must have a 'records' array.")
    if len(records) > MAX_COLLECTION:
        raise _exceeded()
    return records


def _type_of(ctx: Context, record: Any, default: ObjectDef | None = None) -> ObjectDef:
    """The object named in a record's ``attributes.type`` (request-level errors otherwise)."""
    if not isinstance(record, Mapping):
        raise ApiError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object.")
    attributes = record.get("attributes")
    type_name = attributes.get("type") if isinstance(attributes, Mapping) else None
    if type_name is None:
        if default is not None:
            return default
        raise ApiError(
            400, "INVALID_TYPE", "No SObject Type defined in the attributes of the record"
        )
    obj = ctx.org.rules.object(str(type_name))
    if obj is None:
        raise ApiError(
            400,
            "INVALID_TYPE",
            f"sObject type '{type_name}' is not supported. If you are attempting to use a custom "
            "object, be sure to append the '__c' after the entity name.",
        )
    return obj


def _run_items(
    ctx: Context,
    all_or_none: bool,
    operations: list[Callable[[], dict[str, Any]]],
) -> Response:
    """Run one operation per record, each atomic; with all-or-none, undo them all on a failure."""
    txn = ctx.writer.txn
    start = txn.savepoint()
    results: list[dict[str, Any]] = []
    failed = False
    for operation in operations:
        try:
            results.append(operation())
        except RecordError as exc:
            failed = True
            results.append({"success": False, "errors": [exc.item()]})
    if all_or_none and failed:
        txn.rollback_to(start)
        results = [
            result if not result["success"] else {"success": False, "errors": [_ROLLED_BACK]}
            for result in results
        ]
    return Response.json(200, results)


def post_collection(ctx: Context, _: Mapping[str, str]) -> Response:
    """Create up to 200 records of any types."""
    body = ctx.request.json_object()
    records = _records_of(body)
    prepared = [prepare(ctx.org.rules, _type_of(ctx, r), r) for r in records]

    def create(item: PreparedRecord) -> Callable[[], dict[str, Any]]:
        return lambda: {"id": ctx.writer.create(item), "success": True, "errors": []}

    return _run_items(ctx, _flag(body.get("allOrNone")), [create(p) for p in prepared])


def patch_collection(ctx: Context, _: Mapping[str, str]) -> Response:
    """Update up to 200 records by id."""
    body = ctx.request.json_object()
    records = _records_of(body)
    prepared = [prepare(ctx.org.rules, _type_of(ctx, r), r) for r in records]

    def update(item: PreparedRecord) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            if not item.record_id:
                raise RecordError("MISSING_ARGUMENT", "Id not specified in an update call", ())
            item.id_given = False
            return {
                "id": ctx.writer.update(item, item.record_id, 400),
                "success": True,
                "errors": [],
            }

        return run

    return _run_items(ctx, _flag(body.get("allOrNone")), [update(p) for p in prepared])


def upsert_collection(ctx: Context, params: Mapping[str, str]) -> Response:
    """Upsert up to 200 records of one type by an external-id field (API v46+)."""
    obj = object_or_404(ctx, params["sobject"])
    key_field = key_field_or_404(obj, params["field"])
    body = ctx.request.json_object()
    records = _records_of(body)
    prepared = []
    for record in records:
        record_type = _type_of(ctx, record, default=obj)
        if record_type.name != obj.name:
            raise ApiError(
                400, "INVALID_TYPE", f"Record type {record_type.name} does not match {obj.name}"
            )
        prepared.append(prepare(ctx.org.rules, obj, record))
    keys = [p.values.get(key_field.name) for p in prepared]
    repeated = _repeated_keys(keys)

    def upsert(item: PreparedRecord, key: Any) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            if key is None:
                raise RecordError(
                    "MISSING_ARGUMENT",
                    f"{key_field.name} not specified",
                    (key_field.name,),
                )
            if _key(key) in repeated:
                raise RecordError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"Duplicate external id specified: {key}",
                    (key_field.name,),
                )
            try:
                record_id, created = ctx.writer.upsert(item, key_field, key)
            except MultipleMatchesError as exc:
                raise RecordError(
                    "DUPLICATE_EXTERNAL_ID",
                    f"{key_field.name}: more than one record found for external id field: "
                    f"{exc.ids}",
                    (key_field.name,),
                ) from None
            return {"id": record_id, "success": True, "errors": [], "created": created}

        return run

    operations = [upsert(p, k) for p, k in zip(prepared, keys, strict=True)]
    return _run_items(ctx, _flag(body.get("allOrNone")), operations)


def _key(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _repeated_keys(keys: list[Any]) -> set[Any]:
    seen: set[Any] = set()
    repeated: set[Any] = set()
    for key in keys:
        if key is None:
            continue
        if _key(key) in seen:
            repeated.add(_key(key))
        seen.add(_key(key))
    return repeated


def delete_collection(ctx: Context, _: Mapping[str, str]) -> Response:
    """Delete up to 200 records given as ``?ids=a,b&allOrNone=``."""
    ids = [i for i in ctx.request.query.get("ids", "").split(",") if i]
    if not ids:
        raise ApiError(400, "MISSING_ARGUMENT", "ids parameter is required")
    if len(ids) > MAX_COLLECTION:
        raise _exceeded()

    def delete(raw_id: str) -> Callable[[], dict[str, Any]]:
        return lambda: {"id": ctx.writer.delete(None, raw_id, 400), "success": True, "errors": []}

    all_or_none = _flag(ctx.request.query.get("allOrNone", "false"))
    return _run_items(ctx, all_or_none, [delete(i) for i in ids])


def retrieve_collection(ctx: Context, params: Mapping[str, str]) -> Response:
    """Records by id (``null`` for ids that match nothing), with the requested fields."""
    obj = object_or_404(ctx, params["sobject"])
    if ctx.request.method == "POST":
        body = ctx.request.json_object()
        ids = [str(i) for i in body.get("ids") or []]
        field_names = ",".join(str(f) for f in body.get("fields") or [])
    else:
        ids = [i for i in ctx.request.query.get("ids", "").split(",") if i]
        field_names = ctx.request.query.get("fields", "")
    if not field_names:
        raise ApiError(400, "MISSING_ARGUMENT", "fields parameter is required")
    if len(ids) > MAX_COLLECTION:
        raise _exceeded()
    fields = requested_fields(obj, field_names)
    results: list[Any] = []
    for raw_id in ids:
        try:
            record = ctx.writer.live_record(obj, raw_id)
        except RecordError:
            results.append(None)
            continue
        results.append(render_record(ctx, obj, record, fields))
    return Response.json(200, results)


# --- composite --------------------------------------------------------------------------------


def _resolve_path(value: Any, path: list[str]) -> Any:
    for step in path:
        match = re.fullmatch(r"([^\[\]]+)((?:\[\d+\])*)", step)
        if match is None:
            return None
        name, indexes = match.groups()
        if not isinstance(value, Mapping) or name not in value:
            return None
        value = value[name]
        for index in re.findall(r"\[(\d+)\]", indexes):
            if not isinstance(value, list) or int(index) >= len(value):
                return None
            value = value[int(index)]
    return value


def _substitute(value: Any, results: Mapping[str, Any]) -> Any:
    """Replace ``@{ref.path}`` in strings, lists and objects with earlier results."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            ref, *path = match.group(1).split(".")
            if ref not in results:
                raise _InvalidReferenceError(match.group(1), list(results))
            resolved = _resolve_path(results[ref], path)
            if resolved is None:
                raise _InvalidReferenceError(match.group(1), list(results))
            return str(resolved)

        return _REFERENCE.sub(replace, value)
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, results) for k, v in value.items()}
    return value


class _InvalidReferenceError(Exception):
    def __init__(self, reference: str, known: list[str]) -> None:
        super().__init__(reference, known)
        ref = reference.split(".", maxsplit=1)[0]
        self.message = (
            f"Invalid reference specified. No value for {reference} found in {ref}. "
            f"Provided referenceId ids: {known}"
        )


def _subrequest(
    ctx: Context, method: str, url: str, body: Any, headers: Mapping[str, str]
) -> Request:
    parts = urlsplit(url)
    return Request(
        method=method.upper(),
        path=unquote(parts.path),
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers={**ctx.request.headers, **{k.lower(): v for k, v in headers.items()}},
        body=b"",
        parsed=body,
    )


def post_composite(ctx: Context, _: Mapping[str, str]) -> Response:
    body = ctx.request.json_object()
    subrequests = body.get("compositeRequest")
    if not isinstance(subrequests, list) or not subrequests:
        raise ApiError(400, "JSON_PARSER_ERROR", "compositeRequest must be a non-empty array")
    if len(subrequests) > MAX_COMPOSITE:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"Exceeded max limit of subrequests in a composite request. Limit is {MAX_COMPOSITE}.",
        )
    _check_queries_and_collections(subrequests)
    all_or_none = _flag(body.get("allOrNone"))
    txn = ctx.writer.txn
    start = txn.savepoint()
    by_ref: dict[str, Any] = {}
    out: list[dict[str, Any]] = []
    failed_at: int | None = None
    for index, sub in enumerate(subrequests):
        if not isinstance(sub, Mapping):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each subrequest must be a JSON object.")
        ref = str(sub.get("referenceId", ""))
        savepoint = txn.savepoint()
        try:
            url = _substitute(str(sub.get("url", "")), by_ref)
            sub_body = _substitute(sub.get("body"), by_ref)
            request = _subrequest(
                ctx, str(sub.get("method", "GET")), url, sub_body, sub.get("httpHeaders") or {}
            )
            response = ctx.org.dispatch_subrequest(ctx, request)
        except _InvalidReferenceError as exc:
            response = Response.json(
                400, [{"errorCode": "PROCESSING_HALTED", "message": exc.message}]
            )
        if response.status >= 400:
            txn.rollback_to(savepoint)
            failed_at = index if failed_at is None else failed_at
        else:
            by_ref[ref] = response.payload
        out.append(
            {
                "body": response.payload,
                "httpHeaders": {k: v for k, v in response.headers.items() if k == "Location"},
                "httpStatusCode": response.status,
                "referenceId": ref,
            }
        )
        if all_or_none and failed_at is not None:
            break
    if all_or_none and failed_at is not None:
        txn.rollback_to(start)
        out = _halted(out, subrequests, failed_at)
    return Response.json(200, {"compositeResponse": out})


def _check_queries_and_collections(subrequests: list[Any]) -> None:
    """Salesforce allows at most 5 query or sObject Collections subrequests in one composite
    request; more is refused before any of them runs."""
    heavy = sum(
        1
        for sub in subrequests
        if isinstance(sub, Mapping) and _QUERY_OR_COLLECTIONS.match(str(sub.get("url", "")))
    )
    if heavy > MAX_COMPOSITE_QUERIES_OR_COLLECTIONS:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            "A composite request may contain at most "
            f"{MAX_COMPOSITE_QUERIES_OR_COLLECTIONS} query or sObject Collections subrequests; "
            f"this one has {heavy}.",
        )


def _halted(
    out: list[dict[str, Any]], subrequests: list[Any], failed_at: int
) -> list[dict[str, Any]]:
    halted_body = [
        {
            "errorCode": "PROCESSING_HALTED",
            "message": "The transaction was rolled back since another operation in the same "
            "transaction failed.",
        }
    ]
    result = []
    for index, sub in enumerate(subrequests):
        if index == failed_at:
            result.append(out[index])
            continue
        result.append(
            {
                "body": halted_body,
                "httpHeaders": {},
                "httpStatusCode": 400,
                "referenceId": str(sub.get("referenceId", "")),
            }
        )
    return result


def post_batch(ctx: Context, _: Mapping[str, str]) -> Response:
    body = ctx.request.json_object()
    subrequests = body.get("batchRequests")
    if not isinstance(subrequests, list) or not subrequests:
        raise ApiError(400, "JSON_PARSER_ERROR", "batchRequests must be a non-empty array")
    if len(subrequests) > MAX_COMPOSITE:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"Exceeded max limit of subrequests in a batch request. Limit is {MAX_COMPOSITE}.",
        )
    halt_on_error = _flag(body.get("haltOnError"))
    txn = ctx.writer.txn
    results: list[dict[str, Any]] = []
    halted = False
    for index, sub in enumerate(subrequests):
        if halted or not isinstance(sub, Mapping):
            results.append(
                {
                    "statusCode": 412,
                    "result": [
                        {
                            "errorCode": "BATCH_PROCESSING_HALTED",
                            "message": "Batch processing halted per request",
                        }
                    ],
                }
            )
            continue
        # The batch's own count pays for its first subrequest; every other one needs its own.
        if index > 0 and not ctx.org.limits.try_consume(1):
            results.append({"statusCode": 403, "result": [_LIMIT_EXCEEDED]})
            continue
        url = "/services/data/" + str(sub.get("url", "")).lstrip("/")
        request = _subrequest(ctx, str(sub.get("method", "GET")), url, sub.get("richInput"), {})
        savepoint = txn.savepoint()
        response = ctx.org.dispatch_subrequest(ctx, request)
        if response.status >= 400:
            txn.rollback_to(savepoint)
            halted = halt_on_error
        results.append({"statusCode": response.status, "result": response.payload})
    has_errors = any(r["statusCode"] >= 400 for r in results)
    return Response.json(200, {"hasErrors": has_errors, "results": results})
