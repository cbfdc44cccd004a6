"""Probes: notices that test a route rather than report a ticket, for ``escalations channels
test`` (one channel) and drills (every point of contact of a policy, :mod:`activities.drill`).

They carry a stand-in ticket, so each provider module renders them with the code that renders
real notices, and they are sent as the ``test`` event: PagerDuty gets an ``info`` alert that is
resolved at once, a webhook receiver a ``channel.test`` event with ``test: true``. A channel
test is headed ``[TEST]``; a drill, whose level is :data:`DRILL_LEVEL`, is headed ``[DRILL]``
and its title, and says who it tests and that nothing is asked beyond confirming receipt.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta

from activities.channels.models import ChannelNotice
from activities.email_content import (
    MAX_SUBJECT_LENGTH,
    RenderedEmail,
    clean_field,
    render_html,
    render_text,
)
from activities.models import NotificationRequest, TicketSnapshot
from policies.channels import Channel
from policies.model import Policy

DRILL_LEVEL = "drill"
"""The level of a drill's notices; what marks a test notice as a drill."""


def probe_request(
    policy: Policy,
    *,
    key: str,
    channel: str,
    recipients: list[str],
    level: str,
    reason: str,
    ticket_id: str,
    title: str,
    priority: str,
    team: str,
    requester: str,
    now: datetime,
) -> NotificationRequest:
    """A notice about a stand-in ticket of ``policy``, due ``now``; ``priority`` should be one
    of the policy's, so every renderer and provider that keys on it finds one it knows."""
    return NotificationRequest(
        idempotency_key=key,
        channel=channel,
        recipients=recipients,
        level=level,
        reason=reason,
        due_at=now,
        ticket=TicketSnapshot(
            ticket_id=ticket_id,
            title=title,
            priority=priority,
            team=team,
            customer="test",
            requester=requester,
            state="open",
            opened_at=now - timedelta(minutes=1),
        ),
        policy=policy.name,
        policy_version=policy.version,
    )


def probe_notice(name: str, channel: Channel, request: NotificationRequest) -> ChannelNotice:
    """``request`` as a test through the channel ``name``, keyed on its own idempotency key
    (so a test never touches a real ticket's PagerDuty alert or Slack thread)."""
    return ChannelNotice(
        name=name,
        channel=channel,
        event="test",
        ticket_key=request.idempotency_key,
        notice=request,
    )


def is_drill(request: NotificationRequest) -> bool:
    """Whether ``request`` is a drill's notice."""
    return request.level == DRILL_LEVEL


def drill_headline(request: NotificationRequest) -> str:
    """``[DRILL]`` and the drill's title: the subject of its email, the headline elsewhere."""
    return clean_field(f"[DRILL] {request.ticket.title}", MAX_SUBJECT_LENGTH)


def render_drill_email(request: NotificationRequest) -> RenderedEmail:
    """A drill's email: the headline as subject, then the reason, then the stand-in's facts."""
    subject = drill_headline(request)
    reason = clean_field(request.reason)
    text = f"{subject}\n\n{reason}\n\n{render_text(request)}"
    # The facts page keeps its own heading; the drill's two lines go first in the body.
    intro = f"<p><strong>{html.escape(subject)}</strong></p>\n<p>{html.escape(reason)}</p>\n"
    page = render_html(request).replace("<body>\n", f"<body>\n{intro}", 1)
    return RenderedEmail(subject=subject, text=text, html=page)
