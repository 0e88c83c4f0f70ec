"""A gateway that hands every call to another one: the base of gateways that add one behaviour.

Wrappers that add something around some calls (the worker's test-only crash points, a test's
injected fault) subclass :class:`ForwardingGateway` and override only those calls, so the rest of
the :class:`~sfsync.salesforce.ports.SalesforceGateway` port is forwarded in one place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sfsync.salesforce.ports import ApiUsage, CallCounts, ItemResult, Record, SalesforceGateway


class ForwardingGateway:
    """Every call of the port, forwarded unchanged to ``inner``."""

    def __init__(self, inner: SalesforceGateway) -> None:
        self.inner = inner

    def query(self, soql: str) -> Iterator[Record]:
        return self.inner.query(soql)

    def query_in(
        self,
        object_name: str,
        fields: Sequence[str],
        field: str,
        values: Sequence[object],
        *,
        extra_where: str = "",
        extra_args: Sequence[object] = (),
    ) -> Iterator[Record]:
        return self.inner.query_in(
            object_name, fields, field, values, extra_where=extra_where, extra_args=extra_args
        )

    def create(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        return self.inner.create(object_name, records)

    def update(self, object_name: str, records: Sequence[Mapping[str, Any]]) -> list[ItemResult]:
        return self.inner.update(object_name, records)

    def upsert(
        self, object_name: str, records: Sequence[Mapping[str, Any]], *, external_id_field: str
    ) -> list[ItemResult]:
        return self.inner.upsert(object_name, records, external_id_field=external_id_field)

    def delete(self, ids: Sequence[str]) -> list[ItemResult]:
        return self.inner.delete(ids)

    def describe(self, object_name: str) -> dict[str, Any]:
        return self.inner.describe(object_name)

    def describe_global(self) -> dict[str, Any]:
        return self.inner.describe_global()

    def limits(self) -> dict[str, Any]:
        return self.inner.limits()

    @property
    def calls(self) -> CallCounts:
        return self.inner.calls

    @property
    def usage(self) -> ApiUsage | None:
        return self.inner.usage

    @property
    def instance_url(self) -> str:
        return self.inner.instance_url
