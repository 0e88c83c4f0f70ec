"""The HTTPS front of the local org: a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with TLS.

Why stdlib rather than a WSGI app: the org needs behaviour below the WSGI line — refusing request
lines over 16,384 bytes with 414 before parsing, and closing a socket unanswered after a commit
(the ambiguous-commit fault) — and HTTP/1.1 keep-alive so ``requests`` reuses connections.

The TLS handshake runs in the connection's own thread (not in ``accept``), so one slow client
cannot stall the listener. Every response gets ``Content-Length``; nothing is logged per request.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sfsync.clock import Clock
from sfsync.sandbox.errors import ApiError
from sfsync.sandbox.exchange import Request, Response
from sfsync.sandbox.org import LocalOrg
from sfsync.sandbox.schema import DEFAULT_PROJECT_DIR, load_schema

MAX_URI_BYTES = 16_384
"""Salesforce answers 414 for a URI over 16,384 bytes and 431 for URI plus headers over that."""
HANDSHAKE_TIMEOUT_SECONDS = 10.0
IDLE_TIMEOUT_SECONDS = 60.0
MAX_BODY_BYTES = 160 * 1024 * 1024
LOOPBACK = "127.0.0.1"


class OrgRequestHandler(BaseHTTPRequestHandler):
    """One connection: parse each request, let the org answer it, write the answer."""

    protocol_version = "HTTP/1.1"
    server_version = "sfsync-local-org"
    sys_version = ""
    timeout = IDLE_TIMEOUT_SECONDS
    wbufsize = 64 * 1024
    """Buffered writes: headers and body leave together rather than as separate small TLS
    records, which would meet Nagle's algorithm and the client's delayed ACK (40 ms each)."""
    server: OrgHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines may carry ids and query text; the org logs errors itself."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        if len(self.path.encode("utf-8", "replace")) > MAX_URI_BYTES:
            self._refuse(
                ApiError(
                    414, "URI_TOO_LONG", f"The request URI is longer than {MAX_URI_BYTES} bytes."
                )
            )
            return
        header_bytes = sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        if len(self.path) + header_bytes > MAX_URI_BYTES:
            self._refuse(
                ApiError(
                    431,
                    "REQUEST_HEADER_FIELDS_TOO_LARGE",
                    f"The request URI and headers are longer than {MAX_URI_BYTES} bytes.",
                )
            )
            return
        body = self._read_body()
        if body is None:
            return
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.org.handle(request)
        if response.drop_connection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._write(response)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self._refuse(ApiError(400, "JSON_PARSER_ERROR", "Content-Length is not a number"))
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            self._refuse(ApiError(413, "REQUEST_ENTITY_TOO_LARGE", "The request body is too large"))
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";")[0].strip(), 16)
            except ValueError:
                self._refuse(ApiError(400, "JSON_PARSER_ERROR", "Malformed chunked body"))
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                self._refuse(
                    ApiError(413, "REQUEST_ENTITY_TOO_LARGE", "The request body is too large")
                )
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(16)

    def _refuse(self, error: ApiError) -> None:
        """Answer an error and close the connection (its body may be unread)."""
        self.close_connection = True
        response = Response.error(error)
        response.headers["Connection"] = "close"
        self._write(response)

    def _write(self, response: Response) -> None:
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)
        self.wfile.flush()


class OrgHTTPServer(ThreadingHTTPServer):
    """Loopback-only HTTPS server bound to one :class:`LocalOrg`."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, org: LocalOrg, port: int, tls: ssl.SSLContext) -> None:
        super().__init__((LOOPBACK, port), OrgRequestHandler)
        self.org = org
        self.socket = tls.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Handshake in this connection's thread, then serve it; a failed handshake just ends it."""
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(HANDSHAKE_TIMEOUT_SECONDS)
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Connection-level errors (resets, timeouts) end that connection only; stay quiet."""


def tls_context(org: LocalOrg) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    certs = org.certificates
    context.load_cert_chain(certs.server_cert, certs.server_key)
    return context


class OrgServer:
    """A running local org: the HTTPS server in a background thread, plus the org itself."""

    def __init__(self, org: LocalOrg, port: int = 0) -> None:
        self.org = org
        self._httpd = OrgHTTPServer(org, port, tls_context(org))
        self.port: int = self._httpd.server_address[1]
        self.url = f"https://{LOOPBACK}:{self.port}"
        org.bind_url(self.url)
        self._thread: threading.Thread | None = None

    @property
    def ca_path(self) -> str:
        return str(self.org.certificates.ca_cert)

    def start(self) -> OrgServer:
        """Serve in a background thread (a no-op when already serving)."""
        if self._thread is not None:
            return self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            name="local-org",
            kwargs={"poll_interval": 0.2},
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (the CLI)."""
        self._httpd.serve_forever(poll_interval=0.5)

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.org.close()

    def __enter__(self) -> OrgServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_local_org(
    data_dir: Path,
    *,
    port: int = 0,
    project_dir: Path | None = None,
    clock: Clock | None = None,
    config_overrides: dict[str, Any] | None = None,
) -> OrgServer:
    """Open (or create) the org in ``data_dir`` and serve it in a background thread: the one
    call an embedded default or a demo needs. Stop it with ``server.stop()``."""
    schema = load_schema(project_dir or DEFAULT_PROJECT_DIR)
    org = LocalOrg(data_dir, schema, clock=clock, config_overrides=config_overrides)
    return OrgServer(org, port).start()
