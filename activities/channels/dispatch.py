"""The ``send_channel_notice`` activity: one notice or ticket event through one named channel.

A channel whose secrets resolve is live; one whose secrets are unset writes to the outbox
instead (decided per notice, so setting a variable and restarting the worker makes a channel
live). Live sends go through the delivery ledger, so a notice a provider already accepted is
not sent again by a retry after a worker died mid-send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.channels.content import ticket_link
from activities.channels.models import ChannelNotice
from activities.channels.outbox import ChannelOutbox
from activities.channels.pagerduty import DEFAULT_EVENTS_URL, PagerDutySender
from activities.channels.secrets import SecretSource, SecretUnavailable
from activities.channels.slack import DEFAULT_API_URL, SlackSender
from activities.channels.teams import TeamsSender
from activities.channels.webhook import WebhookSender
from activities.delivery_ledger import DeliveryLedger, send_once
from activities.models import DeliveryResult
from activities.notifications import observe_delivery
from activities.outbox import OutboxWriter
from policies.channels import Channel, ChannelKind, SecretRef, WebhookSettings


class ChannelSender(Protocol):
    """What each provider module offers."""

    def deliver(self, notice: ChannelNotice, link: str | None) -> DeliveryResult:
        """Send, or raise ``ApplicationError`` saying whether to retry."""
        ...


@dataclass(frozen=True)
class ChannelEndpoints:
    """Where the providers are: their public APIs unless tests or a proxy say otherwise."""

    slack_api_url: str = DEFAULT_API_URL
    pagerduty_events_url: str = DEFAULT_EVENTS_URL
    web_ui_url: str | None = None
    """The Temporal Web UI, for a link to the ticket in every notice; None leaves it out."""


class ChannelActivities:
    """Owns the channel senders and exposes them to Temporal as ``send_channel_notice``.

    Synchronous (slack_sdk and urllib are), so the worker runs it on its thread pool.

    Args:
        outbox: Where channels without credentials write their requests.
        endpoints: The providers' addresses and the Web UI's.
        secrets: Reads the secrets channels name; the process environment by default.
        ledger: Accepted notices by idempotency key; None sends every attempt.
    """

    def __init__(
        self,
        outbox: OutboxWriter,
        endpoints: ChannelEndpoints | None = None,
        *,
        secrets: SecretSource | None = None,
        ledger: DeliveryLedger | None = None,
    ) -> None:
        self._endpoints = endpoints or ChannelEndpoints()
        self._secrets = secrets or SecretSource()
        self._ledger = ledger
        self._outbox = ChannelOutbox(
            outbox,
            slack_api_url=self._endpoints.slack_api_url,
            events_url=self._endpoints.pagerduty_events_url,
        )
        get = self._secrets.get
        self._senders: dict[ChannelKind, ChannelSender] = {
            "slack": SlackSender(lambda s: get(s.token), api_url=self._endpoints.slack_api_url),
            "pagerduty": PagerDutySender(
                lambda s: get(s.routing_key), events_url=self._endpoints.pagerduty_events_url
            ),
            "teams": TeamsSender(lambda s: get(s.webhook_url)),
            "webhook": WebhookSender(_webhook_url(get), lambda s: get(s.secret)),
        }

    @activity.defn(name="send_channel_notice")
    def send_channel_notice(self, notice: ChannelNotice) -> DeliveryResult:
        """Deliver one notice or ticket event through the channel it names.

        Args:
            notice: The notice; its ``idempotency_key`` is the same on every retry.

        Returns:
            ``sent`` with the provider's id (Slack ``ts``, PagerDuty ``dedup_key``, webhook
            id), ``written`` to the outbox, or ``skipped`` when the event sends nothing there.

        Raises:
            ApplicationError: ``ChannelRejected`` (permanent), ``ChannelRateLimited``,
                ``ChannelUnavailable``, ``ChannelUnreachable``, ``OutboxWriteFailed``.
        """
        info = activity.info()
        link = ticket_link(self._endpoints.web_ui_url, info.namespace, info.workflow_id)
        return observe_delivery(notice.notice, lambda: self.deliver(notice, link))

    def deliver(self, notice: ChannelNotice, link: str | None) -> DeliveryResult:
        """Send live, or write to the outbox when the channel's secrets are unset."""
        missing = self._secrets.available(notice.channel.secrets())
        if missing is not None:
            return self._outbox.write(notice, link, f"not live: {missing}")
        sender = self._senders[notice.channel.kind]

        def send() -> DeliveryResult:
            try:
                return sender.deliver(notice, link)
            except SecretUnavailable as err:  # removed between the check and the send
                raise ApplicationError(str(err), type=errors.SECRET_UNAVAILABLE) from None

        if self._ledger is None:
            return send()
        return send_once(self._ledger, notice.notice.idempotency_key, send)


def _webhook_url(get: Callable[[SecretRef], str]) -> Callable[[WebhookSettings], str]:
    def url_for(settings: WebhookSettings) -> str:
        if settings.url is not None:
            return settings.url
        return get(SecretRef(env=settings.url_env))

    return url_for


def channel_mode(channel: Channel, secrets: SecretSource | None = None) -> str:
    """``live``, or ``outbox (why)`` when a secret the channel needs is unavailable."""
    missing = (secrets or SecretSource()).available(channel.secrets())
    return "live" if missing is None else f"outbox ({missing})"


def channel_modes(
    channels: Iterable[tuple[str, str, Channel]], secrets: SecretSource | None = None
) -> list[str]:
    """One line per channel (``policy/name (kind): live`` or ``...: outbox (why)``), for the
    worker's start-up log."""
    return [
        f"{policy}/{name} ({channel.kind}): {channel_mode(channel, secrets)}"
        for policy, name, channel in channels
    ]
