"""What browsers may do with the codec server: which origins get CORS, and signing in and out.

Only the Web UI's origins (``--ui-origin``) get ``Access-Control-Allow-*`` headers, echoed
exactly and never ``*`` (the UI sends credentials). A browser request from any other origin is
refused with ``403`` before anything else happens.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from escalations.codec import responses
from escalations.codec.auth import SESSION_COOKIE, AttemptLimiter, CodecAuth

ALLOWED_HEADERS = "authorization, content-type, x-namespace"


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


class Origins:
    """The Web UI origins allowed to call the server from a browser.

    Args:
        ui_origins: Origins as given on the command line (normalized here).
    """

    def __init__(self, ui_origins: Iterable[str]) -> None:
        self.ui_origins = frozenset(normalize_origin(origin) for origin in ui_origins)

    def allowed(
        self, origin: str | None, *, required: bool = False, also: str | None = None
    ) -> bool:
        """Whether a request with this ``Origin`` header may go on.

        Requests without ``Origin`` come from the CLI or scripts, not from a browser page:
        allowed unless ``required`` (a preflight is only ever a browser's).
        """
        if origin is None:
            return not required
        return origin in self.ui_origins or origin == also

    def refusal(self, request: Request, also: str | None = None) -> Response | None:
        """A ``403`` for a browser request from a foreign origin, else None."""
        if self.allowed(request.headers.get("origin"), also=also):
            return None
        # No Access-Control-Allow-* headers: the browser shows the page nothing.
        return responses.error(HTTPStatus.FORBIDDEN, "origin not allowed")

    def cors_headers(self, origin: str | None) -> dict[str, str]:
        """The CORS headers for an answer to ``origin``: none unless it is the Web UI's."""
        if origin is None or origin not in self.ui_origins:
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true",
            "Vary": "Origin",
        }


class Preflight:
    """ASGI middleware: answers CORS preflights (``OPTIONS``, any path) for :class:`Origins`."""

    def __init__(self, app: ASGIApp, *, origins: Origins) -> None:
        self.app = app
        self.origins = origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        origin = request.headers.get("origin")
        if not self.origins.allowed(origin, required=True):
            response = responses.error(HTTPStatus.FORBIDDEN, "origin not allowed")
        else:
            extra = {
                **self.origins.cors_headers(origin),
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": "600",
            }
            if request.headers.get("access-control-request-private-network") == "true":
                # A Web UI on a public origin (Temporal Cloud) calling a codec server on loopback.
                extra["Access-Control-Allow-Private-Network"] = "true"
            response = responses.respond(HTTPStatus.NO_CONTENT, b"", "text/plain", extra)
        await response(scope, receive, send)


class SignIn:
    """The server's own pages: the front page, ``/login`` and ``/logout``.

    Args:
        auth: The token and the sessions.
        origins: Who may post the sign-in form (besides the server's own pages).
        attempts: Limits wrong tokens per client address.
        max_body: Largest sign-in form accepted, in bytes.
        secure: Served over HTTPS (the session cookie is then ``Secure``).
        public_url: The server's address, shown on the signed-in page.
    """

    def __init__(
        self,
        *,
        auth: CodecAuth,
        origins: Origins,
        attempts: AttemptLimiter,
        max_body: int,
        secure: bool,
        public_url: Callable[[], str],
    ) -> None:
        self.auth = auth
        self.origins = origins
        self.attempts = attempts
        self.max_body = max_body
        self.secure = secure
        self.public_url = public_url

    async def front_page(self, request: Request) -> Response:
        if not self.auth.required:
            return responses.page(HTTPStatus.OK, responses.open_page())
        session = request.cookies.get(SESSION_COOKIE)
        if session is not None and self.auth.session_valid(session):
            return responses.page(HTTPStatus.OK, self._signed_in_page())
        return responses.page(HTTPStatus.OK, responses.sign_in_page())

    async def login(self, request: Request) -> Response:
        if not self.auth.required:
            return responses.page(HTTPStatus.OK, responses.open_page())
        own_origin = f"{'https' if self.secure else 'http'}://{request.headers.get('host')}"
        refused = self.origins.refusal(request, also=own_origin)
        if refused is not None:
            return refused
        body = await responses.read_body(request, self.max_body)
        if isinstance(body, Response):
            return body
        client = request.client.host if request.client is not None else "-"
        wait = self.attempts.retry_after(client)
        if wait is not None:
            text = responses.sign_in_page(f"Too many attempts: try again in {wait} seconds.")
            return responses.page(HTTPStatus.TOO_MANY_REQUESTS, text, {"Retry-After": str(wait)})
        fields = parse_qs(body.decode("utf-8", errors="replace"))
        if not self.auth.token_matches((fields.get("token") or [""])[0].strip()):
            self.attempts.charge(client)
            return responses.page(HTTPStatus.UNAUTHORIZED, responses.sign_in_page("Wrong token."))
        cookie = responses.session_cookie(self.auth.new_session(), secure=self.secure)
        return responses.page(HTTPStatus.OK, self._signed_in_page(), {"Set-Cookie": cookie})

    async def logout(self, request: Request) -> Response:
        session = request.cookies.get(SESSION_COOKIE)
        if session is not None:
            self.auth.end_session(session)
        return responses.page(
            HTTPStatus.OK,
            responses.sign_in_page("Signed out."),
            {"Set-Cookie": responses.expired_cookie()},
        )

    def _signed_in_page(self) -> str:
        return responses.signed_in_page(self.public_url(), self.origins.ui_origins)
