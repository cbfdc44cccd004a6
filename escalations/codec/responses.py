"""Requests and answers of the codec server: bounded bodies, the headers every response
carries, JSON errors, and the HTML pages a browser signs in and out on."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from http import HTTPStatus

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from escalations.codec.auth import SESSION_COOKIE, SESSION_SECONDS

# Decoded ticket data must not linger in a browser or proxy cache.
COMMON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
}


def respond(
    status: HTTPStatus, body: bytes, content_type: str, extra: dict[str, str] | None = None
) -> Response:
    """A response with :data:`COMMON_HEADERS` and ``extra``."""
    headers = {**COMMON_HEADERS, **(extra or {})}
    return Response(body, status_code=status, media_type=content_type, headers=headers)


def error(status: HTTPStatus, message: str, extra: dict[str, str] | None = None) -> Response:
    """``{"error": message}`` as JSON."""
    body = (json.dumps({"error": message}) + "\n").encode()
    return respond(status, body, "application/json", extra)


def page(status: HTTPStatus, text: str, extra: dict[str, str] | None = None) -> Response:
    """An HTML page that may not be framed, run scripts or post anywhere but here."""
    return respond(
        status, text.encode(), "text/html; charset=utf-8", {**PAGE_HEADERS, **(extra or {})}
    )


async def read_body(
    request: Request, limit: int, extra: dict[str, str] | None = None
) -> bytes | Response:
    """The request body, or the error response (with ``extra`` headers) that says why not.

    A ``Content-Length`` is required (``411``), and one over ``limit`` is answered with
    ``413`` without reading the body: uvicorn discards the rest, until the connection's
    deadline closes it.
    """
    length_text = request.headers.get("content-length")
    if length_text is None:
        return error(HTTPStatus.LENGTH_REQUIRED, "send Content-Length", extra)
    length = int(length_text) if length_text.isascii() and length_text.isdigit() else -1
    if length < 0:
        return error(HTTPStatus.BAD_REQUEST, "bad Content-Length", extra)
    if length > limit:
        return error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is over {limit} bytes", extra)
    chunks: list[bytes] = []
    try:
        async for chunk in request.stream():
            chunks.append(chunk)
    except ClientDisconnect:
        return error(HTTPStatus.BAD_REQUEST, "the body ended early", extra)
    return b"".join(chunks)


def session_cookie(value: str, *, secure: bool) -> str:
    """The ``Set-Cookie`` value for a new session."""
    return (
        f"{SESSION_COOKIE}={value}; Max-Age={SESSION_SECONDS}; Path=/; HttpOnly; SameSite=Strict"
        + ("; Secure" if secure else "")
    )


def expired_cookie() -> str:
    """The ``Set-Cookie`` value that ends a session."""
    return f"{SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict"


def sign_in_page(message: str = "") -> str:
    """The form an operator pastes the token into."""
    note = f"<p><strong>{html.escape(message)}</strong></p>" if message else ""
    return _page(
        "Codec server sign-in",
        f"{note}<p>Paste the codec server token to let this browser decode ticket payloads "
        "in the Temporal Web UI.</p>"
        '<form method="post" action="/login">'
        '<input type="password" name="token" autocomplete="off" size="50" autofocus> '
        "<button>Sign in</button></form>",
    )


def signed_in_page(endpoint: str, ui_origins: Iterable[str]) -> str:
    """What to do next, once signed in."""
    origins = ", ".join(html.escape(origin) for origin in sorted(ui_origins))
    return _page(
        "Signed in",
        f"<p>This browser may now decode payloads for {origins} for "
        f"{SESSION_SECONDS // 3600} hours.</p>"
        "<p>In the Web UI's codec server settings, set the endpoint to "
        f"<code>{html.escape(endpoint)}</code> and turn on "
        "<em>include cross-origin credentials</em>.</p>"
        '<form method="post" action="/logout"><button>Sign out</button></form>',
    )


def open_page() -> str:
    """The front page when authentication is off."""
    return _page("Codec server", "<p>Authentication is off (loopback only).</p>")


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} · escalations codec server</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:3em auto}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
