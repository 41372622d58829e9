"""The sandbox's HTTP(S) listeners: a threaded server that hands each request to `Sandbox.dispatch`.

Two listeners serve the same apps: plain HTTP (HubSpot, Zendesk and the control endpoints) and
HTTPS with a certificate from a throw-away local CA (`trustme`), because simple-salesforce always
builds `https://` URLs. Clients trust that CA through the `ca_bundle` the ready line names, exactly
as they would trust a corporate proxy's CA; nothing in the connectors knows it is a sandbox.

HTTP/1.1 keep-alive is on, so SDK sessions reuse connections as they do against the vendors.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from healthsync.sandbox.wire import Request, Response

__all__ = ["Listener", "make_tls_context"]

log = logging.getLogger("healthsync.sandbox")

Dispatch = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, a keep-alive client's delayed ACK
    # stalls every response by ~40 ms (TCP_NODELAY is what real API front ends set too).
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        request = Request(
            method=self.command,
            target=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            base_url=f"{self.server.scheme}://{host}",
        )
        response = self.server.dispatch(request)
        self._send(response)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if response.drop_after is not None:
            # Fault injection: promise the whole body, send part of it, then hang up.
            self.wfile.write(response.body[: response.drop_after])
            self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], dispatch: Dispatch, tls: ssl.SSLContext | None) -> None:
        self.dispatch = dispatch
        self.tls = tls
        self.scheme = "https" if tls else "http"
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the worker thread, so one slow client never blocks accept().
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        try:
            wrapped = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake with %s failed: %s", client_address, exc)
            return
        try:
            super().finish_request(wrapped, client_address)
        finally:
            wrapped.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


class Listener:
    """One listening socket served by a background thread until `close()`."""

    def __init__(self, host: str, port: int, dispatch: Dispatch, tls: ssl.SSLContext | None = None) -> None:
        self._server = _Server((host, port), dispatch, tls)
        # A short poll interval keeps stop() fast; tests start and stop many sandboxes.
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        """`http(s)://host:port` of this listener."""
        host, port = self._server.server_address[:2]
        return f"{self._server.scheme}://{host!s}:{port}"

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        return int(self._server.server_address[1])

    def close(self) -> None:
        """Stop accepting, finish the loop, release the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def make_tls_context(
    workdir: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context signed by a fresh local CA, and the CA bundle file clients should trust."""
    import trustme

    ca = trustme.CA(organization_name="healthsync sandbox")
    cert = ca.issue_cert(*hosts)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    # TLS 1.2 with AES-128-GCM, which Salesforce also offers: on loopback the cipher is the cost of
    # a 2,000-record page, and AES-128 is about a third cheaper than TLS 1.3's AES-256 default.
    # (Python 3.11 cannot pick TLS 1.3 suites, so the version is capped to choose the cipher.)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("ECDHE+AESGCM:!AES256")
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    cert.configure_cert(context)
    bundle = workdir / "sandbox-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return context, bundle
