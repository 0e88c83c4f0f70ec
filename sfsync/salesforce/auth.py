"""Getting an access token: sfsync POSTs to ``<login_url>/services/oauth2/token`` itself.

Three flows, chosen by ``salesforce.auth``:

- ``jwt`` (recommended for production): an RS256 assertion signed with the connected app's key,
  ``iss`` = client id, ``sub`` = username, ``aud`` = the login URL (login/test.salesforce.com for
  a My Domain, as Salesforce documents), ``exp`` = now + 3 minutes on the injected clock;
- ``client_credentials``: HTTP Basic with the client id and secret (needs a My Domain login URL);
- ``password``: the username-password grant (being retired by Salesforce; kept for old orgs).

Doing the request ourselves (rather than through simple-salesforce's login helpers, which
hard-code ``*.salesforce.com``) means real orgs, My Domains and the local org all work the same
way, through the same session (CA bundle, timeouts, call counting). OAuth refusals become a
:class:`ConfigError` with the fix; secrets never reach a log line or an error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import jwt
import requests

from sfsync.clock import Clock
from sfsync.errors import ConfigError, RetryableError
from sfsync.salesforce.errors import translate_error
from sfsync.settings import SalesforceSettings

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME = timedelta(minutes=3)
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a URL path, not a secret

#: OAuth error → what the admin should check.
_FIXES = {
    "invalid_client_id": "check salesforce.client_id against the connected app's consumer key",
    "invalid_client": "check the connected app's consumer secret "
    "(SFSYNC_SALESFORCE__CLIENT_SECRET_FILE)",
    "invalid_grant": "check salesforce.username, the password or private key, that the user is "
    "pre-authorised for the connected app, and that this host's clock is right",
    "inactive_user": "reactivate the integration user or change salesforce.username",
    "unsupported_grant_type": "enable this flow on the connected app or change salesforce.auth",
    "invalid_request": "check salesforce.auth and salesforce.login_url",
}


@dataclass(frozen=True)
class AccessToken:
    """A session: the bearer token and the instance it is valid for."""

    access_token: str
    instance_url: str

    def __repr__(self) -> str:
        return f"AccessToken(instance_url={self.instance_url!r}, access_token=<redacted>)"


def token_form(settings: SalesforceSettings, clock: Clock) -> tuple[dict[str, str], Any]:
    """The form fields and HTTP auth for the configured flow."""
    if settings.auth == "jwt":
        return {"grant_type": JWT_GRANT, "assertion": _jwt_assertion(settings, clock)}, None
    if settings.auth == "client_credentials":
        client_id = _required(settings.client_id, "client_id")
        secret = _secret(settings, "client_secret")
        return {"grant_type": "client_credentials"}, (client_id, secret)
    return {
        "grant_type": "password",
        "client_id": _required(settings.client_id, "client_id"),
        "client_secret": _secret(settings, "client_secret"),
        "username": _required(settings.username, "username"),
        "password": _secret(settings, "password"),
    }, None


def fetch_token(
    settings: SalesforceSettings, clock: Clock, session: requests.Session
) -> AccessToken:
    """Log in with the configured flow; ConfigError (with a fix) when Salesforce refuses."""
    form, basic_auth = token_form(settings, clock)
    try:
        response = session.post(settings.login_url + TOKEN_PATH, data=form, auth=basic_auth)
    except requests.exceptions.RequestException as error:
        raise translate_error(error) from None
    body = _json(response)
    if response.status_code >= 500:
        raise RetryableError(f"the Salesforce login endpoint answered {response.status_code}")
    if response.status_code != 200:
        code = str(body.get("error") or response.status_code)
        description = str(body.get("error_description") or "").strip()
        fix = _FIXES.get(code, "check the salesforce settings for the chosen auth flow")
        raise ConfigError(
            f"Salesforce refused the {settings.auth} login: {code}"
            + (f" ({description})" if description else "")
            + f"; fix: {fix}"
        )
    token = body.get("access_token")
    instance_url = settings.instance_url or body.get("instance_url")
    if not isinstance(token, str) or not isinstance(instance_url, str):
        raise ConfigError(
            f"the Salesforce login endpoint at {settings.login_url} did not return a token; "
            "check salesforce.login_url"
        )
    return AccessToken(access_token=token, instance_url=instance_url.rstrip("/"))


def jwt_audience(login_url: str) -> str:
    """The ``aud`` claim: Salesforce documents login.salesforce.com (test.salesforce.com for
    sandboxes) even when the token is requested from a My Domain; other hosts (the local org, an
    Experience Cloud site) are their own audience."""
    host = (urlsplit(login_url).hostname or "").lower()
    if host.endswith(".sandbox.my.salesforce.com"):
        return "https://test.salesforce.com"
    if host.endswith(".my.salesforce.com"):
        return "https://login.salesforce.com"
    return login_url


def _jwt_assertion(settings: SalesforceSettings, clock: Clock) -> str:
    """The signed RS256 JWT bearer assertion."""
    claims = {
        "iss": _required(settings.client_id, "client_id"),
        "sub": _required(settings.username, "username"),
        "aud": jwt_audience(settings.login_url),
        "exp": int((clock.now() + JWT_LIFETIME).timestamp()),
    }
    key = _secret(settings, "private_key")
    try:
        return jwt.encode(claims, key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError):
        raise ConfigError(
            "salesforce.private_key cannot sign an RS256 assertion; point "
            "SFSYNC_SALESFORCE__PRIVATE_KEY_FILE at the connected app's RSA private key"
        ) from None


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ConfigError(f"salesforce.{name} is required for this auth flow; set it")
    return value


def _secret(settings: SalesforceSettings, name: str) -> str:
    value = getattr(settings, name)
    if value is None:
        variable = f"SFSYNC_SALESFORCE__{name.upper()}_FILE"
        raise ConfigError(f"salesforce.{name} is required for auth {settings.auth}; set {variable}")
    secret: str = value.get_secret_value()
    return secret


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
