"""PagerDuty Events API v2: one alert per ticket and service, acknowledged and resolved with
the ticket, so PagerDuty never pages for a ticket someone already handles.

Plain HTTP rather than the ``pagerduty`` package: its client retries inside the call (sleeping
a worker thread through PagerDuty's back-off) where the workflow's retry policy must decide,
and the Events API is one JSON POST.

Every event of a ticket carries the same ``dedup_key`` (derived from the ticket), so a retried
trigger folds into the open alert instead of paging twice, and ``acknowledge``/``resolve``
find it. Answers: 202 accepted; 400 an invalid event (permanent); 429 and 5xx retried.
"""

from __future__ import annotations

import json
from typing import Any

from activities.channels import content
from activities.channels.http import failure, post_json, rejected
from activities.channels.models import ChannelNotice
from activities.email_content import clean_field
from activities.models import DeliveryResult
from policies.channels import PagerDutySettings, Severity, severity_for

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
ENQUEUE_PATH = "/v2/enqueue"
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
_CLIENT = "helpdesk-escalations"
_ACTIONS = {
    "level": "trigger",
    "test": "trigger",
    "acknowledged": "acknowledge",
    "resolved": "resolve",
}


def dedup_key(notice: ChannelNotice) -> str:
    """The alert's key: the ticket's id and the key its notices share, at most 255
    characters. A test uses its own key, so it never touches a real ticket's alert."""
    if notice.event == "test":
        return clean_field(notice.notice.idempotency_key, MAX_DEDUP_KEY)
    ticket = clean_field(notice.notice.ticket.ticket_id, 150)
    return f"{ticket}:{clean_field(notice.ticket_key, MAX_DEDUP_KEY - len(ticket) - 1)}"


def severity(settings: PagerDutySettings, notice: ChannelNotice) -> Severity:
    """The policy's severity for the ticket's priority, else the default by its rank."""
    if notice.event == "test":
        return "info"
    return severity_for(settings, notice.notice.ticket.priority, notice.severity_rank)


def build_event(
    settings: PagerDutySettings, notice: ChannelNotice, routing_key: str, link: str | None
) -> dict[str, Any] | None:
    """The Events v2 body for the notice, or None when the event means nothing to PagerDuty
    (a pause or a resume: an open alert stays as it is)."""
    action = _ACTIONS.get(notice.event)
    if action is None:
        return None
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(notice),
    }
    if action != "trigger":
        return event
    payload: dict[str, Any] = {
        "summary": clean_field(content.headline(notice), MAX_SUMMARY),
        "source": clean_field(f"helpdesk/{notice.notice.ticket.team}", 255),
        "severity": severity(settings, notice),
        "timestamp": notice.notice.due_at.isoformat(),
        "class": clean_field(notice.notice.level, 255),
        "custom_details": content.event_data(notice, link),
    }
    if settings.component:
        payload["component"] = settings.component
    if settings.group:
        payload["group"] = settings.group
    event["payload"] = payload
    event["client"] = _CLIENT
    if link:
        event["client_url"] = link
        event["links"] = [{"href": link, "text": "The ticket in the Temporal Web UI"}]
    return event


class PagerDutySender:
    """Sends Events v2 events for notices.

    Args:
        routing_key_for: The routing key for a channel's settings (raises ``SecretUnavailable``).
        events_url: The Events API base; tests point it at a loopback fake.
    """

    def __init__(
        self,
        routing_key_for: Any,
        *,
        events_url: str = DEFAULT_EVENTS_URL,
    ) -> None:
        self._routing_key_for = routing_key_for
        self._url = events_url.rstrip("/") + ENQUEUE_PATH

    def deliver(self, notice: ChannelNotice, link: str | None) -> DeliveryResult:
        """Trigger, acknowledge or resolve the ticket's alert.

        Raises:
            ApplicationError: ``ChannelRejected`` for 4xx but 408/429, ``ChannelRateLimited``,
                ``ChannelUnavailable``, ``ChannelUnreachable``.
        """
        settings = notice.channel.pagerduty
        assert settings is not None, "dispatch sends only pagerduty channels here"
        routing_key = self._routing_key_for(settings)
        event = build_event(settings, notice, routing_key, link)
        if event is None:
            return DeliveryResult(
                status="skipped",
                provider="pagerduty",
                message_id=dedup_key(notice),
                detail=f"a ticket {notice.event} changes nothing in PagerDuty",
            )
        result = self._send(event, routing_key)
        if notice.event == "test":
            # A test pages nobody for long: the alert is resolved as soon as it was accepted.
            self._send({**_key_only(event), "event_action": "resolve"}, routing_key)
        return result

    def _send(self, event: dict[str, Any], routing_key: str) -> DeliveryResult:
        body = json.dumps(event, separators=(",", ":")).encode()
        answer = post_json(self._url, body, {}, provider="PagerDuty", secrets=[routing_key])
        if not 200 <= answer.status < 300:
            raise failure(answer, "PagerDuty", secrets=[routing_key])
        data = answer.json()
        if not isinstance(data, dict):
            raise rejected(f"PagerDuty answered HTTP {answer.status} without JSON")
        return DeliveryResult(
            status="sent",
            provider="pagerduty",
            message_id=str(data.get("dedup_key") or event["dedup_key"]),
            detail=f"{event['event_action']} accepted (HTTP {answer.status})",
        )


def _key_only(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event[k] for k in ("routing_key", "dedup_key")}
