"""The ``send_notification`` activity: one escalation notice to its recipients.

Where the notice goes is decided once, when the worker starts: SendGrid when an API key is
configured, otherwise the ``.eml`` outbox. The workflow does not know or care which.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pydantic import TypeAdapter, ValidationError
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.delivery_ledger import DeliveryLedger, LedgeredBackend
from activities.email_content import single_line
from activities.models import DeliveryResult, NotificationRequest
from activities.outbox import OutboxWriter
from activities.sendgrid_email import DEFAULT_HOST, SendGridSender
from policies.emails import EmailAddress
from workflows.ticket_metrics import DELIVERIES, DELIVERY_FAILURES

_ADDRESS: TypeAdapter[str] = TypeAdapter(EmailAddress)


class EmailBackend(Protocol):
    """Anything that can deliver a rendered notice (SendGrid, the outbox, a test double)."""

    def deliver(self, request: NotificationRequest) -> DeliveryResult:
        """Deliver one notice, or raise ``ApplicationError`` saying whether to retry."""
        ...


class NotificationActivities:
    """Owns the email backend and exposes it to Temporal as ``send_notification``.

    The activity is synchronous (the sendgrid client is), so the worker must run it on a
    thread-pool ``activity_executor``.

    Args:
        backend: Where notices go.
    """

    def __init__(self, backend: EmailBackend) -> None:
        self._backend = backend

    @property
    def backend(self) -> EmailBackend:
        """The backend notices are delivered through."""
        return self._backend

    @activity.defn(name="send_notification")
    def send_notification(self, request: NotificationRequest) -> DeliveryResult:
        """Deliver one escalation notice.

        Args:
            request: The notice; ``idempotency_key`` is the same on every retry.

        Returns:
            What became of it: ``sent`` through SendGrid or ``written`` to the outbox.

        Raises:
            ApplicationError: non-retryable ``InvalidRecipient`` when an address is not one;
                otherwise whatever the backend raises (see ``SendGridSender.deliver``).
        """

        def send() -> DeliveryResult:
            _check_recipients(request.recipients)
            return self._backend.deliver(request)

        return observe_delivery(request, send)


def observe_delivery(
    request: NotificationRequest, send: Callable[[], DeliveryResult]
) -> DeliveryResult:
    """Run ``send`` for one notice, counting and logging its outcome with the notice's ticket,
    level, policy, priority and channel (email or the channel's name)."""
    ticket = single_line(request.ticket.ticket_id)[:100]
    level = single_line(request.level)[:100]
    channel = single_line(request.channel)[:100]
    extra = {
        "ticket_id": ticket,
        "escalation_level": level,
        "policy": single_line(request.policy)[:100],
        "priority": single_line(request.ticket.priority)[:100],
        "channel": channel,
    }
    meter = activity.metric_meter()
    failures = meter.create_counter(
        DELIVERY_FAILURES, "Failed attempts to deliver a notice (retried or not)"
    )
    try:
        result = send()
    except ApplicationError as err:
        failures.add(
            1,
            {
                "channel": channel,
                "error_type": err.type or "unknown",
                "permanent": "true" if err.non_retryable else "false",
            },
        )
        activity.logger.warning(
            "notice for ticket %s level %s via %s failed: %s (%s)",
            ticket,
            level,
            channel,
            err.type,
            "permanent" if err.non_retryable else "will retry",
            extra=extra,
        )
        raise
    except Exception as err:
        # A bug rather than a provider's answer: the SDK logs it and retries.
        failures.add(
            1, {"channel": channel, "error_type": type(err).__name__, "permanent": "false"}
        )
        raise
    meter.create_counter(DELIVERIES, "Notices delivered (sent or written)").add(
        1, {"channel": channel, "provider": result.provider}
    )
    activity.logger.info(
        "notice for ticket %s level %s via %s %s by %s (id %s)",
        ticket,
        level,
        channel,
        result.status,
        result.provider,
        result.message_id,
        extra=extra,
    )
    return result


def _check_recipients(recipients: list[str]) -> None:
    # The workflow sends addresses from validated policies, but a bad one must fail once,
    # clearly, rather than be retried against SendGrid or break the outbox's headers.
    for address in recipients:
        try:
            _ADDRESS.validate_python(address)
        except ValidationError as err:
            reason = err.errors()[0]["msg"]
            raise ApplicationError(
                f"cannot send to recipient: {reason}",
                type=errors.INVALID_RECIPIENT,
                non_retryable=True,
            ) from None


def build_notification_activities(
    api_key: str | None,
    sendgrid_host: str | None,
    from_address: str,
    outbox_dir: Path,
    delivery_ledger: Path | None = None,
    *,
    sandbox: bool = False,
) -> NotificationActivities:
    """Build the activities from worker configuration.

    Args:
        api_key: SendGrid API key; ``None`` or blank selects the outbox.
        sendgrid_host: SendGrid API base URL; ``None`` means SendGrid's own.
        from_address: The sender of every notice (a verified sender for SendGrid).
        outbox_dir: Where ``.eml`` files go when there is no API key.
        delivery_ledger: The SQLite file recording notices SendGrid accepted, so a retry
            after a worker died mid-send is not sent twice; ``None`` sends every attempt.
            The outbox needs none: its file names already come from the idempotency key.
        sandbox: SendGrid's sandbox mode (validated, not delivered).

    Raises:
        ValueError: when ``from_address`` is not a plain email address.
    """
    _ADDRESS.validate_python(from_address)
    key = (api_key or "").strip()
    backend: EmailBackend
    if key:
        backend = SendGridSender(
            key, from_address, host=sendgrid_host or DEFAULT_HOST, sandbox=sandbox
        )
        if delivery_ledger is not None:
            backend = LedgeredBackend(backend, DeliveryLedger(delivery_ledger))
    else:
        backend = OutboxWriter(outbox_dir, from_address)
    return NotificationActivities(backend)
