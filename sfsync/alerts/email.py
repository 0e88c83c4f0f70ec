"""E-mail notifier: alerts as multipart (plain text + HTML) messages over SMTP.

The connection is verified TLS: STARTTLS with a default (certificate- and host-checking) SSL
context, optionally trusting an extra CA (``ca_bundle``, for a private relay or tests), then
``AUTH`` when a username is configured. Every value put into the HTML is escaped with
:func:`html.escape`, so an account named ``<script>`` arrives as text, not markup.
"""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from pydantic import SecretStr

from sfsync.alerts.model import AlertMessage, Channel, StaleCaseAlert
from sfsync.clock import Clock
from sfsync.errors import PermanentError, RetryableError
from sfsync.logs import register_secret

COLUMNS = ("Case", "Account", "Past due", "Open for", "Owner", "Why stale", "Link")


def _row(alert: StaleCaseAlert) -> tuple[str, ...]:
    return (
        alert.case_number,
        alert.account_name,
        alert.amount_text,
        alert.age_text,
        alert.owner_name,
        alert.reason,
        alert.case_url,
    )


def _one_line(text: str) -> str:
    """Collapse line breaks and runs of spaces: a header may not contain a line break."""
    return " ".join(text.split())


def render_text(message: AlertMessage) -> str:
    """The plain-text part: an aligned table, one Case per row, the link last."""
    rows = [COLUMNS, *(tuple(_one_line(cell) for cell in _row(a)) for a in message.alerts)]
    widths = [max(len(row[index]) for row in rows) for index in range(len(COLUMNS) - 1)]

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        return " | ".join([*cells, row[-1]])

    rule = "-+-".join("-" * width for width in widths) + "-+-" + "-" * len(COLUMNS[-1])
    table = [line(rows[0]), rule, *(line(row) for row in rows[1:])]
    return "\n".join([_one_line(message.subject), "", *table, "", _FOOTER, ""])


_FOOTER = "Sent by sfsync collections alerts."


def render_html(message: AlertMessage) -> str:
    """The HTML part: a table with a link to each Case; every value escaped."""
    esc = html.escape
    head = "".join(f'<th align="left">{esc(column)}</th>' for column in COLUMNS)
    body = []
    for alert in message.alerts:
        cells = "".join(f"<td>{esc(value)}</td>" for value in _row(alert)[:-1])
        link = f'<td><a href="{esc(alert.case_url)}">Open Case {esc(alert.case_number)}</a></td>'
        body.append(f"<tr>{cells}{link}</tr>")
    return (
        "<!DOCTYPE html>\n<html><body>"
        f"<h2>{esc(_one_line(message.subject))}</h2>"
        '<table border="1" cellpadding="4" cellspacing="0">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<p>{esc(_FOOTER)}</p></body></html>\n"
    )


def build_email(
    message: AlertMessage, *, sender: str, recipient: str, clock: Clock
) -> EmailMessage:
    """The complete message: headers, plain text, and the HTML alternative."""
    email = EmailMessage()
    email["Subject"] = _one_line(message.subject)
    email["From"] = sender
    email["To"] = recipient
    email["Date"] = format_datetime(clock.now())
    email["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    email.set_content(render_text(message))
    email.add_alternative(render_html(message), subtype="html")
    return email


class EmailNotifier:
    """Sends alert e-mails through one SMTP server (STARTTLS, optional AUTH, timeouts)."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        clock: Clock,
        timeout: float = 10.0,
        starttls: bool = True,
        username: str | None = None,
        password: SecretStr | None = None,
        ca_bundle: Path | None = None,
    ) -> None:
        register_secret(password)
        self._host = host
        self._port = port
        self._sender = sender
        self._clock = clock
        self._timeout = timeout
        self._starttls = starttls
        self._username = username
        self._password = password
        self._ca_bundle = ca_bundle

    @property
    def channel(self) -> Channel:
        return Channel.EMAIL

    def send(self, recipient: str, message: AlertMessage) -> None:
        """Deliver one message to ``recipient``, translating every SMTP failure by remedy."""
        email = build_email(message, sender=self._sender, recipient=recipient, clock=self._clock)
        where = f"SMTP server {self._host}:{self._port}"
        try:
            self._deliver(email)
        except smtplib.SMTPAuthenticationError as error:
            raise PermanentError(
                f"{where} refused the login for {self._username}: {error.smtp_code} "
                f"{_reply(error.smtp_error)}",
                code="AUTH_FAILED",
            ) from error
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentError(
                f"{where} refused recipient {recipient}", code="BAD_RECIPIENT"
            ) from error
        except smtplib.SMTPResponseException as error:
            text = f"{where} answered {error.smtp_code} {_reply(error.smtp_error)}"
            if 400 <= error.smtp_code < 500:
                raise RetryableError(text) from error
            raise PermanentError(text, code=f"SMTP_{error.smtp_code}") from error
        except smtplib.SMTPServerDisconnected as error:
            raise RetryableError(f"{where} closed the connection") from error
        except smtplib.SMTPException as error:  # not supported: STARTTLS, AUTH mechanisms
            raise PermanentError(f"{where}: {error}", code="SMTP_UNSUPPORTED") from error
        except ssl.SSLCertVerificationError as error:
            raise PermanentError(
                f"{where} TLS certificate did not verify: {error.verify_message}",
                code="TLS_VERIFY_FAILED",
            ) from error
        except TimeoutError as error:
            raise RetryableError(f"{where} timed out") from error
        except OSError as error:  # refused, reset, unreachable, TLS handshake torn down
            raise RetryableError(f"{where} unreachable: {type(error).__name__}") from error

    def _deliver(self, email: EmailMessage) -> None:
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            smtp.ehlo()
            if self._starttls:
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
            if self._username is not None:
                password = self._password.get_secret_value() if self._password else ""
                smtp.login(self._username, password)
            smtp.send_message(email)

    def _tls_context(self) -> ssl.SSLContext:
        """Verified TLS: the system CAs, plus ``ca_bundle`` when one is configured."""
        context = ssl.create_default_context()
        if self._ca_bundle is not None:
            context.load_verify_locations(cafile=str(self._ca_bundle))
        return context


def _reply(raw: bytes | str) -> str:
    """The server's reply text as one short line."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return _one_line(text)[:200]
