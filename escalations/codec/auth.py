"""Who may use the codec server: the shared token, browser sessions, and the sign-in pages.

The Temporal Web UI cannot send a static token to a codec server; with "include cross-origin
credentials" on it sends cookies. So an operator signs in once on the codec server's own page
with the token, and gets a session cookie derived from it.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import time
from collections.abc import Iterable

SESSION_COOKIE = "escalations_codec_session"
SESSION_SECONDS = 8 * 60 * 60


class CodecAuth:
    """Checks the token and issues and checks session cookies.

    Sessions are stateless: ``<expiry>.<HMAC-SHA256 of the expiry under the token>``, so a
    restart keeps them, and changing the token ends all of them.

    Args:
        token: The shared secret; None turns authentication off.
    """

    def __init__(self, token: str | None) -> None:
        # Compare digests of equal length: the comparison does not even leak the token's length.
        self._token_digest = _digest(token) if token is not None else None
        self._session_key = token.encode() if token is not None else None

    def __repr__(self) -> str:
        return f"CodecAuth(required={self.required})"

    @property
    def required(self) -> bool:
        """False only when authentication is off."""
        return self._token_digest is not None

    def token_matches(self, candidate: str) -> bool:
        """Constant-time comparison with the token."""
        if self._token_digest is None:
            return False
        return hmac.compare_digest(_digest(candidate), self._token_digest)

    def new_session(self, now: float | None = None) -> str:
        """A session cookie value that expires in :data:`SESSION_SECONDS`."""
        expires = int((time.time() if now is None else now) + SESSION_SECONDS)
        return f"{expires}.{self._session_mac(expires)}"

    def session_valid(self, value: str) -> bool:
        """True for an unexpired value :meth:`new_session` made under the same token."""
        expires_text, _, mac = value.partition(".")
        if self._session_key is None or not (expires_text.isascii() and expires_text.isdigit()):
            return False
        expires = int(expires_text)
        expected = self._session_mac(expires).encode()
        return expires > time.time() and hmac.compare_digest(mac.encode(), expected)

    def _session_mac(self, expires: int) -> str:
        assert self._session_key is not None
        message = f"escalations codec session {expires}".encode()
        return hmac.new(self._session_key, message, hashlib.sha256).hexdigest()


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", errors="surrogateescape")).digest()


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
