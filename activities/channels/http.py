"""One JSON POST over HTTPS with the standard library, and what its answer means for a retry.

PagerDuty, Teams and webhook receivers take a JSON body and answer with a status; nothing more
is needed than ``urllib``. Every failure leaves as an ``ApplicationError`` whose type the
workflow's retry policy reads: rejections are permanent, rate limits wait for ``Retry-After``,
5xx and network failures back off.
"""

from __future__ import annotations

import http.client
import json
import math
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from temporalio.exceptions import ApplicationError

from activities import errors
from activities.channels.secrets import redact
from activities.email_content import clean_field

DEFAULT_TIMEOUT_SECONDS = 10.0
MIN_RETRY_DELAY = timedelta(seconds=1)
MAX_RETRY_DELAY = timedelta(minutes=15)
MAX_ANSWER_BYTES = 64 * 1024
_MAX_ERROR_TEXT = 500
USER_AGENT = "helpdesk-escalations/0.1"


@dataclass(frozen=True)
class Answer:
    """A provider's answer: status, headers (names lower-cased) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def text(self) -> str:
        """The body as one bounded, cleaned line, for error messages."""
        return clean_field(self.body.decode("utf-8", "replace"), _MAX_ERROR_TEXT) or "no body"


def post_json(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    provider: str,
    secrets: Iterable[str] = (),
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Answer:
    """POST ``body`` (already-encoded JSON) and return the answer, whatever its status.

    Redirects are not followed: a notice goes where the policy says, or fails.

    Raises:
        ApplicationError: ``ChannelUnreachable`` (retried) when no answer came; the message
            never contains ``secrets`` (a Teams URL carries its signature).
    """
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(MAX_ANSWER_BYTES),
            )
    except urllib.error.HTTPError as err:
        with err:
            raw = err.read(MAX_ANSWER_BYTES)
        return Answer(err.code, {k.lower(): v for k, v in (err.headers or {}).items()}, raw)
    except (OSError, http.client.HTTPException, ValueError) as err:
        # URLError, refused connections, timeouts and broken answers; the URL may be a secret.
        message = redact(f"{provider} unreachable: {type(err).__name__}: {err}", [url, *secrets])
        raise ApplicationError(message, type=errors.CHANNEL_UNREACHABLE) from None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def retry_after(headers: Mapping[str, str], clock: Callable[[], float] = time.time) -> timedelta:
    """The wait a 429 or 503 asks for (``Retry-After`` in seconds or as an HTTP date), bounded;
    one second when it gives none."""
    raw = (headers.get("retry-after") or "").strip()
    seconds: float
    try:
        seconds = float(raw)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(raw).timestamp() - clock()
        except (TypeError, ValueError, IndexError):
            seconds = MIN_RETRY_DELAY.total_seconds()
    if not math.isfinite(seconds):
        seconds = MIN_RETRY_DELAY.total_seconds()
    low, high = MIN_RETRY_DELAY.total_seconds(), MAX_RETRY_DELAY.total_seconds()
    return timedelta(seconds=min(max(seconds, low), high))


def failure(answer: Answer, provider: str, *, secrets: Iterable[str] = ()) -> ApplicationError:
    """The ``ApplicationError`` for a non-2xx answer: 429 waits for ``Retry-After``, 408 and
    5xx back off, every other status is a rejection no retry can fix."""
    # Secrets are removed before the text is cut: cut first, half a key could survive the cut.
    raw = answer.body.decode("utf-8", "replace")
    text = clean_field(redact(raw, secrets), _MAX_ERROR_TEXT) or "no body"
    status = answer.status
    if status == 429:
        delay = retry_after(answer.headers)
        return ApplicationError(
            f"{provider} rate limit reached (HTTP 429); retrying in "
            f"{int(delay.total_seconds())}s: {text}",
            status,
            type=errors.CHANNEL_RATE_LIMITED,
            next_retry_delay=delay,
        )
    if status >= 500 or status == 408:
        return ApplicationError(
            f"{provider} unavailable (HTTP {status}): {text}",
            status,
            type=errors.CHANNEL_UNAVAILABLE,
            next_retry_delay=retry_after(answer.headers)
            if "retry-after" in answer.headers
            else None,
        )
    return rejected(f"{provider} rejected the notice (HTTP {status}): {text}", status)


def rejected(message: str, *details: Any) -> ApplicationError:
    """A permanent failure: recorded on the ticket, and the ladder goes on."""
    return ApplicationError(message, *details, type=errors.CHANNEL_REJECTED, non_retryable=True)
