"""``escalations codec-server``: decrypts payloads for the Temporal Web UI and CLI.

With encryption on, the server and its Web UI hold only ciphertext. An operator who may read
ticket data points the Web UI (or ``temporal --codec-endpoint``) at this server, which
implements Temporal's remote codec protocol: ``POST .../decode`` and ``POST .../encode`` with a
``temporal.api.common.v1.Payloads`` message as proto3 JSON, answered in kind.

Guard rails, because a decrypting endpoint is as sensitive as the keys behind it:

- It binds to loopback unless told otherwise.
- Every encode and decode call needs the token, as ``Authorization: Bearer <token>`` (CLI,
  scripts) or as the session cookie that signing in on the server's own page sets (the Web UI;
  see :mod:`escalations.codec.auth` and :mod:`escalations.codec.browser`). Wrong tokens are
  rate limited per client address.
- Browsers get CORS permission only from the configured Web UI origins; a request from any
  other origin is refused outright.
- Bodies, connections and the time a client may take are bounded (see
  :mod:`escalations.codec.serving`); tokens, cookies and payloads are never logged or echoed,
  and what is logged is escaped.

:func:`build_app` makes the Starlette app; :class:`CodecServer` serves it on uvicorn through
:class:`escalations.codec.serving.HttpServer`, which another HTTP endpoint can reuse.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
from collections.abc import Callable, Sequence
from http import HTTPStatus

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.api.common.v1 import Payload, Payloads

from escalations.codec import responses
from escalations.codec.auth import SESSION_COOKIE, AttemptLimiter, CodecAuth
from escalations.codec.browser import Origins, Preflight, SignIn, normalize_origin
from escalations.codec.serving import (
    DEFAULT_LIMITS,
    AccessLog,
    HttpServer,
    Limits,
    header_values,
)
from escalations.runtime.encryption import DecryptionError, EncryptionCodec

log = logging.getLogger("escalations.codec.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081
DEFAULT_UI_ORIGINS = ("http://127.0.0.1:8233", "http://localhost:8233")
MAX_BODY = 4 * 1024 * 1024
# Temporal namespace names: letters, digits, '-', '_' and '.' (Cloud: "<name>.<account>").
NAMESPACE = re.compile(r"[A-Za-z0-9._-]{1,255}")

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_UI_ORIGINS",
    "MAX_BODY",
    "CodecServer",
    "build_app",
    "normalize_origin",
]


def build_app(
    codec: EncryptionCodec,
    *,
    auth: CodecAuth,
    ui_origins: Sequence[str] = DEFAULT_UI_ORIGINS,
    max_body: int = MAX_BODY,
    secure: bool = False,
    attempts: AttemptLimiter | None = None,
    public_url: Callable[[], str] = lambda: "",
) -> ASGIApp:
    """The codec server as an ASGI app: routes, origin policy, namespace check, access log.

    Args:
        codec: Decrypts and encrypts the payloads.
        auth: The token and the sessions.
        ui_origins: Browser origins of the Web UI allowed to call it.
        max_body: Largest request body accepted, in bytes.
        secure: Served over HTTPS (the session cookie is then ``Secure``).
        attempts: Limits wrong tokens per client address; default 5, then one per 12 s.
        public_url: The server's address, shown on the signed-in page.
    """
    origins = Origins(ui_origins)
    attempts = attempts or AttemptLimiter()
    calls = _CodecCalls(codec, auth=auth, origins=origins, attempts=attempts, max_body=max_body)
    sign_in = SignIn(
        auth=auth,
        origins=origins,
        attempts=attempts,
        max_body=max_body,
        secure=secure,
        public_url=public_url,
    )
    app = Starlette(
        routes=[
            Route("/healthz", _health, methods=["GET"]),
            Route("/", sign_in.front_page, methods=["GET"]),
            Route("/login", sign_in.login, methods=["POST"]),
            Route("/logout", sign_in.logout, methods=["POST"]),
            # The protocol lets the endpoints sit at any depth (``/{namespace}/decode``).
            Route("/{path:path}", calls.handle, methods=["POST"]),
        ],
        middleware=[Middleware(Preflight, origins=origins)],
        exception_handlers={HTTPException: calls.not_found},
    )
    return AccessLog(_NamespaceCheck(app), logger=log, header=b"x-namespace", label="namespace")


async def _health(request: Request) -> Response:
    return responses.respond(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")


class _CodecCalls:
    """``POST .../decode`` and ``POST .../encode``."""

    def __init__(
        self,
        codec: EncryptionCodec,
        *,
        auth: CodecAuth,
        origins: Origins,
        attempts: AttemptLimiter,
        max_body: int,
    ) -> None:
        self.codec = codec
        self.auth = auth
        self.origins = origins
        self.attempts = attempts
        self.max_body = max_body

    async def handle(self, request: Request) -> Response:
        action = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if action not in {"decode", "encode"}:
            return await self.not_found(request)
        refused = self.origins.refusal(request) or self._refuse_caller(request)
        if refused is not None:
            return refused
        cors = self.origins.cors_headers(request.headers.get("origin"))
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            return responses.error(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send Content-Type: application/json", cors
            )
        body = await responses.read_body(request, self.max_body, cors)
        if isinstance(body, Response):
            return body
        apply = self.codec.decrypt if action == "decode" else self.codec.encrypt
        # Parsing and AES-GCM over up to max_body bytes: off the event loop.
        status, text = await run_in_threadpool(_transform, body, apply)
        if status != HTTPStatus.OK:
            return responses.error(status, text, cors)
        return responses.respond(HTTPStatus.OK, text.encode(), "application/json", cors)

    async def not_found(self, request: Request, exc: Exception | None = None) -> Response:
        # Routing's 404 and 405 alike: only the routes above exist, in their one method.
        cors = self.origins.cors_headers(request.headers.get("origin"))
        return responses.error(HTTPStatus.NOT_FOUND, "not found", cors)

    def _refuse_caller(self, request: Request) -> Response | None:
        if not self.auth.required:
            return None
        cors = self.origins.cors_headers(request.headers.get("origin"))
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            client = request.client.host if request.client is not None else "-"
            # Asked before the token is checked: a client out of attempts learns nothing.
            wait = self.attempts.retry_after(client)
            if wait is not None:
                return responses.error(
                    HTTPStatus.TOO_MANY_REQUESTS,
                    f"too many wrong tokens: try again in {wait} seconds",
                    {**cors, "Retry-After": str(wait)},
                )
            if self.auth.token_matches(credentials.strip()):
                return None
            self.attempts.charge(client)
        session = request.cookies.get(SESSION_COOKIE)
        if session is not None and self.auth.session_valid(session):
            return None
        return responses.error(
            HTTPStatus.UNAUTHORIZED,
            "missing or wrong token: send Authorization: Bearer <token>",
            {**cors, "WWW-Authenticate": 'Bearer realm="escalations-codec"'},
        )


def _transform(body: bytes, apply: Callable[[Payload], Payload]) -> tuple[HTTPStatus, str]:
    try:
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("expected a JSON object with a payloads list")
        payloads = json_format.ParseDict(document, Payloads())
    except (ValueError, json_format.ParseError) as exc:
        reason = str(exc)[:200]
        return (
            HTTPStatus.BAD_REQUEST,
            f"the body is not a Payloads message in proto3 JSON: {reason}",
        )
    try:
        result = Payloads(payloads=[apply(payload) for payload in payloads.payloads])
    except DecryptionError as exc:
        return HTTPStatus.BAD_REQUEST, str(exc)
    return HTTPStatus.OK, json_format.MessageToJson(result, indent=None)


class _NamespaceCheck:
    """ASGI middleware: ``400`` for an ``X-Namespace`` that is no Temporal namespace name.

    The header is logged, and the protocol passes it on to codecs that pick keys by namespace:
    only a name goes through, never an escape sequence or a second line.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            values = header_values(scope, b"x-namespace")
            if values and (len(values) > 1 or not NAMESPACE.fullmatch(values[0])):
                response = responses.error(
                    HTTPStatus.BAD_REQUEST,
                    "X-Namespace must be one Temporal namespace name: letters, digits, "
                    "'-', '_' and '.', at most 255",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class CodecServer:
    """The codec server on uvicorn: :func:`build_app` behind :class:`HttpServer`.

    Args:
        codec: Decrypts and encrypts the payloads.
        token: The shared secret callers must present; None turns authentication off (the
            CLI allows that only on loopback).
        ui_origins: Browser origins of the Web UI allowed to call it.
        host: Interface to bind.
        port: Port to bind; 0 picks a free one (see :attr:`url`).
        max_body: Largest request body accepted, in bytes.
        tls: Serve HTTPS with this context (the session cookie is then ``Secure``).
        limits: Connection and time bounds.
        attempts: Limits guesses of the token per client address.

    Raises:
        WeakToken: the token is too weak (see :func:`escalations.codec.auth.token_weakness`).
        OSError: the address cannot be bound.
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
        limits: Limits = DEFAULT_LIMITS,
        attempts: AttemptLimiter | None = None,
    ) -> None:
        self.codec = codec
        self.auth = CodecAuth(token)
        self.ui_origins = Origins(ui_origins).ui_origins
        self.secure = tls is not None
        app = build_app(
            codec,
            auth=self.auth,
            ui_origins=sorted(self.ui_origins),
            max_body=max_body,
            secure=self.secure,
            attempts=attempts,
            public_url=lambda: self.url,
        )
        self._http = HttpServer(app, host=host, port=port, tls=tls, limits=limits)

    def __repr__(self) -> str:
        auth = "token" if self.auth.required else "none"
        return f"CodecServer(url={self.url!r}, auth={auth}, ui_origins={sorted(self.ui_origins)})"

    @property
    def url(self) -> str:
        """Where it listens, e.g. ``http://127.0.0.1:8081``."""
        return self._http.url

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop_serving` is called."""
        self._http.serve_forever()

    def stop_serving(self) -> None:
        """Make :meth:`serve_forever` return once requests in flight are done.

        Safe from another thread and from a signal handler.
        """
        self._http.stop_serving()

    def serve_until_signalled(self) -> None:
        """Serve until SIGTERM or SIGINT (see :meth:`HttpServer.serve_until_signalled`)."""
        self._http.serve_until_signalled()

    def close(self) -> None:
        """Close the listening socket (once :meth:`serve_forever` has returned)."""
        self._http.close()

    def __enter__(self) -> CodecServer:
        """Serve in a background thread until the ``with`` block ends."""
        self._http.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.stop()
