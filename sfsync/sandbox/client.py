"""Client-side helpers for talking to the local org with unmodified simple-salesforce.

simple-salesforce hard-codes its login URLs to ``https://{domain}.salesforce.com``;
:class:`LocalOrgSession` sends anything addressed to ``*.salesforce.com`` to the local org
instead, verifies TLS against the org's own CA, and gives every call a timeout.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

DEFAULT_TIMEOUT_SECONDS = 30.0


class LocalOrgSession(requests.Session):
    """A ``requests.Session`` that reaches the local org for Salesforce login hosts."""

    def __init__(
        self, base_url: str, ca_path: str, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.verify = ca_path
        self.timeout = timeout

    def rewrite(self, url: str) -> str:
        """``https://<anything>.salesforce.com/path?q`` → ``<local org>/path?q``."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host == "salesforce.com" or host.endswith(".salesforce.com"):
            base = urlsplit(self.base_url)
            return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, parts.fragment))
        return url

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        target = url.decode() if isinstance(url, bytes) else url
        kwargs.setdefault("timeout", self.timeout)
        # Per request, because requests lets REQUESTS_CA_BUNDLE override ``session.verify``.
        kwargs.setdefault("verify", self.verify)
        return super().request(method, self.rewrite(target), *args, **kwargs)
