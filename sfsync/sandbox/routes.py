"""The REST route table under ``/services/data/vXX.X``: path pattern → handler per method.

Patterns match the raw (still percent-encoded) path with any trailing slash removed, so an
external id containing ``/`` (sent as ``%2F``) stays one segment; handlers decode their groups.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sfsync.sandbox import bulk, composite, query, rest
from sfsync.sandbox.exchange import Context, Response

Handler = Callable[[Context, Mapping[str, str]], Response]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    handlers: Mapping[str, Handler]
    body_type: str = "json"  # what a request body must be: "json" or "csv"


def _route(pattern: str, body_type: str = "json", **handlers: Handler) -> Route:
    return Route(re.compile(pattern, re.IGNORECASE), handlers, body_type)


_OBJ = r"(?P<sobject>\w+)"
_JOB = r"(?P<job_id>\w+)"

ROUTES: tuple[Route, ...] = (
    _route(r"", GET=rest.get_resources),
    _route(r"/sobjects", GET=rest.get_global_describe),
    _route(rf"/sobjects/{_OBJ}", GET=rest.get_object_info, POST=rest.post_record),
    _route(rf"/sobjects/{_OBJ}/describe", GET=rest.get_describe),
    _route(rf"/sobjects/{_OBJ}/(?P<kind>deleted|updated)", GET=rest.get_deleted_or_updated),
    _route(
        rf"/sobjects/{_OBJ}/(?P<record_id>[^/]+)",
        GET=rest.record_or_key,
        PATCH=rest.record_or_key,
        DELETE=rest.record_or_key,
        POST=rest.record_or_key,
    ),
    _route(
        rf"/sobjects/{_OBJ}/(?P<field>\w+)/(?P<value>[^/]+)",
        GET=rest.external_id_resource,
        PATCH=rest.external_id_resource,
        DELETE=rest.external_id_resource,
        POST=rest.external_id_resource,
    ),
    _route(r"/(?P<resource>query|queryAll)", GET=query.get_query),
    _route(r"/(?P<resource>query|queryAll)/(?P<locator>[^/]+)", GET=query.get_query_more),
    _route(r"/limits", GET=rest.get_limits),
    _route(
        r"/composite/sobjects",
        POST=composite.post_collection,
        PATCH=composite.patch_collection,
        DELETE=composite.delete_collection,
    ),
    _route(r"/composite/batch", POST=composite.post_batch),
    _route(
        rf"/composite/sobjects/{_OBJ}",
        GET=composite.retrieve_collection,
        POST=composite.retrieve_collection,
    ),
    _route(rf"/composite/sobjects/{_OBJ}/(?P<field>\w+)", PATCH=composite.upsert_collection),
    _route(r"/composite", POST=composite.post_composite),
    _route(r"/jobs/ingest", POST=bulk.post_ingest_job, GET=bulk.list_ingest_jobs),
    _route(
        rf"/jobs/ingest/{_JOB}", GET=bulk.ingest_job, PATCH=bulk.ingest_job, DELETE=bulk.ingest_job
    ),
    _route(rf"/jobs/ingest/{_JOB}/batches", "csv", PUT=bulk.put_ingest_batch),
    _route(
        rf"/jobs/ingest/{_JOB}/(?P<kind>successfulResults|failedResults|unprocessedRecords)",
        GET=bulk.ingest_results,
    ),
    _route(r"/jobs/query", POST=bulk.post_query_job),
    _route(rf"/jobs/query/{_JOB}", GET=bulk.query_job, PATCH=bulk.query_job, DELETE=bulk.query_job),
    _route(rf"/jobs/query/{_JOB}/results", GET=bulk.query_results),
)


def match_route(path: str) -> tuple[Route, dict[str, str]] | None:
    """The route for a version-relative path, with its captured groups."""
    trimmed = path.rstrip("/")
    for route in ROUTES:
        found = route.pattern.fullmatch(trimmed)
        if found is not None:
            return route, found.groupdict()
    return None
