"""Dispute Cases: a disputed invoice goes to the dispute team as a child of the collections Case.

After a cycle, :func:`apply_dispute_cases` plans (:func:`sfsync.cases.plan_dispute_case`, pure)
and writes the dispute Case of every account whose ledger the cycle saw with a disputed invoice
or with a dispute Case still open:

* one Case per account, key ``<collections case key>:dispute`` (upserted by the Case external
  id, so a replay creates no duplicate), ``ParentId`` = the collections Case, owned by the
  dispute queue (``SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = :name``),
  subject naming the invoices, description listing each with its balance and reason;
* rewritten only when the list of disputed invoices changes (content hash in the store);
* closed with the org's closed Case status once no invoice is disputed any more.

The invoice itself leaves the chase in the planner (disputed invoices are not in the past-due
balance, the aging or the cadence), so the collections Case's amount drops on the same cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simple_salesforce.format import format_soql

from sfsync.apply import OrgStatuses
from sfsync.cases import AccountLedger, DisputeCaseChange, DisputeCaseState, plan_dispute_case
from sfsync.domain import AccountKey, CaseAction
from sfsync.errors import ConfigError
from sfsync.logs import get_logger
from sfsync.store.disputes import DisputeCaseValues, dispute_cases, put_dispute_case
from sfsync.store.repositories import (
    get_account_link,
    record_dead_letter,
    resolve_dead_letters_for,
)
from sfsync.sync import CycleDeps

_log = get_logger(__name__)

#: Status and priority of a new (or reopened) dispute Case.
OPEN_STATUS = "New"
PRIORITY = "Medium"


def find_queue(deps: CycleDeps, developer_name: str) -> str:
    """The Salesforce id of the queue ``developer_name``; a missing queue is a config error."""
    soql = format_soql(
        "SELECT Id FROM Group WHERE Type = 'Queue' AND DeveloperName = {}", developer_name
    )
    rows = list(deps.gateway.query(soql))
    if not rows:
        raise ConfigError(
            f"no queue with DeveloperName {developer_name!r} in the org; create it in Setup "
            "(Queues, supported object Case) or name another one"
        )
    return str(rows[0]["Id"])


def apply_dispute_cases(
    deps: CycleDeps,
    ledgers: Mapping[AccountKey, AccountLedger],
    *,
    queue: str | None = None,
) -> dict[str, int]:
    """Open, update or close the dispute Cases of ``ledgers``; returns counts by action.

    ``queue`` (a queue's DeveloperName) defaults to ``sync.dispute_queue`` from the settings.
    """
    counts = {"opened": 0, "updated": 0, "closed": 0, "failed": 0}
    if not ledgers:
        return counts
    planned = _plan(deps, ledgers)
    if not planned:
        return counts
    queue_id = find_queue(deps, queue or deps.settings.sync.dispute_queue)
    statuses = OrgStatuses(deps.gateway)
    mapping = deps.mappings.case
    records = [_record(item, mapping.external_id, queue_id, statuses) for item in planned]
    results = deps.gateway.upsert(mapping.sobject, records, external_id_field=mapping.external_id)
    now = deps.clock.now()
    with deps.sessions() as session:
        for item, record, result in zip(planned, records, results, strict=True):
            change = item.change
            if not result.ok:
                counts["failed"] += 1
                record_dead_letter(
                    session,
                    sobject=mapping.sobject,
                    record_key=change.key,
                    operation="upsert",
                    payload={"record": record, "external_id_field": mapping.external_id},
                    error_code=result.code or "UNKNOWN_ERROR",
                    message=result.message or "Salesforce gave no message",
                    at=now,
                )
                continue
            resolve_dead_letters_for(
                session, sobject=mapping.sobject, record_key=change.key, at=now
            )
            put_dispute_case(
                session,
                DisputeCaseValues(
                    account_key=item.account_key,
                    case_key=change.key,
                    salesforce_id=result.id,
                    is_open=change.action is not CaseAction.CLOSE,
                    content_hash=change.content_hash,
                ),
                at=now,
            )
            counts[_COUNT[change.action]] += 1
        session.commit()
    _log.info("dispute_cases_applied", **counts)
    return counts


_COUNT = {CaseAction.OPEN: "opened", CaseAction.UPDATE: "updated", CaseAction.CLOSE: "closed"}


@dataclass(frozen=True, slots=True)
class _Planned:
    """A dispute Case change with the ids it hangs from."""

    change: DisputeCaseChange
    account_key: str
    account_id: str
    parent_id: str | None


def _plan(deps: CycleDeps, ledgers: Mapping[AccountKey, AccountLedger]) -> list[_Planned]:
    """Every account whose dispute Case must change, with its Account and parent Case ids."""
    planned: list[_Planned] = []
    with deps.sessions() as session:
        stored = dispute_cases(session, [key.text for key in ledgers])
        for key, ledger in sorted(ledgers.items(), key=lambda item: item[0].text):
            link = get_account_link(session, key.source, key.customer_id, key.currency)
            if link is None or not link.salesforce_account_id:
                continue  # unmatched: the customer is listed for the admin, nothing to hang on
            row = stored.get(key.text)
            current = (
                None
                if row is None
                else DisputeCaseState(row.case_key, row.is_open, row.content_hash)
            )
            change = plan_dispute_case(ledger, link.case_key, current)
            if change is not None:
                planned.append(_Planned(change, key.text, link.salesforce_account_id, link.case_id))
    return planned


def _record(
    item: _Planned, external_id: str, queue_id: str, statuses: OrgStatuses
) -> dict[str, Any]:
    change = item.change
    record: dict[str, Any] = {external_id: change.key}
    if change.action is CaseAction.CLOSE:
        record["Status"] = statuses.closed("Case")
        record["Disputed_Amount__c"] = 0
        return record
    record.update(
        {
            "Subject": change.subject,
            "Description": change.description,
            "Origin": "Web",
            "Priority": PRIORITY,
            "OwnerId": queue_id,
            "AccountId": item.account_id,
            "Collections_Currency__c": change.currency,
            "Disputed_Amount__c": float(change.disputed_amount),
        }
    )
    if item.parent_id:
        record["ParentId"] = item.parent_id
    if change.action is CaseAction.OPEN:
        record["Status"] = OPEN_STATUS
    return record


__all__ = ["apply_dispute_cases", "find_queue"]
