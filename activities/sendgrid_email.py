"""Sending notices through SendGrid's v3 ``mail/send`` API.

The ``sendgrid`` client is synchronous (urllib) and raises ``python_http_client`` exceptions
and ``urllib.error.URLError``. Those do not survive Temporal's failure conversion faithfully,
so every failure leaves this module as an ``ApplicationError`` whose ``type`` says what to do:
``SendGridRejected`` is permanent (fix the key, sender or request), the others are retried.
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sendgrid
from python_http_client.exceptions import HTTPError
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.email_content import clean_field, render_email, template_data
from activities.models import DeliveryResult, NotificationRequest
from policies.emails import unique_ignoring_case

DEFAULT_HOST = "https://api.sendgrid.com"
DEFAULT_TIMEOUT_SECONDS = 10.0
"""Per request; the sendgrid client has no timeout of its own and would hang a worker thread."""

MIN_RATE_LIMIT_DELAY = timedelta(seconds=1)
MAX_RATE_LIMIT_DELAY = timedelta(minutes=15)

# Statuses that no retry can fix: bad request, bad key, key without permission, unknown
# endpoint, body too large.
_PERMANENT_STATUSES = frozenset({400, 401, 403, 404, 413})
_MAX_ERROR_TEXT = 500
_MAX_CATEGORY = 255
_MAX_CUSTOM_ARG = 1000

# python_http_client logs every request's headers at DEBUG, Authorization included. Keep that
# logger above DEBUG so turning on debug logging elsewhere can never write the API key out.
logging.getLogger("python_http_client.client").setLevel(logging.INFO)


class SendGridSender:
    """Owns a ``SendGridAPIClient`` and turns notices into ``mail/send`` calls.

    Safe to share between the threads of a thread-pool activity executor: each call builds its
    own request objects and the client keeps no per-call state.

    Args:
        api_key: The SendGrid API key; never written to a message or log by this class.
        from_address: The verified sender every notice comes from.
        host: The API base URL; tests point it at a loopback fake.
        timeout: Seconds to wait for SendGrid on one request.
        clock: Current Unix time; injectable so rate-limit delays can be tested exactly.
        sandbox: SendGrid's sandbox mode: every request is validated and nothing is delivered
            (staging environments).
    """

    def __init__(
        self,
        api_key: str,
        from_address: str,
        *,
        host: str = DEFAULT_HOST,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
        sandbox: bool = False,
    ) -> None:
        if not api_key:
            # The sendgrid client would quietly fall back to $SENDGRID_API_KEY instead.
            raise ValueError("a SendGrid API key is required; leave it unset to use the outbox")
        self._api_key = api_key
        self._from_address = from_address
        self._clock = clock
        self._sandbox = sandbox
        self._client = sendgrid.SendGridAPIClient(api_key, host=host)
        self._client.client.timeout = timeout

    def build_body(self, request: NotificationRequest) -> dict[str, Any]:
        """The ``mail/send`` JSON body for a notice.

        One personalization per recipient, so no recipient sees the others' addresses. With a
        ``template_id`` the body still carries subject and content, because SendGrid lets a
        template's own subject and content override them and a template without them falls
        back to ours.
        """
        rendered = render_email(request)
        level = clean_field(request.level, _MAX_CATEGORY)
        personalization_extra: dict[str, Any] = {}
        if request.template_id:
            personalization_extra["dynamic_template_data"] = template_data(request)
        body: dict[str, Any] = {
            "personalizations": [
                {"to": [{"email": address}], **personalization_extra}
                for address in unique_ignoring_case(request.recipients)
            ],
            "from": {"email": self._from_address},
            "subject": rendered.subject,
            "content": [
                {"type": "text/plain", "value": rendered.text},
                {"type": "text/html", "value": rendered.html},
            ],
            "custom_args": {
                "ticket_id": clean_field(request.ticket.ticket_id, _MAX_CUSTOM_ARG),
                "level": level,
                "idempotency_key": clean_field(request.idempotency_key, _MAX_CUSTOM_ARG),
                "repeat": str(request.repeat),
            },
            "categories": unique_ignoring_case(["escalation", level]),
        }
        if request.template_id:
            body["template_id"] = request.template_id
        return body

    def deliver(self, request: NotificationRequest) -> DeliveryResult:
        """Post the notice to SendGrid.

        Returns:
            ``status="sent"`` with SendGrid's ``X-Message-Id`` when it answered 2xx.

        Raises:
            ApplicationError: ``SendGridRejected`` (non-retryable) for 400/401/403/404/413;
                ``SendGridRateLimited`` for 429, with ``next_retry_delay`` from
                ``X-RateLimit-Reset`` when given; ``SendGridUnavailable`` for 5xx and other
                HTTP errors; ``SendGridUnreachable`` for network failures and timeouts.
        """
        return self.post(self.build_body(request))

    def post(self, body: dict[str, Any]) -> DeliveryResult:
        """Post a ``mail/send`` body; raises as :meth:`deliver` does."""
        if self._sandbox:
            settings = {**body.get("mail_settings", {}), "sandbox_mode": {"enable": True}}
            body = {**body, "mail_settings": settings}
        try:
            response = self._client.client.mail.send.post(request_body=body)
        except HTTPError as err:
            raise self._http_failure(err) from None
        except (OSError, http.client.HTTPException) as err:
            # URLError, refused connections, socket timeouts and broken responses all land
            # here; the cause is dropped (from None) because it does not convert cleanly.
            raise ApplicationError(
                self._redact(f"SendGrid unreachable: {type(err).__name__}: {err}"),
                type=errors.SENDGRID_UNREACHABLE,
            ) from None
        message_id = response.headers.get("X-Message-Id")
        sandbox = "; sandbox mode: validated, not delivered" if self._sandbox else ""
        return DeliveryResult(
            status="sent",
            provider="sendgrid",
            message_id=str(message_id) if message_id else None,
            detail=f"HTTP {response.status_code}{sandbox}",
        )

    def _http_failure(self, err: HTTPError) -> ApplicationError:
        status = int(err.status_code)
        reasons = self._redact(_error_text(err.body))
        if status in _PERMANENT_STATUSES:
            return ApplicationError(
                f"SendGrid rejected the notice (HTTP {status}): {reasons}",
                status,
                type=errors.SENDGRID_REJECTED,
                non_retryable=True,
            )
        if status == 429:
            delay = self._rate_limit_delay(err.headers)
            after = f"; retrying in {int(delay.total_seconds())}s" if delay else ""
            return ApplicationError(
                f"SendGrid rate limit reached (HTTP 429){after}: {reasons}",
                status,
                type=errors.SENDGRID_RATE_LIMITED,
                next_retry_delay=delay,
            )
        return ApplicationError(
            f"SendGrid unavailable (HTTP {status}): {reasons}",
            status,
            type=errors.SENDGRID_UNAVAILABLE,
        )

    def _rate_limit_delay(self, headers: Any) -> timedelta | None:
        raw = headers.get("X-RateLimit-Reset") if headers is not None else None
        try:
            reset = float(str(raw).strip())
        except ValueError:
            return None
        if not math.isfinite(reset):
            return None
        seconds = reset - self._clock()
        low, high = MIN_RATE_LIMIT_DELAY.total_seconds(), MAX_RATE_LIMIT_DELAY.total_seconds()
        return timedelta(seconds=min(max(seconds, low), high))

    def _redact(self, text: str) -> str:
        # SendGrid does not echo keys, but a proxy or a future error format might; the key
        # must never reach workflow history, where failure messages are stored for good.
        return text.replace(self._api_key, "[redacted]")


def _error_text(body: bytes | str | None) -> str:
    """SendGrid's ``{"errors": [{"message", "field"}]}`` as one bounded line, else the raw body."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        errors = json.loads(raw)["errors"]
        text = "; ".join(
            f"{e['field']}: {e['message']}" if e.get("field") else str(e.get("message"))
            for e in errors
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        text = raw
    return clean_field(text, _MAX_ERROR_TEXT) or "no details given"
