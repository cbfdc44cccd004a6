"""``escalations codec-server``: decrypts payloads for the Temporal Web UI and CLI.

With encryption on, the server and its Web UI hold only ciphertext. An operator who may read
ticket data points the Web UI (or ``temporal --codec-endpoint``) at this server, which
implements Temporal's remote codec protocol: ``POST .../decode`` and ``POST .../encode`` with a
``temporal.api.common.v1.Payloads`` message as proto3 JSON, answered in kind.

Guard rails, because a decrypting endpoint is as sensitive as the keys behind it:

- It binds to loopback unless told otherwise.
- Every encode and decode call needs the token, as ``Authorization: Bearer <token>`` (CLI,
  scripts) or as the session cookie that signing in on the server's own page sets (the Web UI;
  see :mod:`escalations.codec.auth`).
- Browsers get CORS permission only from the configured Web UI origins; a request from any
  other origin is refused outright.
- Bodies are bounded; tokens, cookies and payloads are never logged or echoed.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from collections.abc import Callable, Sequence
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads

from escalations.codec import auth as codec_auth
from escalations.codec.auth import CodecAuth
from escalations.runtime.encryption import DecryptionError, EncryptionCodec

log = logging.getLogger("escalations.codec.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081
DEFAULT_UI_ORIGINS = ("http://127.0.0.1:8233", "http://localhost:8233")
MAX_BODY = 4 * 1024 * 1024
# A body over the limit is still read (and dropped) up to this size, so the client gets its
# 413 rather than a connection reset; beyond it the connection is simply closed.
DRAIN_LIMIT = 16 * 1024 * 1024
SOCKET_TIMEOUT = 15.0
ALLOWED_HEADERS = "authorization, content-type, x-namespace"
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
}


def normalize_origin(text: str) -> str:
    """``scheme://host[:port]`` as a browser sends it in ``Origin``.

    Raises:
        ValueError: not an http(s) origin (a path, a wildcard, no host).
    """
    parts = urlsplit(text.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{text!r} is not an origin such as http://127.0.0.1:8233")
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{text!r} is not an origin: give scheme, host and port only")
    default_port = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    port = "" if parts.port in {None, default_port} else f":{parts.port}"
    return f"{parts.scheme}://{host}{port}"


class CodecServer:
    """A threaded HTTP server around one :class:`EncryptionCodec`.

    Args:
        codec: Decrypts and encrypts the payloads.
        token: The shared secret callers must present; None turns authentication off (the
            CLI allows that only on loopback).
        ui_origins: Browser origins of the Web UI allowed to call it.
        host: Interface to bind.
        port: Port to bind; 0 picks a free one (see :attr:`url`).
        max_body: Largest request body accepted, in bytes.
        tls: Serve HTTPS with this context (the session cookie is then ``Secure``).
    """

    def __init__(
        self,
        codec: EncryptionCodec,
        *,
        token: str | None,
        ui_origins: Sequence[str] = DEFAULT_UI_ORIGINS,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        max_body: int = MAX_BODY,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.codec = codec
        self.auth = CodecAuth(token)
        self.ui_origins = frozenset(normalize_origin(origin) for origin in ui_origins)
        self.max_body = max_body
        self.secure = tls is not None
        self._httpd = _Server((host, port), self)
        if tls is not None:
            # The handshake then runs in each connection's thread, not in the accept loop.
            self._httpd.socket = tls.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        auth = "token" if self.auth.required else "none"
        return f"CodecServer(url={self.url!r}, auth={auth}, ui_origins={sorted(self.ui_origins)})"

    @property
    def url(self) -> str:
        """Where it listens, e.g. ``http://127.0.0.1:8081``."""
        host, port = str(self._httpd.server_address[0]), self._httpd.server_address[1]
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.secure else 'http'}://{host}:{port}"

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop_serving` is called from another."""
        self._httpd.serve_forever(poll_interval=0.2)

    def stop_serving(self) -> None:
        """Make :meth:`serve_forever` return, and wait for it; call it from another thread."""
        self._httpd.shutdown()

    def close(self) -> None:
        """Close the listening socket (once :meth:`serve_forever` has returned)."""
        self._httpd.server_close()

    def __enter__(self) -> CodecServer:
        """Serve in a background thread until the ``with`` block ends."""
        self._thread = threading.Thread(target=self.serve_forever, name="codec-server")
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._thread is not None:
            self.stop_serving()
            self._thread.join()
            self._thread = None
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: CodecServer) -> None:
        self.app = app
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up or failed the TLS handshake: one line, no traceback.
        log.warning("connection from %s failed", client_address[0])


class _Handler(BaseHTTPRequestHandler):
    server_version = "escalations-codec"
    sys_version = ""
    timeout = SOCKET_TIMEOUT
    server: _Server

    @property
    def app(self) -> CodecServer:
        return self.server.app

    # -- routing ----------------------------------------------------------------------------

    def do_OPTIONS(self) -> None:
        if not self._origin_allowed(required=True):
            return
        extra = {
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": "600",
        }
        if self.headers.get("Access-Control-Request-Private-Network") == "true":
            # A Web UI on a public origin (Temporal Cloud) calling a codec server on loopback.
            extra["Access-Control-Allow-Private-Network"] = "true"
        self._send(HTTPStatus.NO_CONTENT, b"", "text/plain", extra)

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/healthz":
            self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/":
            self._send_page(HTTPStatus.OK, self._front_page())
        else:
            self._send_error(HTTPStatus.NOT_FOUND, "not found")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        # The protocol lets the endpoints sit at any depth (``/{namespace}/decode``).
        action = path.rstrip("/").rsplit("/", 1)[-1]
        if action in {"decode", "encode"}:
            self._codec(self.app.codec.decrypt if action == "decode" else self.app.codec.encrypt)
        elif path == "/login":
            self._login()
        elif path == "/logout":
            self._send_page(
                HTTPStatus.OK,
                codec_auth.sign_in_page("Signed out."),
                {"Set-Cookie": codec_auth.expired_cookie()},
            )
        else:
            self._send_error(HTTPStatus.NOT_FOUND, "not found")

    # -- the codec endpoints ----------------------------------------------------------------

    def _codec(self, apply: Callable[[Payload], Payload]) -> None:
        if not self._origin_allowed():
            return
        if not self._authorized():
            self._send_error(
                HTTPStatus.UNAUTHORIZED,
                "missing or wrong token: send Authorization: Bearer <token>",
                {"WWW-Authenticate": 'Bearer realm="escalations-codec"'},
            )
            return
        content_type = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            self._send_error(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send Content-Type: application/json"
            )
            return
        body = self._read_body()
        if body is None:
            return
        try:
            document = json.loads(body)
            if not isinstance(document, dict):
                raise ValueError("expected a JSON object with a payloads list")
            payloads = json_format.ParseDict(document, Payloads())
        except (ValueError, json_format.ParseError) as exc:
            reason = str(exc)[:200]
            self._send_error(
                HTTPStatus.BAD_REQUEST,
                f"the body is not a Payloads message in proto3 JSON: {reason}",
            )
            return
        try:
            result = Payloads(payloads=[apply(payload) for payload in payloads.payloads])
        except DecryptionError as exc:
            self._send_error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        text = json_format.MessageToJson(result, indent=None)
        self._send(HTTPStatus.OK, text.encode(), "application/json")

    def _origin_allowed(self, *, required: bool = False, also: str | None = None) -> bool:
        # Requests without Origin come from the CLI or scripts, not from a browser page.
        origin = self.headers.get("Origin")
        if origin is None and not required:
            return True
        if origin is not None and (origin in self.app.ui_origins or origin == also):
            return True
        # No Access-Control-Allow-* headers: the browser shows the page nothing.
        self._send_error(HTTPStatus.FORBIDDEN, "origin not allowed")
        return False

    def _authorized(self) -> bool:
        if not self.app.auth.required:
            return True
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.app.auth.token_matches(credentials.strip()):
            return True
        session = self._cookie(codec_auth.SESSION_COOKIE)
        return session is not None and self.app.auth.session_valid(session)

    def _read_body(self) -> bytes | None:
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self._send_error(HTTPStatus.LENGTH_REQUIRED, "send Content-Length")
            return None
        length = int(length_text) if length_text.isascii() and length_text.isdigit() else -1
        if length < 0:
            self._send_error(HTTPStatus.BAD_REQUEST, "bad Content-Length")
            return None
        if length > self.app.max_body:
            remaining = length if length <= DRAIN_LIMIT else 0
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 65536))
                if not chunk:
                    break
                remaining -= len(chunk)
            self._send_error(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is over {self.app.max_body} bytes"
            )
            return None
        return self.rfile.read(length)

    # -- signing in from a browser ----------------------------------------------------------

    def _login(self) -> None:
        if not self.app.auth.required:
            self._send_page(HTTPStatus.OK, codec_auth.open_page())
            return
        own_origin = f"{'https' if self.app.secure else 'http'}://{self.headers.get('Host')}"
        if not self._origin_allowed(also=own_origin):
            return
        body = self._read_body()
        if body is None:
            return
        fields = parse_qs(body.decode("utf-8", errors="replace"))
        if not self.app.auth.token_matches((fields.get("token") or [""])[0].strip()):
            self._send_page(HTTPStatus.UNAUTHORIZED, codec_auth.sign_in_page("Wrong token."))
            return
        cookie = codec_auth.session_cookie(self.app.auth.new_session(), secure=self.app.secure)
        page = codec_auth.signed_in_page(self.app.url, self.app.ui_origins)
        self._send_page(HTTPStatus.OK, page, {"Set-Cookie": cookie})

    def _front_page(self) -> str:
        if not self.app.auth.required:
            return codec_auth.open_page()
        session = self._cookie(codec_auth.SESSION_COOKIE)
        if session is not None and self.app.auth.session_valid(session):
            return codec_auth.signed_in_page(self.app.url, self.app.ui_origins)
        return codec_auth.sign_in_page()

    def _cookie(self, name: str) -> str | None:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie", ""))
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None

    # -- responses --------------------------------------------------------------------------

    def _send_error(
        self, status: HTTPStatus, message: str, extra: dict[str, str] | None = None
    ) -> None:
        body = (json.dumps({"error": message}) + "\n").encode()
        self._send(status, body, "application/json", extra)

    def _send_page(
        self, status: HTTPStatus, page: str, extra: dict[str, str] | None = None
    ) -> None:
        headers = {**PAGE_HEADERS, **(extra or {})}
        self._send(status, page.encode(), "text/html; charset=utf-8", headers, cors=False)

    def _send(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        extra: dict[str, str] | None = None,
        *,
        cors: bool = True,
    ) -> None:
        headers = {**(self._cors_headers() if cors else {}), **(extra or {})}
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        # Decoded ticket data must not linger in a browser or proxy cache.
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _cors_headers(self) -> dict[str, str]:
        # Only ever for a configured Web UI origin, echoed exactly (never "*": credentials).
        origin = self.headers.get("Origin")
        if origin is None or origin not in self.app.ui_origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }

    # -- logging: method, path, status and namespace only -----------------------------------

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        status = code.value if isinstance(code, HTTPStatus) else code
        namespace = self.headers.get("X-Namespace", "-") if self.headers else "-"
        log.info(
            "%s %s %s -> %s (namespace %s)",
            self.client_address[0],
            self.command,
            urlsplit(self.path).path[:200],
            status,
            namespace[:100],
        )

    def log_message(self, format: str, *args: Any) -> None:
        log.warning("%s %s", self.client_address[0], format % args)
