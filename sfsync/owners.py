"""Who owns each Case and Task: the policy's owner rules resolved to Salesforce ids, once per run.

The plan records owner *rules* (``queue:<DeveloperName>``, ``user:<username>``,
``account_owner``, ``case_owner``; escalation uses queues and users too); ownership lives in
the org, so the rules are resolved when applying, by chunked, escaped ``IN`` queries through
the gateway, each answer cached for the run:

* ``queue:<name>`` → the ``Group`` (``Type = 'Queue'``) with that ``DeveloperName``;
* ``user:<username>`` → the active ``User`` with that ``Username``;
* ``account_owner`` → the Account's ``OwnerId`` (an active user);
* ``case_owner`` → the Case's current ``OwnerId`` — a user, or a queue when the Case sits in one.

Salesforce's own rules, which the local org enforces too (docs/local-org.md):

* **A Task is never owned by a queue** (``FIELD_INTEGRITY_EXCEPTION``, "Assigned To ID"). A Task
  rule that resolves to a queue — ``queue:<name>``, or ``case_owner`` on a queue-owned Case —
  goes to the ``owners.task_queue_fallback`` user of ``policy.yaml``; with no fallback configured
  ``OwnerId`` is left out and the integration user owns the Task.
* **Nothing is handed to a user who left** (``INACTIVE_OWNER_OR_USER``): an inactive account or
  case owner is replaced by the same fallback (or left out), with an ``owner_inactive`` log line.

An unknown queue, a ``user:`` rule or fallback username with no active user, is a
:class:`ConfigError` naming the ``policy.yaml`` key and the fix, raised by
:meth:`OwnerResolver.check` before any write.

A Case gets its owner **when it is created only**: a rep or manager who reassigns a collections
Case by hand is not overruled by the next cycle (docs/sync.md "Owners").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sfsync.domain import OwnerRule
from sfsync.errors import ConfigError
from sfsync.logs import get_logger
from sfsync.salesforce.ports import SalesforceGateway

_log = get_logger(__name__)

#: Key prefixes of the two kinds of owner (Salesforce's fixed prefixes for User and Group).
USER_PREFIX, GROUP_PREFIX = "005", "00G"
#: The policy key of the Task fallback user, as admins read it in errors and docs.
FALLBACK_KEY = "owners.task_queue_fallback"


class OwnerResolver:
    """Resolves owner rules to ids for one run; every lookup is one chunked query, then cached.

    ``task_queue_fallback`` is a username (``policy.yaml`` ``owners.task_queue_fallback``); ``None``
    leaves a Task that cannot be owned as planned to the integration user. ``rules`` are checked
    together by :meth:`check` (the whole policy's, so a queue used only by a later step still
    fails before the first write).
    """

    def __init__(
        self,
        gateway: SalesforceGateway,
        *,
        task_queue_fallback: str | None = None,
        rules: Iterable[OwnerRule] = (),
        case_external_id: str = "Collections_Key__c",
    ) -> None:
        self._gateway = gateway
        self._fallback_name = task_queue_fallback
        self._fallback_id: str | None = None
        self._rules = set(rules)
        self._case_key_field = case_external_id
        self._checked = False
        self.queues: dict[str, str] = {}
        self.users: dict[str, str] = {}
        self._accounts: dict[str, tuple[str | None, bool]] = {}
        self._cases: dict[str, tuple[str | None, bool]] = {}

    # --- before any write -----------------------------------------------------------------------

    def check(self, rules: Iterable[OwnerRule] = ()) -> None:
        """Resolve every queue and user of ``rules`` (and of the constructor's) and the
        fallback user.

        Raises one :class:`ConfigError` listing every name the org does not have.
        """
        every = (*self._rules, *rules)
        wanted = {rule.queue for rule in every if rule.kind == "queue"}
        missing = self._resolve_queues(wanted - self.queues.keys())
        problems = [
            f"queue:{name} (policy.yaml owner) is not a queue in the org: create a queue with "
            f"DeveloperName {name!r} supporting Case in Setup, or fix the owner in policy.yaml"
            for name in sorted(missing)
        ]
        people = {rule.username for rule in every if rule.kind == "user"}
        problems.extend(
            f"user:{name} (policy.yaml owner) is not an active user in the org: use the "
            "username of an active user, or fix the owner in policy.yaml"
            for name in sorted(self._resolve_users(people - self.users.keys()))
        )
        if self._fallback_name and not self._checked:
            self._fallback_id = self._active_user(self._fallback_name)
            if self._fallback_id is None:
                problems.append(
                    f"{FALLBACK_KEY}: no active user with Username {self._fallback_name!r}: use "
                    "the username of an active user, or remove the key (Tasks then stay with "
                    "the integration user)"
                )
        self._checked = True
        if problems:
            raise ConfigError("; ".join(problems))

    def queue_id(self, name: str) -> str:
        """The id of queue ``name`` (resolving it now if :meth:`check` has not)."""
        if name not in self.queues:
            self.check([OwnerRule("queue", name)])
        return self.queues[name]

    def rule_user_id(self, name: str) -> str:
        """The id of the ``user:<name>`` rule's user (resolving it now if :meth:`check` has not)."""
        if name not in self.users:
            self.check([OwnerRule("user", username=name)])
        return self.users[name]

    @property
    def fallback_id(self) -> str | None:
        """The fallback user's id (``None``: leave ``OwnerId`` out → the integration user)."""
        if not self._checked:
            self.check()
        return self._fallback_id

    def user_id(self, username: str) -> str:
        """The id of the active user ``username``; ConfigError naming the fix when there is none."""
        found = self._active_user(username)
        if found is None:
            raise ConfigError(
                f"user:{username} is not an active user in the org; use the username of an "
                "active user in policy.yaml"
            )
        return found

    # --- what the org says now ------------------------------------------------------------------

    def load_accounts(self, account_ids: Iterable[str]) -> None:
        """Read the owners of ``account_ids`` not read yet (one query per ~800 ids)."""
        wanted = sorted({i for i in account_ids if i} - self._accounts.keys())
        if not wanted:
            return
        rows = self._gateway.query_in("Account", ["Id", "OwnerId", "Owner.IsActive"], "Id", wanted)
        self.remember_account_owners(rows)

    def remember_account_owners(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Keep Account rows read elsewhere (``Id``, ``OwnerId``, ``Owner.IsActive``), such as
        the Account match query, so they cost no second query."""
        for row in rows:
            self._accounts[_id15(str(row["Id"]))] = _owner_of(row)

    def load_cases(self, case_keys: Iterable[str]) -> None:
        """Read the current owners of the Cases ``case_keys`` not read yet."""
        wanted = sorted({k for k in case_keys if k} - self._cases.keys())
        if not wanted:
            return
        field = self._case_key_field
        rows = self._gateway.query_in("Case", [field, "OwnerId", "Owner.IsActive"], field, wanted)
        for row in rows:
            self._cases[str(row[field])] = _owner_of(row)

    def remember_case_owner(self, case_key: str, owner_id: str | None) -> None:
        """The owner a Case is being created with (``None``: the integration user), so its Tasks
        need no query. Only an active user or a queue is ever sent, hence ``active``."""
        self._cases[case_key] = (owner_id, True)

    # --- decisions ------------------------------------------------------------------------------

    def case_owner(self, rule: OwnerRule, *, key: str, account_id: str) -> str | None:
        """``OwnerId`` of a new Case, or ``None`` to leave it to the integration user."""
        if rule.kind == "queue":
            return self.queue_id(rule.queue)
        if rule.kind == "user":
            return self.rule_user_id(rule.username)
        if rule.kind == "account_owner":
            return self._user_or_fallback(self._accounts.get(_id15(account_id)), key)
        return None  # case_owner of a Case is refused by the policy model

    def task_owner(
        self, rule: OwnerRule, *, key: str, account_id: str, case_key: str | None
    ) -> str | None:
        """``OwnerId`` of a new Task: always a user, or ``None`` (the integration user).

        ``case_owner`` of a reminder (no Case yet) is the account owner.
        """
        if rule.kind == "queue":
            self.queue_id(rule.queue)  # an unknown queue is still a config error
            return self.fallback_id
        if rule.kind == "user":
            return self.rule_user_id(rule.username)
        if rule.kind == "case_owner" and case_key is not None:
            return self._user_or_fallback(self._cases.get(case_key), key)
        return self._user_or_fallback(self._accounts.get(_id15(account_id)), key)

    def _user_or_fallback(self, owner: tuple[str | None, bool] | None, key: str) -> str | None:
        owner_id, active = owner if owner is not None else (None, False)
        if owner_id is None:
            return self.fallback_id  # not read (unknown record): the fallback, as for a queue
        if owner_id.startswith(GROUP_PREFIX):
            return self.fallback_id
        if not active:
            _log.warning(
                "owner_inactive", record=key, owner_id=owner_id, fallback=self._fallback_name
            )
            return self.fallback_id
        return owner_id

    # --- queries --------------------------------------------------------------------------------

    def _resolve_queues(self, names: set[str]) -> set[str]:
        """Resolve ``names``; returns those the org does not have."""
        if not names:
            return set()
        rows = self._gateway.query_in(
            "Group",
            ["Id", "DeveloperName"],
            "DeveloperName",
            sorted(names),
            extra_where="Type = {}",
            extra_args=("Queue",),
        )
        by_name = {name.lower(): name for name in names}
        for row in rows:
            name = by_name.get(str(row["DeveloperName"]).lower())
            if name is not None:
                self.queues.setdefault(name, str(row["Id"]))
        return names - self.queues.keys()

    def _resolve_users(self, names: set[str]) -> set[str]:
        """Resolve the active users ``names`` in one query; returns those the org does not have.

        Usernames compare case-insensitively, as Salesforce's login does.
        """
        if not names:
            return set()
        rows = self._gateway.query_in(
            "User", ["Id", "Username"], "Username", sorted(names), extra_where="IsActive = true"
        )
        by_name = {name.lower(): name for name in names}
        for row in rows:
            name = by_name.get(str(row["Username"]).lower())
            if name is not None:
                self.users.setdefault(name, str(row["Id"]))
        return names - self.users.keys()

    def _active_user(self, username: str) -> str | None:
        rows = self._gateway.query_in(
            "User", ["Id"], "Username", [username], extra_where="IsActive = true"
        )
        return next((str(row["Id"]) for row in rows), None)


def _owner_of(row: Mapping[str, Any]) -> tuple[str | None, bool]:
    owner_id = row.get("OwnerId")
    if not owner_id:
        return None, False
    owner = row.get("Owner")
    active = bool(owner.get("IsActive")) if isinstance(owner, Mapping) else True
    return str(owner_id), active


def _id15(record_id: str) -> str:
    """Ids compare on their case-sensitive 15-character form (18-character ids add a suffix)."""
    return record_id[:15]
