"""The ``send_channel_notice`` activity's argument: one notice or ticket event for one channel."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from activities.models import NotificationRequest
from policies.channels import Channel

ChannelEvent = Literal["level", "acknowledged", "paused", "resumed", "resolved", "reopened", "test"]
"""What a channel notice says: a level fired (``level``), the ticket changed state, or an
operator's ``escalations channels test``."""


class SlackThread(BaseModel):
    """Where a ticket's Slack thread is: the channel's id and the root message's ``ts``."""

    conversation: str
    ts: str


class ChannelNotice(BaseModel):
    """One notice (a level firing) or ticket event for one named channel.

    ``notice.idempotency_key`` is the same for every retry of this notice on this channel.
    ``ticket_key`` is the same for every notice of the ticket (its PagerDuty alert is keyed on
    it); ``thread`` is the ticket's Slack thread on this channel once its root was posted.
    """

    name: str
    channel: Channel
    event: ChannelEvent = "level"
    notice: NotificationRequest
    ticket_key: str
    thread: SlackThread | None = None
    severity_rank: int = 0
    """The ticket's priority's rank in its policy (0 for the most urgent), for PagerDuty."""
