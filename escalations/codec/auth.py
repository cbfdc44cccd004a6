"""Who may use the codec server: the shared token, its strength, browser sessions, guesses.

The Temporal Web UI cannot send a static token to a codec server; with "include cross-origin
credentials" on it sends cookies. So an operator signs in once on the codec server's own page
with the token, and gets a session cookie: a random id the server keeps until the session
expires or the operator signs out.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict

SESSION_COOKIE = "escalations_codec_session"
SESSION_SECONDS = 8 * 60 * 60
# More live sessions than operators will ever have; past it the oldest is ended first.
MAX_SESSIONS = 1_000
MIN_TOKEN_LENGTH = 32
# A random 32-character hex string has fewer than 8 distinct characters about once in
# 100,000 draws; a base64 one practically never.
MIN_TOKEN_DISTINCT = 8


class WeakToken(ValueError):
    """A token too short or too regular to stand between the network and the keys."""


def token_weakness(token: str) -> str | None:
    """Why ``token`` is too weak for the codec server, or None when it is strong enough.

    The message describes the rule it breaks, never the token.
    """
    if len(token) < MIN_TOKEN_LENGTH:
        return f"it has {len(token)} characters, fewer than {MIN_TOKEN_LENGTH}"
    if len(set(token)) < MIN_TOKEN_DISTINCT:
        return f"it has fewer than {MIN_TOKEN_DISTINCT} distinct characters"
    for period in range(1, len(token) // 2 + 1):
        if len(token) % period == 0 and token == token[:period] * (len(token) // period):
            return "it repeats a shorter string"
    return None


def generate_token() -> str:
    """A new random token: 32 random bytes, URL-safe base64 (43 characters)."""
    while True:
        token = secrets.token_urlsafe(32)
        if token_weakness(token) is None:
            return token


class CodecAuth:
    """Checks the token, and issues, checks and ends browser sessions.

    Sessions live in this process: a random id per sign-in, kept (as its SHA-256) until it
    expires or the operator signs out, so a cookie captured before signing out is worthless
    after it. A restart, and so a token change, ends every session.

    Args:
        token: The shared secret; None turns authentication off.

    Raises:
        WeakToken: the token breaks :func:`token_weakness`'s rules.
    """

    def __init__(self, token: str | None) -> None:
        if token is not None and (reason := token_weakness(token)) is not None:
            raise WeakToken(f"the codec server token is too weak: {reason}")
        # Compare digests of equal length: the comparison does not even leak the token's length.
        self._token_digest = _digest(token) if token is not None else None
        self._sessions: OrderedDict[bytes, float] = OrderedDict()

    def __repr__(self) -> str:
        return f"CodecAuth(required={self.required}, sessions={len(self._sessions)})"

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
        """Start a session that expires in :data:`SESSION_SECONDS`; its cookie value."""
        now = time.time() if now is None else now
        self._forget_expired(now)
        while len(self._sessions) >= MAX_SESSIONS:
            self._sessions.popitem(last=False)
        value = secrets.token_urlsafe(32)
        self._sessions[_digest(value)] = now + SESSION_SECONDS
        return value

    def session_valid(self, value: str, now: float | None = None) -> bool:
        """True for the value of a session this process started and has not ended."""
        expires = self._sessions.get(_digest(value))
        return expires is not None and expires > (time.time() if now is None else now)

    def end_session(self, value: str) -> None:
        """Sign out: the session's cookie is refused from now on."""
        self._sessions.pop(_digest(value), None)

    def _forget_expired(self, now: float) -> None:
        # Insertion order is expiry order: every session lives SESSION_SECONDS.
        while self._sessions and next(iter(self._sessions.values())) <= now:
            self._sessions.popitem(last=False)


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", errors="surrogateescape")).digest()


class AttemptLimiter:
    """A token bucket per client address for guesses of the token.

    Each client may make ``burst`` wrong guesses at once, then one more every
    ``refill_seconds``. Callers ask :meth:`retry_after` *before* checking a guess, and
    :meth:`charge` a wrong one, so that a client out of attempts learns nothing, not even
    whether its guess was right.

    Args:
        burst: Wrong guesses a client may make in a row.
        refill_seconds: Seconds to earn back one attempt.
        max_clients: Addresses tracked at once; past it the least recently seen is forgotten.
    """

    def __init__(
        self, burst: int = 5, refill_seconds: float = 12.0, max_clients: int = 10_000
    ) -> None:
        self.burst = burst
        self.refill_seconds = refill_seconds
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __repr__(self) -> str:
        return f"AttemptLimiter(burst={self.burst}, refill_seconds={self.refill_seconds})"

    def retry_after(self, client: str, now: float | None = None) -> int | None:
        """Whole seconds until ``client`` may guess again, or None if it may now."""
        tokens = self._tokens(client, time.monotonic() if now is None else now)
        if tokens >= 1:
            return None
        return max(1, math.ceil((1 - tokens) * self.refill_seconds))

    def charge(self, client: str, now: float | None = None) -> None:
        """Take one attempt from ``client`` for a wrong guess."""
        now = time.monotonic() if now is None else now
        self._buckets[client] = (max(0.0, self._tokens(client, now) - 1), now)
        self._buckets.move_to_end(client)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)

    def _tokens(self, client: str, now: float) -> float:
        if client not in self._buckets:
            return float(self.burst)
        tokens, then = self._buckets[client]
        return min(float(self.burst), tokens + (now - then) / self.refill_seconds)
