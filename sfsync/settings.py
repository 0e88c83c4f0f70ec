"""sfsync settings: ``config/sfsync.yaml`` plus ``SFSYNC_...`` environment overrides.

Where a value comes from, highest priority first:

1. the environment: ``SFSYNC_<SECTION>__<KEY>`` (nested with ``__``, e.g. ``SFSYNC_STORE__URL``);
2. for secrets, a file: ``SFSYNC_<SECTION>__<KEY>_FILE`` names a file whose stripped content is
   the value (how container orchestrators hand out secrets);
3. the YAML file: ``--config``, else ``$SFSYNC_CONFIG``, else ``config/sfsync.yaml``;
4. the defaults below, which describe the embedded demo.

Secrets (``SecretStr`` fields, and database URLs that carry a password) are never read from the
YAML file: a YAML file is committed, copied and pasted into tickets. Finding one there is an error
whose fix names the environment variable to use instead.

Configuration is validated data. :func:`load_settings` collects *every* problem — YAML syntax,
unknown keys, wrong types, missing values, secrets in YAML, bad environment values, missing
secret files — and raises one :class:`InvalidConfigError` listing them all, each with its file,
dotted key (or environment variable), YAML line and the fix, so an admin fixes everything in one
pass. ``sfsync config check`` (:func:`run_config_check`) prints the same list for sfsync.yaml and
the ``policy.yaml`` and ``mappings.yaml`` beside it.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self, TextIO, get_args, get_origin
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from rich.console import Console
from rich.text import Text

from sfsync.alerts.routing import AlertRouting
from sfsync.configfile import (
    ConfigProblem,
    InvalidConfigError,
    YamlDocument,
    read_yaml_document,
)
from sfsync.logs import get_logger, register_secret
from sfsync.sources.layouts import AgingFileLayout, SqlLayout

ENV_PREFIX = "SFSYNC_"
ENV_NESTED_DELIMITER = "__"
CONFIG_PATH_ENV = "SFSYNC_CONFIG"
DEFAULT_CONFIG_PATH = Path("config/sfsync.yaml")
FILE_SUFFIX = "_FILE"

#: Database and broker URLs may carry a password: allowed from the environment, not from YAML.
CREDENTIAL_URL_KEYS: frozenset[tuple[str, ...]] = frozenset(
    {("store", "url"), ("source", "sql", "url"), ("redis", "url")}
)

_log = get_logger(__name__)

#: Top-level sections that live in another file; naming it beats "unknown key".
MOVED_SECTIONS: dict[str, tuple[str, str]] = {
    "escalation": ("policy.yaml", "docs/escalation.md"),
    "cadence": ("policy.yaml", "docs/planning.md"),
    "promises": ("policy.yaml", "docs/planning.md"),
}

#: Hosts of the shared login endpoints, which the client-credentials flow refuses.
_SHARED_LOGIN_HOSTS = frozenset({"login.salesforce.com", "test.salesforce.com"})


# --------------------------------------------------------------------------------------------
# Problems


def _invalid(message: str, fix: str) -> PydanticCustomError:
    """A validation error that carries the fix in its context (read back by the reporter)."""
    return PydanticCustomError("invalid_value", message, {"fix": fix})


def _required(message: str, fix: str) -> PydanticCustomError:
    """A 'required for this choice' error: a value that only some settings make mandatory."""
    return PydanticCustomError("required_value", message, {"fix": fix})


def _raise_all(model: type[BaseModel], errors: list[InitErrorDetails]) -> None:
    """Raise every cross-field error at once, each with its own key (not one per model)."""
    if errors:
        raise ValidationError.from_exception_data(model.__name__, errors)


def env_name(path: Sequence[str]) -> str:
    """The environment variable that overrides the setting at ``path``."""
    return ENV_PREFIX + ENV_NESTED_DELIMITER.join(part.upper() for part in path)


# --------------------------------------------------------------------------------------------
# Models


class _Section(BaseModel):
    """Base of every settings section: unknown keys are errors, values never change after load."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_https(value: str | None, key: str) -> str | None:
    """Salesforce and webhook endpoints are HTTPS only; a trailing slash is dropped."""
    if value is None:
        return None
    if not value.startswith("https://") or len(value) <= len("https://"):
        raise _invalid(f"{key} must be an https:// URL", f"write {key} as https://host")
    return value.rstrip("/")


def _check_scheme(value: str | None, key: str, schemes: tuple[str, ...]) -> str | None:
    """A URL whose scheme must be one of ``schemes`` (checked without echoing the value)."""
    if value is None:
        return None
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme.lower() not in schemes:
        raise _invalid(
            f"{key} has scheme {scheme or '(none)'!r}; expected one of {', '.join(schemes)}",
            f"write {key} as {schemes[0]}://...",
        )
    return value


class SqlSourceSettings(_Section):
    """Connection to the accounting database (source.kind = sql)."""

    url: str | None = None
    #: Longest one statement to the accounting database may run, in seconds (PostgreSQL
    #: statement_timeout, MySQL read/write timeouts, SQLite busy wait): a hung read fails as
    #: retryable instead of holding the cycle (docs/sources.md).
    timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    #: Tables or queries, column map, status codes, notes table (docs/sources.md).
    layout: SqlLayout = Field(default_factory=SqlLayout)

    @field_validator("url")
    @classmethod
    def _url_has_known_scheme(cls, value: str | None) -> str | None:
        return _check_scheme(
            value,
            "source.sql.url",
            ("postgresql", "postgresql+psycopg", "sqlite", "mysql", "mssql", "oracle"),
        )


class CsvSourceSettings(_Section):
    """Aging export files (source.kind = csv)."""

    path: Path | None = None
    #: Header names, date format, default currency, sheet, outcomes file (docs/sources.md).
    layout: AgingFileLayout = Field(default_factory=AgingFileLayout)


class SourceSettings(_Section):
    """Where invoices come from."""

    kind: Literal["demo", "sql", "csv"] = "demo"
    name: str = Field(default="demo", pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    sql: SqlSourceSettings = Field(default_factory=SqlSourceSettings)
    csv: CsvSourceSettings = Field(default_factory=CsvSourceSettings)

    @model_validator(mode="after")
    def _kind_has_its_connection(self) -> Self:
        errors: list[InitErrorDetails] = []
        if self.kind == "sql" and self.sql.url is None:
            errors.append(
                _detail(
                    ("sql", "url"),
                    _required(
                        "source.sql.url is required when source.kind is sql",
                        "set source.sql.url, or SFSYNC_SOURCE__SQL__URL(_FILE) when the URL "
                        "holds a password",
                    ),
                )
            )
        if self.kind == "csv" and self.csv.path is None:
            errors.append(
                _detail(
                    ("csv", "path"),
                    _required(
                        "source.csv.path is required when source.kind is csv",
                        "set source.csv.path to the aging export file or folder",
                    ),
                )
            )
        _raise_all(type(self), errors)
        return self


class StoreSettings(_Section):
    """The local ledger: what was written to Salesforce, watermarks, dead letters."""

    url: str = "sqlite:///var/sfsync.db"

    @field_validator("url")
    @classmethod
    def _url_is_sqlite_or_postgresql(cls, value: str) -> str:
        checked = _check_scheme(
            value, "store.url", ("sqlite", "postgresql", "postgresql+psycopg", "sqlite+pysqlite")
        )
        return checked if checked is not None else value


class TimeoutSettings(_Section):
    """Seconds to wait for Salesforce: every call has both limits."""

    connect: float = Field(default=5.0, gt=0, le=120)
    read: float = Field(default=30.0, gt=0, le=600)


class SalesforceSettings(_Section):
    """The org and how sfsync signs in to it."""

    auth: Literal["jwt", "client_credentials", "password"] = "client_credentials"
    login_url: str = "https://login.salesforce.com"
    instance_url: str | None = None
    api_version: str = Field(default="62.0", pattern=r"^[1-9][0-9]\.0$")
    client_id: str | None = None
    username: str | None = None
    ca_bundle: Path | None = None
    timeouts: TimeoutSettings = Field(default_factory=TimeoutSettings)
    api_reserve_fraction: float = Field(default=0.2, ge=0, lt=1)
    bulk_threshold: int = Field(default=2000, ge=1)
    batch_size: int = Field(default=200, ge=1, le=200)
    client_secret: SecretStr | None = None
    password: SecretStr | None = None
    private_key: SecretStr | None = None

    @field_validator("login_url")
    @classmethod
    def _login_url_is_https(cls, value: str) -> str:
        checked = _check_https(value, "salesforce.login_url")
        return checked if checked is not None else value

    @field_validator("instance_url")
    @classmethod
    def _instance_url_is_https(cls, value: str | None) -> str | None:
        return _check_https(value, "salesforce.instance_url")

    @field_validator("private_key")
    @classmethod
    def _private_key_is_pem(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and "PRIVATE KEY-----" not in value.get_secret_value():
            raise _invalid(
                "salesforce.private_key is not a PEM private key",
                "point SFSYNC_SALESFORCE__PRIVATE_KEY_FILE at the PEM file of the connected "
                "app's certificate key (-----BEGIN PRIVATE KEY-----)",
            )
        return value

    def missing_credentials(self) -> list[InitErrorDetails]:
        """What the chosen ``auth`` flow needs and is not set (for a real org)."""
        needs: dict[str, tuple[str, ...]] = {
            "jwt": ("client_id", "username", "private_key"),
            "client_credentials": ("client_id", "client_secret"),
            "password": ("client_id", "client_secret", "username", "password"),
        }
        errors = [
            _detail(
                ("salesforce", name),
                _required(
                    f"salesforce.{name} is required for auth {self.auth}",
                    _fix_for_missing(("salesforce", name), secret=name in _SECRET_FIELD_NAMES),
                ),
            )
            for name in needs[self.auth]
            if getattr(self, name) is None
        ]
        host = urlsplit(self.login_url).hostname or ""
        if self.auth == "client_credentials" and host in _SHARED_LOGIN_HOSTS:
            errors.append(
                _detail(
                    ("salesforce", "login_url"),
                    _invalid(
                        f"auth client_credentials needs your My Domain login URL, not {host}",
                        "set salesforce.login_url to https://<your-domain>.my.salesforce.com",
                    ),
                )
            )
        return errors


_SECRET_FIELD_NAMES = frozenset({"client_secret", "password", "private_key", "webhook_url"})


class SyncSettings(_Section):
    """How often a cycle runs and how much it re-reads at its edges."""

    interval_seconds: int = Field(default=300, ge=10)
    overlap_seconds: int = Field(default=600, ge=0)
    writeback_overlap_seconds: int = Field(default=120, ge=0)
    #: Create an Account (Name from the customer) for a customer no Account matches; false
    #: lists the customer as unmatched instead (never guessed silently).
    create_missing_accounts: bool = False
    #: DeveloperName of the queue that owns child dispute Cases.
    dispute_queue: str = Field(default="Disputes", min_length=1, max_length=80)


class SmtpSettings(_Section):
    """Outgoing mail for manager alerts and digests; ``host`` unset means no e-mail."""

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    from_address: str | None = None
    password: SecretStr | None = None
    #: An extra CA to trust for the relay's certificate (a private-CA relay).
    ca_bundle: Path | None = None
    #: Log in without STARTTLS; only to a loopback relay (a local forwarder), never over a network.
    allow_plaintext_auth: bool = False

    @model_validator(mode="after")
    def _host_needs_sender(self) -> Self:
        if self.host is not None and self.from_address is None:
            _raise_all(
                type(self),
                [
                    _detail(
                        ("from_address",),
                        _required(
                            "alerts.smtp.from_address is required when alerts.smtp.host is set",
                            "set alerts.smtp.from_address to the sender, e.g. ar@example.com",
                        ),
                    )
                ],
            )
        return self

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> Self:
        """A login without STARTTLS would send the password in clear: refused off loopback."""
        logs_in = self.username is not None or self.password is not None
        allowed = self.allow_plaintext_auth and _is_loopback(self.host)
        if not self.starttls and logs_in and not allowed:
            _raise_all(
                type(self),
                [
                    _detail(
                        ("starttls",),
                        _invalid(
                            "alerts.smtp.starttls is false with a username/password: the "
                            "password would cross the network in clear",
                            "set alerts.smtp.starttls: true (the relay must offer STARTTLS); "
                            "only for a relay on 127.0.0.1/localhost does "
                            "alerts.smtp.allow_plaintext_auth: true allow it",
                        ),
                    )
                ],
            )
        return self


def _is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class WebhookSettings(_Section):
    """An incoming-webhook channel (Slack or Teams); the URL itself is the secret."""

    webhook_url: SecretStr | None = None

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_https(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("https://"):
            raise _invalid(
                "the webhook URL must start with https://",
                "copy the full https:// webhook URL from the channel's integration settings",
            )
        return value


class AlertsSettings(_Section):
    """Where manager alerts go."""

    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    slack: WebhookSettings = Field(default_factory=WebhookSettings)
    teams: WebhookSettings = Field(default_factory=WebhookSettings)
    #: Owner → manager, queue → recipients, fallback recipients, digest time (docs/alerts.md).
    routing: AlertRouting = Field(default_factory=AlertRouting)


class LoggingSettings(_Section):
    """Log verbosity and rendering (``auto``: console on a terminal, JSON otherwise)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["auto", "json", "console"] = "auto"

    @field_validator("level", mode="before")
    @classmethod
    def _level_upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class RedisSettings(_Section):
    """The Celery broker for distributed mode; unset in embedded mode."""

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _url_is_redis(cls, value: str | None) -> str | None:
        return _check_scheme(value, "redis.url", ("redis", "rediss"))


#: Whole-task retries of retryable errors back off exponentially up to this; the visibility
#: timeout must exceed it, so a retry waiting for its countdown is never also redelivered.
RETRY_BACKOFF_MAX_SECONDS = 600


class JobsSettings(_Section):
    """Distributed mode: how work is split, scheduled and bounded (``jobs:`` in sfsync.yaml).

    The time limits are checked against the Redis visibility timeout: a task still running when
    the timeout expires is delivered a second time (the Celery docs call this a loop), so every
    limit must end before it. The cycle's interval is ``sync.interval_seconds``, so the embedded
    loop and the beat agree.
    """

    shards: int = Field(default=8, ge=1, le=1024)
    """Accounts are split by a stable hash of the customer id into this many shards."""
    visibility_timeout_seconds: int = Field(default=3600, gt=RETRY_BACKOFF_MAX_SECONDS)
    """Redis redelivers a task not acknowledged within this time."""
    task_time_limit_seconds: int = Field(default=1800, ge=5)
    """A task still running after this is killed (its process replaced)."""
    task_soft_time_limit_seconds: int = Field(default=1700, ge=1)
    """A task gets ``SoftTimeLimitExceeded`` after this, to end cleanly."""
    lease_margin_seconds: int = Field(default=60, ge=1)
    """A shard lease lives this much longer than the hard time limit."""
    lease_retry_seconds: int = Field(default=5, ge=1)
    """A shard task whose shard is busy retries after this."""
    lease_retry_max: int = Field(default=720, ge=0)
    """... at most this many times (the default waits out a full time limit)."""
    writeback_interval_seconds: int = Field(default=900, ge=10)
    """How often what reps logged in Salesforce is read back (outcomes, promises, disputes)."""
    escalation_interval_seconds: int = Field(default=3600, ge=10)
    """How often stale Cases are escalated (it holds every shard's lease while it writes)."""
    reconcile_interval_seconds: int = Field(default=120, ge=5)
    """How often the store is compared with the queue and due work re-enqueued."""
    reconcile_grace_seconds: int = Field(default=60, ge=0)
    """A shard not finished this long after its cycle was claimed counts as lost."""

    @model_validator(mode="after")
    def _limits_below_visibility(self) -> Self:
        """Every limit ends before Redis would redeliver the task; each problem names its key."""
        timeout = self.visibility_timeout_seconds
        limits = (
            ("task_soft_time_limit_seconds", self.task_soft_time_limit_seconds),
            ("task_time_limit_seconds", self.task_time_limit_seconds),
            ("lease_retry_seconds", self.lease_retry_seconds),
        )
        errors = [
            _detail(
                (name,),
                _invalid(
                    f"jobs.{name} ({value}s) must be below jobs.visibility_timeout_seconds "
                    f"({timeout}s), or Redis delivers the task twice",
                    f"lower jobs.{name}, or raise jobs.visibility_timeout_seconds above it",
                ),
            )
            for name, value in limits
            if value >= timeout
        ]
        if self.task_soft_time_limit_seconds >= self.task_time_limit_seconds:
            errors.append(
                _detail(
                    ("task_soft_time_limit_seconds",),
                    _invalid(
                        "jobs.task_soft_time_limit_seconds must be below "
                        "jobs.task_time_limit_seconds",
                        "lower jobs.task_soft_time_limit_seconds, so a task can end cleanly "
                        "before it is killed",
                    ),
                )
            )
        _raise_all(type(self), errors)
        return self

    @property
    def lease_ttl_seconds(self) -> int:
        """A shard lease outlives the longest a task may run, so it never expires under it."""
        return self.task_time_limit_seconds + self.lease_margin_seconds


class EmbeddedSettings(_Section):
    """Embedded mode: one process talking to the local Salesforce org instead of a real one."""

    enabled: bool = True
    data_dir: Path = Path("var/org")


class Settings(BaseSettings):
    """Everything a collections sync needs, validated; see config/sfsync.yaml for each key."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_NESTED_DELIMITER,
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    source: SourceSettings = Field(default_factory=SourceSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment overrides the YAML values (passed as init arguments); no .env file."""
        del env_settings, dotenv_settings, file_secret_settings  # replaced, not chained
        return (_EnvironmentSource(settings_cls), init_settings)

    @model_validator(mode="after")
    def _real_org_needs_credentials(self) -> Self:
        """A real org needs the chosen flow's credentials; the local org issues its own."""
        if not self.embedded.enabled:
            _raise_all(type(self), self.salesforce.missing_credentials())
        return self


class _EnvironmentSource(EnvSettingsSource):
    """``SFSYNC_...`` variables, minus the ``*_FILE`` ones (read by :func:`_read_secret_files`).

    A value that should be JSON but is not is passed through unparsed, so validation reports it
    by its variable name along with every other problem instead of stopping at the first.
    """

    def __call__(self) -> dict[str, Any]:
        data = super().__call__()
        for path in file_capable_keys():
            _pop_path(data, (*path[:-1], path[-1] + FILE_SUFFIX.lower()))
        return data

    def decode_complex_value(self, field_name: str, field: FieldInfo, value: Any) -> Any:
        try:
            return super().decode_complex_value(field_name, field, value)
        except ValueError:
            return value


# --------------------------------------------------------------------------------------------
# Model introspection


def _detail(loc: tuple[str, ...], error: PydanticCustomError) -> InitErrorDetails:
    """A line error at ``loc`` for :func:`_raise_all`."""
    return InitErrorDetails(type=error, loc=loc, input=None)


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The pydantic model in ``annotation``: ``Model``, ``Model | None``, ``tuple[Model, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            model = _model_in(arg)
            if model is not None:
                return model
    return None


def _walk_fields(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], FieldInfo]]:
    """Every leaf setting of ``model`` with its dotted path."""
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        nested = _model_in(info.annotation)
        if nested is None:
            yield path, info
        else:
            yield from _walk_fields(nested, path)


def _is_secret_field(info: FieldInfo) -> bool:
    annotation = info.annotation
    return annotation is SecretStr or SecretStr in get_args(annotation)


def secret_keys() -> frozenset[tuple[str, ...]]:
    """Paths of every secret setting (never from YAML; env or ``*_FILE`` only)."""
    return frozenset(path for path, info in _walk_fields(Settings) if _is_secret_field(info))


def file_capable_keys() -> frozenset[tuple[str, ...]]:
    """Paths that may be read from a ``SFSYNC_..._FILE`` file."""
    return secret_keys() | CREDENTIAL_URL_KEYS


def _model_at(model: type[BaseModel], path: Sequence[str]) -> type[BaseModel] | None:
    """The nested model reached by ``path`` from ``model``, or None if it leads elsewhere."""
    current: type[BaseModel] | None = model
    for part in path:
        if part.isdigit():  # an item of a list: same model as the list's items
            continue
        if current is None or part not in current.model_fields:
            return None
        current = _model_in(current.model_fields[part].annotation)
    return current


def _fix_for_missing(path: tuple[str, ...], secret: bool) -> str:
    """How to supply a value that is missing."""
    dotted = ".".join(path)
    if secret:
        return f"set {env_name(path)} or point {env_name(path)}{FILE_SUFFIX} at a file holding it"
    return f"set {dotted} in sfsync.yaml or {env_name(path)} in the environment"


# --------------------------------------------------------------------------------------------
# Secrets


def _get_path(data: Mapping[str, Any], path: Sequence[str]) -> tuple[bool, Any]:
    """(found, value) at ``path`` in nested mappings."""
    current: Any = data
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _pop_path(data: dict[str, Any], path: Sequence[str]) -> None:
    """Remove ``path`` from nested dicts if present."""
    current: Any = data
    for part in path[:-1]:
        current = current.get(part) if isinstance(current, dict) else None
    if isinstance(current, dict):
        current.pop(path[-1], None)


def _set_path(data: dict[str, Any], path: Sequence[str], value: object) -> None:
    """Set ``path`` in nested dicts, creating (or replacing non-dict) parents."""
    current = data
    for part in path[:-1]:
        child = current.get(part)
        if not isinstance(child, dict):
            child = {}
            current[part] = child
        current = child
    current[path[-1]] = value


def url_password(url: str) -> str | None:
    """The password inside ``scheme://user:password@host/...``, if any."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def _remove_yaml_secrets(document: YamlDocument, problems: list[ConfigProblem]) -> None:
    """Drop secrets found in the YAML, each one reported with the variable to use instead."""
    shown = str(document.path)
    for path in sorted(secret_keys()):
        for key in (path, (*path[:-1], path[-1] + FILE_SUFFIX.lower())):
            found, value = _get_path(document.data, key)
            if not found:
                continue
            if isinstance(value, str):
                register_secret(value)
            problems.append(
                ConfigProblem(
                    shown,
                    ".".join(key),
                    "secrets are not read from sfsync.yaml",
                    f"delete it here and move it to {env_name(path)}{FILE_SUFFIX} or the "
                    f"environment ({env_name(path)})",
                    line=document.line_of(key),
                )
            )
            _pop_path(document.data, key)
    for path in sorted(CREDENTIAL_URL_KEYS):
        found, value = _get_path(document.data, path)
        if not (found and isinstance(value, str)):
            continue
        password = url_password(value)
        if password is None:
            continue
        register_secret(password)
        problems.append(
            ConfigProblem(
                shown,
                ".".join(path),
                "the URL contains a password; secrets are not read from sfsync.yaml",
                f"delete it here and move the whole URL to {env_name(path)}{FILE_SUFFIX} or "
                f"the environment ({env_name(path)})",
                line=document.line_of(path),
            )
        )
        _pop_path(document.data, path)


@dataclass(frozen=True)
class _SecretFiles:
    """Values read from ``SFSYNC_..._FILE`` files, and which variable named each file."""

    values: dict[tuple[str, ...], str]
    variables: dict[tuple[str, ...], str]


def _environment() -> dict[str, str]:
    """The environment with upper-case names (settings are matched case-insensitively)."""
    return {name.upper(): value for name, value in os.environ.items()}


def _read_secret_files(
    environment: Mapping[str, str], problems: list[ConfigProblem]
) -> _SecretFiles:
    """Read every ``SFSYNC_..._FILE`` secret (missing or empty files are problems) and register
    every secret given in the environment with the log redactor."""
    values: dict[tuple[str, ...], str] = {}
    variables: dict[tuple[str, ...], str] = {}
    for path in sorted(file_capable_keys()):
        direct = env_name(path)
        variable = direct + FILE_SUFFIX
        _register_secret_input(path, environment.get(direct))
        if direct in environment and not environment[direct].strip():
            problems.append(
                ConfigProblem(
                    "environment",
                    direct,
                    f"{direct} is set but empty",
                    f"give {direct} its value, or unset it",
                )
            )
        file_name = environment.get(variable)
        if file_name is None:
            continue
        variables[path] = variable
        if direct in environment:
            problems.append(
                ConfigProblem(
                    "environment",
                    variable,
                    f"both {direct} and {variable} are set",
                    f"unset one of them; {variable} is preferred for secrets",
                )
            )
            continue
        content = _read_secret_file(Path(file_name), variable, problems)
        if content is not None:
            _register_secret_input(path, content)
            values[path] = content
    return _SecretFiles(values, variables)


def read_secret_setting(
    path: Sequence[str], environ: Mapping[str, str] | None = None
) -> str | None:
    """One file-capable setting from the environment alone, by the rule :func:`load_settings`
    follows: ``SFSYNC_<KEY>``, or the stripped content of the file ``SFSYNC_<KEY>_FILE`` names;
    ``None`` when neither is set.

    For commands that need one value before (or without) the whole configuration, such as
    ``sfsync db upgrade`` reading the store URL. Raises :class:`InvalidConfigError` listing the
    problems (both variables set, a missing or empty file) and masks the value in logs.
    """
    key = tuple(part.lower() for part in path)
    direct = env_name(key)
    names = (direct, direct + FILE_SUFFIX)
    source = _environment() if environ is None else {n.upper(): v for n, v in environ.items()}
    wanted = {name: source[name] for name in names if name in source}
    problems: list[ConfigProblem] = []
    found = _read_secret_files(wanted, problems)
    if problems:
        raise InvalidConfigError(problems)
    return found.values.get(key, wanted.get(direct))


def _register_secret_input(path: tuple[str, ...], value: str | None) -> None:
    """Mask a secret as soon as it is read, before validation can fail and log anything."""
    if value is None:
        return
    register_secret(url_password(value) if path in CREDENTIAL_URL_KEYS else value)


def _read_secret_file(path: Path, variable: str, problems: list[ConfigProblem]) -> str | None:
    """The stripped content of a secret file, or None with a problem recorded."""
    try:
        content = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        problems.append(
            ConfigProblem(
                "environment",
                variable,
                f"{variable} names {path}, which does not exist",
                f"create {path} or point {variable} at the file holding the secret",
            )
        )
        return None
    except (OSError, UnicodeDecodeError) as error:
        problems.append(
            ConfigProblem(
                "environment",
                variable,
                f"cannot read {path}: {type(error).__name__}",
                f"make {path} a readable UTF-8 file for the sfsync user",
            )
        )
        return None
    if not content:
        problems.append(
            ConfigProblem(
                "environment",
                variable,
                f"{path} is empty",
                f"write the secret into {path}",
            )
        )
        return None
    return content


def _register_loaded_secrets(settings: Settings) -> None:
    """Mask every secret value just loaded in all later log lines."""
    for path in secret_keys():
        value = _attribute_at(settings, path)
        if isinstance(value, SecretStr):
            register_secret(value)
    for path in CREDENTIAL_URL_KEYS:
        value = _attribute_at(settings, path)
        if isinstance(value, str):
            register_secret(url_password(value))


def _attribute_at(obj: object, path: Sequence[str]) -> object:
    """``obj.a.b.c`` for ``path`` (a, b, c), or None where the chain stops."""
    current: object = obj
    for part in path:
        current = getattr(current, part, None)
    return current


# --------------------------------------------------------------------------------------------
# Validation errors → problems


@dataclass(frozen=True)
class _Origins:
    """Where each value came from, to point the admin at the right file or variable."""

    environment: Mapping[str, str]
    secret_files: _SecretFiles

    def variable_for(self, loc: Sequence[str]) -> str | None:
        """The environment variable that supplied ``loc`` (or one of its parents), if any."""
        for end in range(len(loc), 0, -1):
            prefix = tuple(loc[:end])
            if prefix in self.secret_files.values:
                return self.secret_files.variables[prefix]
            name = env_name(prefix)
            if name in self.environment:
                return name
        return None


def _problems_from_validation(
    error: ValidationError,
    model: type[BaseModel],
    document: YamlDocument,
    variable_for: Callable[[Sequence[str]], str | None] | None = None,
) -> list[ConfigProblem]:
    """One problem per pydantic error, located in the YAML file or the environment.

    ``variable_for`` names the environment variable that supplied a value; None for files that
    have no environment overrides (policy.yaml).
    """
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        loc = tuple(str(part) for part in item["loc"])
        variable = variable_for(loc) if variable_for is not None else None
        ctx = item.get("ctx") or {}
        if variable is not None:
            message, fix = _describe(
                item["type"], item["msg"], ctx, loc, model=model, name=env_name
            )
            problems.append(ConfigProblem("environment", variable, message, fix))
            continue
        message, fix = _describe(item["type"], item["msg"], ctx, loc, model=model, name=_dotted)
        if item["type"] == "missing" and variable_for is None:
            fix = f"add {_dotted(loc)} to {document.path.name}"
        problems.append(
            ConfigProblem(
                str(document.path),
                _dotted(loc) or "(top level)",
                message,
                fix,
                line=document.line_of(loc),
            )
        )
    return problems


def _dotted(path: Sequence[str]) -> str:
    """A key as admins write it in YAML: ``salesforce.timeouts.read``."""
    return ".".join(path)


def _describe(
    kind: str,
    msg: str,
    ctx: Mapping[str, Any],
    loc: tuple[str, ...],
    *,
    model: type[BaseModel],
    name: Callable[[Sequence[str]], str],
) -> tuple[str, str]:
    """(message, fix) for one pydantic error, in an admin's words; ``name`` spells keys."""
    key = name(loc)
    if "fix" in ctx:
        return msg, str(ctx["fix"])
    if (
        kind == "extra_forbidden"
        and model is Settings
        and len(loc) == 1
        and loc[0] in MOVED_SECTIONS
    ):
        file_name, doc = MOVED_SECTIONS[loc[0]]
        return (
            f"{loc[0]} settings live in {file_name}, not here",
            f"move this section to the {loc[0]}: section of {file_name} (see {doc})",
        )
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        known = sorted(parent.model_fields) if parent is not None else []
        close = difflib.get_close_matches(loc[-1].lower(), known, n=1, cutoff=0.6)
        if close:
            suggestion = name((*loc[:-1], close[0]))
            return f"unknown key; did you mean {suggestion}?", f"rename it to {suggestion}"
        allowed = ", ".join(known) if known else "none"
        return "unknown key", f"remove it (known keys here: {allowed})"
    if kind == "missing":
        return "required value is missing", _fix_for_missing(loc, secret=False)
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        section = _model_at(model, loc)
        example = name((*loc, next(iter(section.model_fields)))) if section else key
        return (
            "this is a section of keys, not a single value",
            f"set the keys inside it one by one (e.g. {example})",
        )
    if kind in ("list_type", "tuple_type", "set_type"):
        return "expected a list", f"write {key} as a list, one '- ' line per item"
    if kind == "literal_error":
        return msg, f"set {key} to one of {ctx.get('expected', 'the listed values')}"
    if kind == "string_pattern_mismatch":
        return (
            f"value does not have the expected form {ctx.get('pattern', '')}",
            f"change {key} to match that form",
        )
    text = msg.removeprefix("Value error, ")
    return text, _fix_from_message(key, text)


def _fix_from_message(key: str, msg: str) -> str:
    """'Input should be a valid integer, unable to parse ...' → 'set KEY to a valid integer'."""
    prefix = "Input should be "
    if not msg.startswith(prefix):
        return f"correct {key}"
    wanted = msg.removeprefix(prefix).split(", unable")[0]
    if wanted.startswith(("a ", "an ")):
        return f"set {key} to {wanted}"
    return f"set {key} to a value {wanted}"


# --------------------------------------------------------------------------------------------
# Loading


def resolve_config_path(path: Path | None = None) -> Path:
    """``--config``, else ``$SFSYNC_CONFIG``, else ``config/sfsync.yaml``."""
    if path is not None:
        return path
    from_env = os.environ.get(CONFIG_PATH_ENV)
    return Path(from_env) if from_env else DEFAULT_CONFIG_PATH


def _load(path: Path | None) -> tuple[Settings | None, list[ConfigProblem]]:
    """Settings (when valid) and every problem found on the way."""
    config_path = resolve_config_path(path)
    problems: list[ConfigProblem] = []
    document = read_yaml_document(config_path, problems)
    if document is None:
        return None, problems
    _remove_yaml_secrets(document, problems)
    environment = _environment()
    secret_files = _read_secret_files(environment, problems)
    inputs = _top_level_inputs(document, problems)
    for secret_path, value in secret_files.values.items():
        _set_path(inputs, secret_path, value)
    origins = _Origins(environment, secret_files)
    try:
        settings = Settings(**inputs)
    except ValidationError as error:
        problems.extend(_problems_from_validation(error, Settings, document, origins.variable_for))
        return None, problems
    _register_loaded_secrets(settings)
    return (settings if not problems else None), problems


def _top_level_inputs(document: YamlDocument, problems: list[ConfigProblem]) -> dict[str, Any]:
    """The YAML's sections as keyword arguments; other top-level keys are problems.

    A key that is not a plain name (``1:``, ``_env_file:``) would otherwise reach pydantic-settings
    as a keyword argument, or as one of its own ``_``-prefixed options.
    """
    inputs: dict[str, Any] = {}
    for key, value in document.data.items():
        if isinstance(key, str) and key.isidentifier() and not key.startswith("_"):
            inputs[key] = value
            continue
        problems.append(
            ConfigProblem(
                str(document.path),
                str(key),
                "unknown key",
                f"remove it (known keys here: {', '.join(Settings.model_fields)})",
                line=document.line_of((str(key),)),
            )
        )
    return inputs


def load_settings(path: Path | None = None) -> Settings:
    """Load and validate the settings; raise :class:`InvalidConfigError` listing every problem.

    Every secret loaded is registered with the log redactor before this returns.
    """
    settings, problems = _load(path)
    if problems or settings is None:
        raise InvalidConfigError(problems)
    _log.debug(
        "settings_loaded",
        config=str(resolve_config_path(path)),
        source_kind=settings.source.kind,
        store_url=settings.store.url,
        embedded=settings.embedded.enabled,
        salesforce_auth=settings.salesforce.auth,
    )
    return settings


def policy_path_for(config_path: Path) -> Path:
    """``policy.yaml`` lives beside ``sfsync.yaml``."""
    return config_path.with_name("policy.yaml")


def mappings_path_for(config_path: Path) -> Path:
    """``mappings.yaml`` lives beside ``sfsync.yaml`` (optional for now)."""
    return config_path.with_name("mappings.yaml")


def _check_policy(path: Path, problems: list[ConfigProblem]) -> None:
    """Validate policy.yaml with the policy model, locating each error in the file."""
    from sfsync.policy import Policy  # noqa: PLC0415 - only the check needs it; avoids a cycle

    document = read_yaml_document(path, problems)
    if document is None:
        return
    try:
        Policy.model_validate(document.data)
    except ValidationError as error:
        problems.extend(_problems_from_validation(error, Policy, document))


def collect_config_problems(config: Path | None = None) -> list[ConfigProblem]:
    """Every problem in sfsync.yaml (with its environment), policy.yaml and mappings.yaml.

    mappings.yaml is checked offline here (structure, sources, transforms); against the org's
    describe by ``sfsync mappings check``.
    """
    config_path = resolve_config_path(config)
    _, problems = _load(config_path)
    _check_policy(policy_path_for(config_path), problems)
    mappings = mappings_path_for(config_path)
    if mappings.exists():
        from sfsync.mappers.validate import check_mappings_offline  # noqa: PLC0415 - see above

        problems.extend(problem.as_config_problem() for problem in check_mappings_offline(mappings))
    return problems


def print_problems(problems: Sequence[ConfigProblem], stream: TextIO | None = None) -> None:
    """Print problems as a readable list: location, key, what is wrong, the fix."""
    console = Console(file=stream or sys.stdout, highlight=False, soft_wrap=True)
    count = len(problems)
    console.print(Text(f"{count} configuration problem{'s' if count != 1 else ''}:", "bold red"))
    for problem in problems:
        console.print(Text.assemble((problem.location, "cyan"), "  ", (problem.key, "bold")))
        console.print(Text(f"    {problem.message}"))
        console.print(Text.assemble("    fix: ", (problem.fix, "green")))


def run_config_check(config: Path | None) -> int:
    """``sfsync config check``: print every problem (exit status 1) or "config OK" (0)."""
    config_path = resolve_config_path(config)
    problems = collect_config_problems(config_path)
    if problems:
        print_problems(problems)
        return 1
    checked = [config_path, policy_path_for(config_path)]
    mappings = mappings_path_for(config_path)
    if mappings.exists():
        checked.append(mappings)
    Console(highlight=False, soft_wrap=True).print(
        Text(f"config OK ({', '.join(str(path) for path in checked)})", "green")
    )
    warnings = Console(stderr=True, highlight=False, soft_wrap=True)
    for warning in alerts_warnings(config_path):
        warnings.print(Text(f"warning: {warning}", "yellow"))
    return 0


def alerts_warnings(config_path: Path) -> list[str]:
    """What ``config check`` warns about (not a failure): escalations nobody would hear of.

    policy.yaml always has escalation levels; with no alert channel they still run, but no
    manager is ever alerted, which should be a choice and not a surprise.
    """
    from sfsync.policy import Policy  # noqa: PLC0415 - as in _check_policy

    settings, _ = _load(config_path)
    document = read_yaml_document(policy_path_for(config_path), [])
    if settings is None or document is None:
        return []
    alerts = settings.alerts
    channels = (alerts.smtp.host, alerts.slack.webhook_url, alerts.teams.webhook_url)
    levels = Policy.model_validate(document.data).escalation.levels
    if not levels or any(channel is not None for channel in channels):
        return []
    names = ", ".join(level.name for level in levels)
    warning = (
        f"escalation levels ({names}) are set in policy.yaml but no alert channel is "
        "configured: Cases will be escalated and no manager alerted; configure "
        "alerts.smtp/slack/teams (docs/alerts.md)"
    )
    return [warning]
