"""What a channel notice says, shared by every provider: the headline, the facts, the clocks
and the JSON view webhooks and PagerDuty carry. Pure functions; every value from the ticket is
cleaned (:mod:`activities.email_content`) before a provider module formats it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from activities.channels.models import ChannelEvent, ChannelNotice
from activities.email_content import (
    clean_field,
    clock_row,
    overview_rows,
    render_subject,
    template_data,
)
from activities.probes import drill_headline, is_drill

WEBHOOK_SCHEMA_VERSION = 1
"""The version of the webhook body's ``data`` (docs/channels.md): fields are only added within
a version; a removal or a change of meaning is a new version."""

EVENT_TYPES: dict[ChannelEvent, str] = {
    "level": "escalation.fired",
    "acknowledged": "ticket.acknowledged",
    "paused": "ticket.paused",
    "resumed": "ticket.resumed",
    "resolved": "ticket.resolved",
    "reopened": "ticket.reopened",
    "test": "channel.test",
}
"""The webhook ``type`` of each event."""

_EVENT_WORDS: dict[ChannelEvent, str] = {
    "acknowledged": "acknowledged",
    "paused": "paused (waiting on the customer)",
    "resumed": "resumed",
    "resolved": "resolved",
    "reopened": "reopened (its clocks and escalations run again)",
    "test": "TEST: a test of this channel; no action needed",
}


def headline(notice: ChannelNotice) -> str:
    """One line: ``[P1] T-1042 Checkout down: response-breached``, or the ticket's new state
    for an event (``... : acknowledged``), or a test marker (``[TEST]``, a drill's ``[DRILL]``)."""
    if notice.event == "test" and is_drill(notice.notice):
        return clean_field(drill_headline(notice.notice), 200)
    subject = render_subject(notice.notice)
    if notice.event == "test":
        return clean_field(f"[TEST] {subject}", 200)
    if notice.event == "level":
        return subject
    ticket = notice.notice.ticket
    prefix = f"[{clean_field(ticket.priority, 40)}] {clean_field(ticket.ticket_id, 40)}"
    suffix = f": {_EVENT_WORDS[notice.event]}"
    title = clean_field(ticket.title, max(200 - len(prefix) - len(suffix) - 1, 0))
    return clean_field(f"{prefix} {title}{suffix}", 200)


def status_line(notice: ChannelNotice) -> str:
    """What the reader should know first: why the level fired, what changed, or (a drill) who
    it tests and what is asked of them."""
    if notice.event == "level":
        return clean_field(f"Level {notice.notice.level} fired: {notice.notice.reason}", 500)
    if notice.event == "test" and is_drill(notice.notice):
        return clean_field(notice.notice.reason, 500)
    return clean_field(f"Ticket {_EVENT_WORDS[notice.event]}", 500)


def facts(notice: ChannelNotice) -> list[tuple[str, str]]:
    """The labelled facts of the ticket, cleaned, in reading order."""
    return overview_rows(notice.notice)


def clock_lines(notice: ChannelNotice) -> list[str]:
    """One line per running or stopped clock, due times in the calendar's own zone."""
    return [
        f"{row['clock']}: due {row['due_at']} (target {row['target']}, elapsed "
        f"{row['elapsed']}){' BREACHED' if row['breached'] == 'yes' else ''}"
        f"{' stopped' if row['stopped'] == 'yes' else ''}"
        for row in map(clock_row, notice.notice.clocks)
    ]


def ticket_link(web_ui_url: str | None, namespace: str, workflow_id: str | None) -> str | None:
    """The ticket's page in the Temporal Web UI, or None without a UI address."""
    if not web_ui_url or not workflow_id:
        return None
    base = web_ui_url.rstrip("/")
    return f"{base}/namespaces/{quote(namespace, safe='')}/workflows/{quote(workflow_id, safe='')}"


def event_data(notice: ChannelNotice, link: str | None) -> dict[str, Any]:
    """The JSON view of a notice: what a webhook's ``data`` and PagerDuty's
    ``custom_details`` carry."""
    data = template_data(notice.notice)
    data.pop("subject", None)
    return {
        "schema_version": WEBHOOK_SCHEMA_VERSION,
        "event": notice.event,
        "idempotency_key": clean_field(notice.notice.idempotency_key, 500),
        "channel": notice.name,
        "test": notice.event == "test",
        **data,
        "link": link,
    }


def iso(moment: datetime) -> str:
    """An aware time as ISO 8601."""
    return moment.isoformat()
