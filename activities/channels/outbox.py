"""The channel outbox: a channel whose credentials are unset writes the request it would send
as a JSON file beside the email outbox's ``.eml`` files, so a laptop or a staging stack shows
exactly what Slack, PagerDuty, Teams or a receiver would get, and nothing leaves the host.

Secrets are never written: where a request would carry one (a routing key, a token, a webhook
URL, a signature) the file names where it would come from instead.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from activities.channels import pagerduty, slack, teams, webhook
from activities.channels.models import ChannelNotice
from activities.models import DeliveryResult
from activities.outbox import OutboxWriter, outbox_file_name
from policies.channels import (
    PagerDutySettings,
    SlackSettings,
    TeamsSettings,
    WebhookSettings,
)


def outbox_message_id(idempotency_key: str) -> str:
    """A stand-in for the provider's id (Slack's ``ts``), the same on every retry, so replies
    written later name the root they would thread under."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8", "surrogatepass")).hexdigest()
    return f"outbox-{digest[:16]}"


def describe_request(
    notice: ChannelNotice, link: str | None, *, slack_api_url: str, events_url: str
) -> dict[str, Any] | None:
    """The request a live channel would send (method, URL, headers, JSON body) with every
    secret replaced by where it is kept; None when the event sends nothing on this channel."""
    settings = notice.channel.settings
    if isinstance(settings, SlackSettings):
        call = slack.slack_request(notice, link)
        if call is None:
            return None
        method, params = call
        return {
            "method": "POST",
            "url": slack_api_url.rstrip("/") + "/" + method,
            "headers": {"Authorization": f"Bearer <{settings.token.describe()}>"},
            "body": params,
        }
    if isinstance(settings, PagerDutySettings):
        event = pagerduty.build_event(
            settings, notice, f"<{settings.routing_key.describe()}>", link
        )
        if event is None:
            return None
        url = events_url.rstrip("/") + pagerduty.ENQUEUE_PATH
        return {"method": "POST", "url": url, "headers": {}, "body": event}
    if isinstance(settings, TeamsSettings):
        if notice.event not in ("level", "test"):
            return None
        return {
            "method": "POST",
            "url": f"<{settings.webhook_url.describe()}>",
            "headers": {},
            "body": teams.build_message(notice, link),
        }
    assert isinstance(settings, WebhookSettings)
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "method": "POST",
        "url": settings.url or f"<${settings.url_env}>",
        "headers": {
            "webhook-id": webhook.webhook_id(notice),
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": f"v1,<signed with {settings.secret.describe()} when sent>",
        },
        "body": webhook.build_body(notice, link, now),
    }


class ChannelOutbox:
    """Writes channel requests as ``<key>.<kind>.json`` files into the outbox directory.

    Args:
        writer: The email outbox, whose directory and atomic writes this shares.
        slack_api_url: Shown as the URL of Slack requests.
        events_url: Shown as the URL of PagerDuty requests.
    """

    def __init__(self, writer: OutboxWriter, *, slack_api_url: str, events_url: str) -> None:
        self._writer = writer
        self._slack_api_url = slack_api_url
        self._events_url = events_url

    def write(self, notice: ChannelNotice, link: str | None, why: str) -> DeliveryResult:
        """Write the request (once per idempotency key) and say why it was not sent.

        Raises:
            ApplicationError: ``OutboxWriteFailed`` (retried) when the file cannot be written.
        """
        key = notice.notice.idempotency_key
        conversation = notice.channel.slack.channel if notice.channel.slack else None
        request = describe_request(
            notice, link, slack_api_url=self._slack_api_url, events_url=self._events_url
        )
        # The id status shows is the one the provider would have: PagerDuty's dedup_key, the
        # webhook-id; Slack's ts is not known until Slack answers, so a stand-in takes its place.
        message_id = outbox_message_id(key)
        if request is not None and notice.channel.pagerduty:
            message_id = request["body"]["dedup_key"]
        elif request is not None and notice.channel.webhook:
            message_id = request["headers"]["webhook-id"]
        if request is None:
            return DeliveryResult(
                status="skipped",
                provider="outbox",
                detail=f"a ticket {notice.event} sends nothing on {notice.channel.kind}",
            )
        stem = outbox_file_name(key).removesuffix(".eml")
        path = self._writer.directory / f"{stem}.{notice.channel.kind}.json"
        if not path.exists():
            document = {
                "channel": notice.name,
                "kind": notice.channel.kind,
                "event": notice.event,
                "idempotency_key": key,
                "not_sent_because": why,
                "request": request,
            }
            data = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
            self._writer.write_file(path, data.encode("utf-8", "replace"))
        return DeliveryResult(
            status="written",
            provider="outbox",
            message_id=message_id,
            conversation=conversation,
            detail=f"written to {path} ({why})",
        )
