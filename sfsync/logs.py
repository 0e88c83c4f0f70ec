"""Structured logging for every sfsync process, with secrets redacted before anything is written.

Logs are events: snake_case past-tense names with key/value context. :func:`configure_logging`
sets up structlog once per process and routes the standard library's loggers (celery, urllib3,
sqlalchemy, ...) through the same processors, so every line — ours or a library's — passes the
redaction processor before the renderer sees it. On a terminal lines are rendered for people;
anywhere else (files, containers, CI) as one JSON object per line.

Redaction works three ways, because a secret can reach a log line in three ways:

* by key name: ``password=...``, ``access_token=...``, ``authorization=...`` are masked whatever
  their value, recursively inside dicts and lists;
* by value pattern inside any string (messages, exception text, tracebacks): bearer tokens,
  ``Authorization:`` headers, PEM private keys, Salesforce session ids, passwords in URLs, JWTs,
  ``token=...`` form fields;
* by value: every secret the settings loader reads is registered with :func:`register_secret`
  and masked wherever it appears, even where no pattern would recognise it.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Literal, TextIO
from urllib.parse import quote, quote_plus, urlsplit

import structlog
from pydantic import SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

REDACTED = "[REDACTED]"

LogFormat = Literal["auto", "json", "console"]

#: Key names whose values are secret whatever they contain (compared lower-case, ``-`` as ``_``).
SECRET_KEY_NAMES = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "session_id",
        "sessionid",
        "sid",
        "authorization",
        "proxy_authorization",
        "private_key",
        "privatekey",
        "api_key",
        "apikey",
        "client_secret",
        "consumer_secret",
        "security_token",
        "assertion",
        "cookie",
        "set_cookie",
        "webhook_url",
        "x_sfdc_session",
    }
)
#: Endings that make any key name secret (``smtp_password``, ``slack_webhook_url``, ...).
_SECRET_KEY_SUFFIXES = ("password", "passwd", "secret", "_token", "webhook_url", "private_key")

_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)[^\s@/]+(?=@)")
_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
_AUTHORIZATION_HEADER = re.compile(
    r"(?P<head>\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:basic|bearer|oauth|token|digest)\s+)?)[^\s\"',;}]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<head>\bbearer\s+)[A-Za-z0-9\-._~+/!]+=*", re.IGNORECASE)
_SALESFORCE_SESSION_ID = re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_SECRET_FORM_FIELD = re.compile(
    r"(?P<head>\b(?:access_token|refresh_token|id_token|client_secret|password|assertion|"
    r"session_?id|sid|token|api_key|private_key|security_token)=)[^&\s\"']+",
    re.IGNORECASE,
)
_SECRET_JSON_FIELD = re.compile(
    r"(?P<head>[\"'](?:access_token|refresh_token|id_token|client_secret|password|assertion|"
    r"session_?id|sessionId|private_key|api_key|authorization|webhook_url)[\"']\s*:\s*[\"'])"
    r"[^\"']*",
    re.IGNORECASE,
)
#: Patterns that keep a recognisable head (``Bearer ``, ``password=``) and mask the rest.
_HEADED_PATTERNS = (
    _URL_PASSWORD,
    _AUTHORIZATION_HEADER,
    _BEARER,
    _SECRET_FORM_FIELD,
    _SECRET_JSON_FIELD,
)
#: Patterns whose whole match is the secret.
_WHOLE_PATTERNS = (_PEM_PRIVATE_KEY, _SALESFORCE_SESSION_ID, _JWT)

#: Shorter registered values would mask ordinary words everywhere; patterns still cover them.
_MIN_REGISTERED_LENGTH = 4
#: A URL path or query shorter than this (``/``, ``/api``) is not a secret on its own.
_MIN_URL_PART_LENGTH = 12

_registry_lock = threading.Lock()
_registered: tuple[str, ...] = ()


def register_secret(value: str | SecretStr | None) -> None:
    """Mask ``value`` (and its URL-encoded forms) wherever it appears in any later log line."""
    if value is None:
        return
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    raw = raw.strip()
    if len(raw) < _MIN_REGISTERED_LENGTH:
        return
    forms = {raw, quote(raw, safe=""), quote_plus(raw)}
    forms.update(line.strip() for line in raw.splitlines() if len(line.strip()) >= 16)
    forms.update(_url_secret_parts(raw))
    global _registered  # noqa: PLW0603 - one process-wide registry, swapped atomically
    with _registry_lock:
        merged = set(_registered) | forms
        _registered = tuple(sorted(merged, key=len, reverse=True))


def _url_secret_parts(raw: str) -> set[str]:
    """The parts of a secret URL that are logged apart from the whole.

    A webhook URL's secret is its path and query: urllib3's debug line names the host and the
    request path separately (``https://hooks.example:443 "POST /services/T/B/XYZ HTTP/1.1"``), so
    the whole URL never appears in one piece there.
    """
    try:
        parts = urlsplit(raw)
    except ValueError:
        return set()
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return set()
    path_and_query = f"{parts.path}?{parts.query}" if parts.query else parts.path
    return {
        part
        for part in (path_and_query, parts.path, parts.query)
        if len(part) >= _MIN_URL_PART_LENGTH
    }


def clear_registered_secrets() -> None:
    """Forget every registered secret (tests; a process reloading its settings)."""
    global _registered  # noqa: PLW0603 - see register_secret
    with _registry_lock:
        _registered = ()


def redact_text(text: str) -> str:
    """Return ``text`` with every registered secret and every secret-looking token masked."""
    for secret in _registered:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _WHOLE_PATTERNS:
        text = pattern.sub(REDACTED, text)
    for pattern in _HEADED_PATTERNS:
        text = pattern.sub(lambda match: match.group("head") + REDACTED, text)
    return text


def is_secret_key(name: str) -> bool:
    """True when a value stored under ``name`` must never be shown, whatever it looks like."""
    key = name.lower().replace("-", "_")
    return key in SECRET_KEY_NAMES or key.endswith(_SECRET_KEY_SUFFIXES)


def redact_value(value: object) -> object:
    """Redact ``value`` recursively: strings are scrubbed, containers walked, secrets unwrapped."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, Mapping):
        return {key: _redact_item(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return redact_text(bytes(value).decode("utf-8", errors="replace"))
    if isinstance(value, BaseException):
        return redact_text(f"{type(value).__name__}: {value}")
    return value


def _redact_item(key: object, value: object) -> object:
    """Mask a mapping item by its key name, else redact its value."""
    if value is not None and isinstance(key, str) and is_secret_key(key):
        return REDACTED
    return redact_value(value)


def redact_secrets(_logger: WrappedLogger, _method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: mask secrets in every key and value of the event, recursively."""
    return {key: _redact_item(key, value) for key, value in event_dict.items()}


def bind_run_context(
    run_id: str | None = None,
    source: str | None = None,
    account: str | None = None,
    **extra: str | int | None,
) -> None:
    """Attach the run's identity to every log line this context writes from now on.

    ``extra`` carries further identity (``task``, ``task_id`` in a Celery task); None is skipped.
    """
    values = {"run_id": run_id, "source": source, "account": account, **extra}
    structlog.contextvars.bind_contextvars(
        **{key: value for key, value in values.items() if value is not None}
    )


def clear_run_context() -> None:
    """Drop all context bound with :func:`bind_run_context` (end of a run or task)."""
    structlog.contextvars.clear_contextvars()


@contextmanager
def run_context(
    run_id: str | None = None, source: str | None = None, account: str | None = None
) -> Iterator[None]:
    """Bind run context for the ``with`` block only, restoring the previous context after."""
    values = {"run_id": run_id, "source": source, "account": account}
    with structlog.contextvars.bound_contextvars(
        **{key: value for key, value in values.items() if value is not None}
    ):
        yield


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """The logger sfsync modules use: ``log = get_logger(__name__)``."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def _shared_processors() -> list[Processor]:
    """Processors every record passes, from structlog or from the standard library.

    Redaction is last, after exceptions are rendered to text, and runs before the event leaves
    structlog, so no handler (ours or a library's) ever receives an unredacted structlog event.
    """
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
        structlog.processors.UnicodeDecoder(),
        redact_secrets,
    ]


def _renderer(fmt: LogFormat, stream: TextIO) -> Processor:
    """JSON for machines; console rendering when a person is watching a terminal."""
    tty = _is_tty(stream)
    if fmt == "json" or (fmt == "auto" and not tty):
        return structlog.processors.JSONRenderer(sort_keys=True)
    return structlog.dev.ConsoleRenderer(
        colors=tty, exception_formatter=structlog.dev.plain_traceback
    )


def _is_tty(stream: TextIO) -> bool:
    """True when ``stream`` is a terminal (and answers the question at all)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record.

    A handler bound to the stream object of start-up would keep writing to a stream a test
    runner (or a daemonising wrapper) has since replaced and closed.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        """The stream is always the current sys.stderr; assignments are ignored."""


class _LoggingState:
    """What :func:`configure_logging` installed, so a second call replaces rather than adds."""

    handler: logging.Handler | None = None
    previous_root_level: int | None = None


def configure_logging(
    level: str = "INFO", fmt: LogFormat = "auto", stream: TextIO | None = None
) -> None:
    """Configure structlog and the standard library's logging for this process.

    Idempotent: calling it again (a CLI callback, a worker start-up, a test) replaces the one
    handler it installed instead of adding another, so no line is ever written twice. Without
    ``stream`` lines go to the current ``sys.stderr``, looked up at each line.
    """
    target = stream if stream is not None else sys.stderr
    numeric_level = logging.getLevelNamesMapping().get(level.upper())
    if numeric_level is None:
        raise ValueError(f"unknown log level {level!r}; use DEBUG, INFO, WARNING or ERROR")
    shared = _shared_processors()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _renderer(fmt, target),
        ],
    )
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _CurrentStderrHandler()
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    if _LoggingState.handler is not None:
        root.removeHandler(_LoggingState.handler)
    else:
        _LoggingState.previous_root_level = root.level
    root.addHandler(handler)
    root.setLevel(numeric_level)
    _LoggingState.handler = handler
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def reset_logging() -> None:
    """Undo :func:`configure_logging`: remove its handler and restore structlog's defaults."""
    root = logging.getLogger()
    if _LoggingState.handler is not None:
        root.removeHandler(_LoggingState.handler)
        _LoggingState.handler = None
    if _LoggingState.previous_root_level is not None:
        root.setLevel(_LoggingState.previous_root_level)
        _LoggingState.previous_root_level = None
    structlog.reset_defaults()
