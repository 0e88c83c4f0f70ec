"""The sfsync exception tree, grouped by remedy.

Every error sfsync raises on purpose derives from :class:`SfsyncError` and falls in exactly one
group, named for what must happen next::

    SfsyncError
    ├── ConfigError        an admin must fix configuration or the org; never retried
    ├── RetryableError     transient (5xx, timeouts, connection resets, UNABLE_TO_LOCK_ROW,
    │   │                  concurrent-request limits); retried by tenacity inside adapters
    │   └── SessionExpiredError   INVALID_SESSION_ID: one re-authentication, then retry once
    ├── BudgetExhaustedError  the daily API allocation is at or below the reserve; writes stop
    ├── PermanentError     the record itself is refused (validation, duplicate, permission);
    │                      goes to the dead-letter table with the Salesforce code and message
    ├── SkippedRecord      a bad source row; quarantined with a reason an admin can act on
    └── TaskStateError     (sfsync.store.repositories) a task-ledger move the protocol forbids:
                           a bug or a concurrent writer, never retried

Errors are translated into this tree only in adapters (sources, salesforce gateway, store).
All of them keep their constructor arguments in ``args`` so they pickle (Celery serialises them).
"""

from __future__ import annotations


class SfsyncError(Exception):
    """Base of every error sfsync raises on purpose."""


class ConfigError(SfsyncError):
    """Configuration or org setup is wrong; an admin must act. Not retried."""


class RetryableError(SfsyncError):
    """A transient fault: the same call may succeed later."""


class SessionExpiredError(RetryableError):
    """The Salesforce session expired (INVALID_SESSION_ID)."""


class BudgetExhaustedError(SfsyncError):
    """The remaining daily API allocation fell below the configured reserve."""


class PermanentError(SfsyncError):
    """Salesforce refused a record for a reason retrying cannot fix."""

    def __init__(self, message: str, code: str = "", fields: tuple[str, ...] = ()) -> None:
        super().__init__(message, code, fields)
        self.message = message
        self.code = code
        self.fields = fields

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.code else self.message


class SkippedRecord(SfsyncError):  # noqa: N818 - the design names this group SkippedRecord
    """A source row that cannot be used; it is quarantined with ``reason`` and the rest go on."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(key, reason)
        self.key = key
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"
