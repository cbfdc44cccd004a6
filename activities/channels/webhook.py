"""Signed webhooks: a versioned JSON event, signed per Standard Webhooks.

Headers: ``webhook-id`` is the notice's idempotency key, the same on every retry, so a receiver
drops duplicates by it; ``webhook-timestamp`` is the attempt's time (receivers refuse stale
ones, which stops replays); ``webhook-signature`` is ``v1,`` and the base64 HMAC-SHA256 of
``id.timestamp.body`` with the channel's ``whsec_`` secret, made by the ``standardwebhooks``
reference library. The body is ``{"type", "timestamp", "data"}``; ``data.schema_version`` says
which version of the fields it carries (docs/channels.md).

2xx is delivered; 429 waits for ``Retry-After``; 408 and 5xx back off; 410 (the receiver asks
to be disabled, per the specification) and other 4xx are rejections.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from standardwebhooks import Webhook

from activities.channels import content
from activities.channels.http import failure, post_json, rejected
from activities.channels.models import ChannelNotice
from activities.email_content import clean_field
from activities.models import DeliveryResult
from policies.channels import WebhookSettings

MAX_ID = 255
SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
"""Key sizes the Standard Webhooks specification allows."""


def webhook_id(notice: ChannelNotice) -> str:
    """The ``webhook-id``: the notice's idempotency key as one safe header value."""
    return clean_field(notice.notice.idempotency_key, MAX_ID)


def build_body(notice: ChannelNotice, link: str | None, now: datetime) -> dict[str, Any]:
    """The event: its ``type``, when it was sent, and the notice's data."""
    return {
        "type": content.EVENT_TYPES[notice.event],
        "timestamp": now.isoformat(),
        "data": content.event_data(notice, link),
    }


def sign(secret: str, message_id: str, moment: datetime, body: str) -> str:
    """The ``webhook-signature`` header for a body.

    Raises:
        ApplicationError: ``ChannelRejected`` when the secret is not a ``whsec_`` base64 key.
    """
    # The library takes the prefix as optional and skips characters that are not base64, so
    # a password pasted as the secret would sign with a key no receiver holds: check it here.
    # The secret itself is never shown.
    key = b""
    if secret.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error:
            key = b""
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise rejected(
            "the webhook secret is not a Standard Webhooks secret: whsec_ and the base64 of "
            f"{MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes"
        )
    return Webhook(key).sign(message_id, moment, body)


class WebhookSender:
    """Posts signed events to webhook receivers.

    Args:
        url_for: The receiver's URL for a channel's settings (from ``url`` or ``url_env``).
        secret_for: The signing secret for a channel's settings.
        clock: Current Unix time; injectable so signatures can be tested exactly.
    """

    def __init__(
        self,
        url_for: Callable[[WebhookSettings], str],
        secret_for: Callable[[WebhookSettings], str],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url_for = url_for
        self._secret_for = secret_for
        self._clock = clock

    def deliver(self, notice: ChannelNotice, link: str | None) -> DeliveryResult:
        """Sign and post the event.

        Raises:
            ApplicationError: ``ChannelRejected``, ``ChannelRateLimited``,
                ``ChannelUnavailable``, ``ChannelUnreachable``.
        """
        settings = notice.channel.webhook
        assert settings is not None, "dispatch sends only webhook channels here"
        url, secret = self._url_for(settings), self._secret_for(settings)
        now = datetime.fromtimestamp(int(self._clock()), UTC)
        text = json.dumps(build_body(notice, link, now), separators=(",", ":"))
        message_id = webhook_id(notice)
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign(secret, message_id, now, text),
        }
        secrets = [secret] + ([url] if settings.url_env else [])
        answer = post_json(url, text.encode(), headers, provider="webhook", secrets=secrets)
        if not 200 <= answer.status < 300:
            raise failure(answer, "webhook receiver", secrets=secrets)
        return DeliveryResult(
            status="sent",
            provider="webhook",
            message_id=message_id,
            detail=f"accepted (HTTP {answer.status})",
        )
