"""OAuth 2 for the local org: the token endpoint's three flows and session checks.

- client credentials (``Authorization: Basic`` or form ``client_id``/``client_secret``),
- username-password (form ``client_id``, ``client_secret``, ``username``, ``password``),
- JWT bearer (RS256 assertion checked against the connected app's certificate with PyJWT:
  ``iss`` = client id, ``sub`` = username, ``aud`` = the org's login URL or
  login/test.salesforce.com, ``exp`` in the future on the org clock).

Errors use the documented ``{"error", "error_description"}`` bodies with status 400. Sessions
expire after the configured lifetime on the org clock; then every API call answers 401
``INVALID_SESSION_ID``, and a new login gets a fresh, valid session.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt

from sfsync.clock import Clock
from sfsync.sandbox.certs import load_jwt_public_key
from sfsync.sandbox.config import OrgConfig
from sfsync.sandbox.storage import OrgStore
from sfsync.sandbox.values import parse_datetime

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


class OAuthError(Exception):
    """A refused token request: ``error`` and ``error_description`` as Salesforce sends them."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error, description)
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Session:
    token: str
    user_id: str
    expires_at: datetime


class SessionRegistry:
    """Issued access tokens; persisted so a restarted org still honours them until expiry."""

    def __init__(self, store: OrgStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        for token, user_id, _issued, expires in store.load_sessions():
            expires_at = parse_datetime(expires)
            if expires_at is not None:
                self._sessions[token] = Session(token, user_id, expires_at)

    def issue(self, org_id: str, user_id: str, lifetime: timedelta) -> Session:
        now = self._clock.now()
        token = f"{org_id[:15]}!AQ{secrets.token_urlsafe(48)}"
        session = Session(token=token, user_id=user_id, expires_at=now + lifetime)
        with self._lock:
            self._sessions[token] = session
        self._store.save_session(token, user_id, now.isoformat(), session.expires_at.isoformat())
        return session

    def check(self, token: str) -> Session | None:
        """The live session for ``token``, or None when unknown or expired."""
        with self._lock:
            session = self._sessions.get(token)
        if session is None or session.expires_at <= self._clock.now():
            return None
        return session

    def expire_all(self) -> None:
        """Every issued session ends now (a fault; new logins work as usual)."""
        now = self._clock.now()
        with self._lock:
            for token, session in list(self._sessions.items()):
                self._sessions[token] = Session(token, session.user_id, now)
        self._store.expire_sessions(now.isoformat())


@dataclass(frozen=True)
class TokenGrant:
    """A successful login: who, and which flow (for the response's ``scope``)."""

    user_id: str
    flow: str


class TokenEndpoint:
    """``POST /services/oauth2/token``: checks a grant and says whose session to issue."""

    def __init__(
        self, config: OrgConfig, jwt_cert: Path, clock: Clock, login_url: str, user_id: str
    ) -> None:
        self._config = config
        self._jwt_key = load_jwt_public_key(jwt_cert)
        self._clock = clock
        self._audiences = (login_url, *_JWT_AUDIENCES)
        self._user_id = user_id

    def grant(self, form: Mapping[str, str], authorization: str | None) -> TokenGrant:
        grant_type = form.get("grant_type", "")
        if grant_type == "client_credentials":
            self._check_client(*_client_from(form, authorization))
            return TokenGrant(self._user_id, "client_credentials")
        if grant_type == "password":
            self._check_client(*_client_from(form, authorization))
            username = form.get("username", "")
            password = form.get("password", "")
            if not (
                username.lower() == self._config.username.lower()
                and hmac.compare_digest(password, self._config.password)
            ):
                raise OAuthError("invalid_grant", "authentication failure")
            return TokenGrant(self._user_id, "password")
        if grant_type == JWT_GRANT:
            self._check_assertion(form.get("assertion", ""))
            return TokenGrant(self._user_id, "jwt")
        if not grant_type:
            raise OAuthError("invalid_request", "grant type not supported")
        raise OAuthError("unsupported_grant_type", "grant type not supported")

    def check_password(self, username: str, password: str) -> bool:
        """For the SOAP login: the integration user's name and password."""
        return username.lower() == self._config.username.lower() and hmac.compare_digest(
            password, self._config.password
        )

    def _check_client(self, client_id: str, client_secret: str) -> None:
        if client_id != self._config.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(client_secret, self._config.client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")

    def _check_assertion(self, assertion: str) -> None:
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion,
                self._jwt_key,
                algorithms=["RS256"],
                options={
                    "verify_exp": False,
                    "verify_aud": False,
                    "require": ["iss", "sub", "aud"],
                },
            )
        except jwt.PyJWTError:
            raise OAuthError("invalid_grant", "invalid assertion") from None
        if claims.get("iss") != self._config.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if not any(str(a).rstrip("/") in self._audiences for a in audiences):
            raise OAuthError("invalid_grant", "audience is invalid")
        if str(claims.get("sub", "")).lower() != self._config.username.lower():
            raise OAuthError("invalid_grant", "user hasn't approved this consumer")
        if _epoch_seconds(claims.get("exp")) <= self._clock.now().timestamp():
            raise OAuthError("invalid_grant", "expired authorization code")


def _epoch_seconds(value: Any) -> float:
    """A JWT ``exp``; simple-salesforce sends it as a numeric string, which Salesforce accepts."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _client_from(form: Mapping[str, str], authorization: str | None) -> tuple[str, str]:
    """Client id and secret from HTTP Basic auth, or else from the form."""
    if authorization and authorization.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "invalid client credentials") from None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


def token_response(
    session: Session,
    grant: TokenGrant,
    *,
    instance_url: str,
    org_id: str,
    issued_at: datetime,
    client_secret: str,
) -> dict[str, str]:
    """The documented token JSON; ``instance_url`` has no trailing slash, ``issued_at`` is epoch
    milliseconds as a string, ``signature`` is HMAC-SHA256(id + issued_at) as Salesforce signs."""
    identity = f"{instance_url}/id/{org_id}/{session.user_id}"
    issued = str(int(issued_at.timestamp() * 1000))
    digest = hmac.new(client_secret.encode(), (identity + issued).encode(), hashlib.sha256).digest()
    body = {
        "access_token": session.token,
        "instance_url": instance_url.rstrip("/"),
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued,
        "signature": base64.b64encode(digest).decode(),
    }
    if grant.flow in {"jwt", "client_credentials"}:
        body["scope"] = "api"
    return body
