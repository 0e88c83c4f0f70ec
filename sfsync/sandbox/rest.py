"""sObject REST resources: describe, create, get, update, delete, upsert and get by external id,
plus the version resource list and ``/limits``.

Status codes follow the REST guide: create 201, update and delete 204, upsert 201 when it creates
and, when it updates, 200 with ``created: false`` from API v46 (204 before), 300 when the external
id matches several records, 404 for an unknown external-id field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from sfsync.sandbox.errors import ApiError, MultipleMatchesError, RecordError, not_found
from sfsync.sandbox.exchange import Context, Response
from sfsync.sandbox.records import prepare
from sfsync.sandbox.schema import FieldDef, ObjectDef, describe_global, describe_object
from sfsync.sandbox.storage import Record
from sfsync.sandbox.values import ValueParseError, parse_datetime, parse_value

_CREATED_FLAG_SINCE = 46.0


def object_or_404(ctx: Context, name: str) -> ObjectDef:
    """The object named in a URL; an unknown one is 404 NOT_FOUND, as the REST API answers."""
    obj = ctx.org.rules.object(name)
    if obj is None:
        raise not_found()
    return obj


def render_record(
    ctx: Context, obj: ObjectDef, record: Record, fields: list[FieldDef] | None = None
) -> dict[str, Any]:
    """A stored row as the REST API returns it: ``attributes`` first, then every field."""
    rendered: dict[str, Any] = {
        "attributes": {"type": obj.name, "url": ctx.record_url(obj.name, record["Id"])}
    }
    chosen = fields if fields is not None else list(obj.fields.values())
    for field_def in chosen:
        rendered[field_def.name] = record.get(field_def.name)
    return rendered


def requested_fields(obj: ObjectDef, spec: str | None) -> list[FieldDef] | None:
    """The ``fields=`` parameter as field definitions (unknown names are INVALID_FIELD)."""
    if not spec:
        return None
    chosen = []
    for name in (part.strip() for part in spec.split(",")):
        if not name:
            continue
        field_def = obj.field(name)
        if field_def is None:
            raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj.name}'")
        chosen.append(field_def)
    return chosen


# --- resources, limits, describe --------------------------------------------------------------


def get_resources(ctx: Context, _: Mapping[str, str]) -> Response:
    base = ctx.base_path
    names = ["sobjects", "query", "queryAll", "limits", "composite", "jobs", "search"]
    return Response.json(200, {name: f"{base}/{name}" for name in names})


def get_limits(ctx: Context, _: Mapping[str, str]) -> Response:
    return Response.json(200, ctx.org.limits_body())


def get_global_describe(ctx: Context, _: Mapping[str, str]) -> Response:
    return Response.json(200, describe_global(ctx.org.schema, ctx.api_version))


def get_describe(ctx: Context, params: Mapping[str, str]) -> Response:
    obj = object_or_404(ctx, params["sobject"])
    return Response.json(200, describe_object(obj, ctx.api_version))


def get_object_info(ctx: Context, params: Mapping[str, str]) -> Response:
    obj = object_or_404(ctx, params["sobject"])
    summary = describe_global(ctx.org.schema, ctx.api_version)["sobjects"]
    info = next(s for s in summary if s["name"] == obj.name)
    return Response.json(200, {"objectDescribe": info, "recentItems": []})


# --- single records ---------------------------------------------------------------------------


def post_record(ctx: Context, params: Mapping[str, str]) -> Response:
    obj = object_or_404(ctx, params["sobject"])
    prepared = prepare(ctx.org.rules, obj, ctx.request.json_object())
    try:
        record_id = ctx.writer.create(prepared)
    except RecordError as exc:
        raise exc.as_api_error() from None
    return Response.json(
        201,
        {"id": record_id, "success": True, "errors": []},
        {"Location": ctx.record_url(obj.name, record_id)},
    )


def get_record(ctx: Context, params: Mapping[str, str]) -> Response:
    obj = object_or_404(ctx, params["sobject"])
    fields = requested_fields(obj, ctx.request.query.get("fields"))
    try:
        record = ctx.writer.live_record(obj, params["record_id"])
    except RecordError as exc:
        raise exc.as_api_error() from None
    return Response.json(200, render_record(ctx, obj, record, fields))


def patch_record(ctx: Context, params: Mapping[str, str]) -> Response:
    obj = object_or_404(ctx, params["sobject"])
    prepared = prepare(ctx.org.rules, obj, ctx.request.json_object())
    try:
        ctx.writer.update(prepared, params["record_id"])
    except RecordError as exc:
        raise exc.as_api_error() from None
    return Response.empty(204)


def delete_record(ctx: Context, params: Mapping[str, str]) -> Response:
    obj = object_or_404(ctx, params["sobject"])
    try:
        ctx.writer.delete(obj, params["record_id"])
    except RecordError as exc:
        raise exc.as_api_error() from None
    return Response.empty(204)


def record_or_key(ctx: Context, params: Mapping[str, str]) -> Response:
    """``sobjects/X/{id}``: a record id or, since v37, ``POST sobjects/X/Id`` to create."""
    method = ctx.request.method
    if method == "POST":
        if params["record_id"].lower() != "id":
            raise ApiError(
                405,
                "METHOD_NOT_ALLOWED",
                "HTTP Method 'POST' not allowed. Allowed are HEAD,GET,PATCH,DELETE",
            )
        return post_record(ctx, params)
    handler = {"GET": get_record, "PATCH": patch_record, "DELETE": delete_record}[method]
    return handler(ctx, params)


# --- external ids -----------------------------------------------------------------------------


def key_field_or_404(obj: ObjectDef, name: str) -> FieldDef:
    """The external-id field named in a URL: unknown → 404 NOT_FOUND; not an external id →
    400 INVALID_FIELD."""
    field_def = obj.field(name)
    if field_def is None:
        raise ApiError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {name}",
        )
    if not (field_def.external_id or field_def.id_lookup or field_def.name == "Id"):
        raise ApiError(
            400,
            "INVALID_FIELD",
            f"Field name provided, {field_def.name} is not an External ID or indexed field "
            f"for {obj.name}",
        )
    return field_def


def key_value(field_def: FieldDef, raw: str) -> Any:
    """An external-id value from the URL. ``+`` reads as a space because simple-salesforce's
    ``get_by_custom_id`` encodes with ``quote_plus``; a literal plus arrives as ``%2B``."""
    try:
        return parse_value(field_def, unquote_plus(raw))
    except ValueParseError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", exc.message) from None


def multiple_choices(ctx: Context, obj: ObjectDef, ids: list[str]) -> Response:
    """300 Multiple Choices: the matching records' URLs."""
    return Response.json(300, [ctx.record_url(obj.name, record_id) for record_id in ids])


def external_id_resource(ctx: Context, params: Mapping[str, str]) -> Response:
    obj = object_or_404(ctx, params["sobject"])
    key_field = key_field_or_404(obj, params["field"])
    value = key_value(key_field, params["value"])
    method = ctx.request.method
    if method == "PATCH" or (method == "POST" and key_field.name != "Id"):
        return _upsert(ctx, obj, key_field, value)
    matches = ctx.writer.find_by(obj, key_field, value)
    if len(matches) > 1:
        return multiple_choices(ctx, obj, matches)
    if not matches:
        raise not_found()
    if method == "DELETE":
        ctx.writer.delete(obj, matches[0])
        return Response.empty(204)
    if method != "GET":
        raise ApiError(
            405,
            "METHOD_NOT_ALLOWED",
            f"HTTP Method '{method}' not allowed. Allowed are GET,PATCH,DELETE",
        )
    fields = requested_fields(obj, ctx.request.query.get("fields"))
    return Response.json(
        200, render_record(ctx, obj, ctx.writer.live_record(obj, matches[0]), fields)
    )


def _upsert(ctx: Context, obj: ObjectDef, key_field: FieldDef, value: Any) -> Response:
    prepared = prepare(ctx.org.rules, obj, ctx.request.json_object())
    update_only = ctx.request.query.get("updateOnly", "").lower() == "true"
    if update_only and not ctx.writer.find_by(obj, key_field, value):
        raise not_found()
    try:
        record_id, created = ctx.writer.upsert(prepared, key_field, value)
    except MultipleMatchesError as exc:
        return multiple_choices(ctx, obj, exc.ids)
    except RecordError as exc:
        raise exc.as_api_error() from None
    with_flag = float(ctx.api_version) >= _CREATED_FLAG_SINCE
    body: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
    if with_flag:
        body["created"] = created
    if created:
        return Response.json(201, body, {"Location": ctx.record_url(obj.name, record_id)})
    if with_flag:
        return Response.json(200, body)
    return Response.empty(204)


# --- deleted / updated ------------------------------------------------------------------------


def get_deleted_or_updated(ctx: Context, params: Mapping[str, str]) -> Response:
    """``sobjects/X/deleted`` and ``sobjects/X/updated``: ids changed in a time window."""
    obj = object_or_404(ctx, params["sobject"])
    start = parse_datetime(ctx.request.query.get("start", ""))
    end = parse_datetime(ctx.request.query.get("end", ""))
    if start is None or end is None:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "start and end must be ISO 8601 datetimes")
    deleted = params["kind"] == "deleted"
    rows = []
    for row in ctx.org.store.records(obj.name, include_deleted=deleted):
        if bool(row.get("IsDeleted")) != deleted:
            continue
        stamp = parse_datetime(str(row.get("SystemModstamp") or ""))
        if stamp is not None and start <= stamp <= end:
            rows.append(row)
    latest = ctx.org.format_now()
    if deleted:
        return Response.json(
            200,
            {
                "deletedRecords": [
                    {"id": r["Id"], "deletedDate": r["SystemModstamp"]} for r in rows
                ],
                "earliestDateAvailable": latest,
                "latestDateCovered": latest,
            },
        )
    return Response.json(200, {"ids": [r["Id"] for r in rows], "latestDateCovered": latest})
