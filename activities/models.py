"""Arguments and results of the activities: one pydantic model each, so fields can be added
without breaking tickets already running."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class LoadPolicyRequest(BaseModel):
    """Which policy a ticket runs under."""

    model_config = ConfigDict(extra="forbid")

    name: str


class Message(BaseModel):
    """The base of the ticket's contract models: an unknown key is an error that names it,
    rather than a value silently dropped."""

    model_config = ConfigDict(extra="forbid")


class TicketFields(Message):
    """The ticket's own fields, as they stand now (priority, team, assignee and impact change).

    Defined once: the workflow's state, its ``status`` and every notice carry these.
    """

    ticket_id: str
    title: str
    priority: str
    team: str
    customer: str
    requester: str
    assignee: str | None = None
    affected_users: int = 1
    critical_service: bool = False


class TicketSnapshot(TicketFields):
    """The ticket as it stood when a notification was sent."""

    # Notices already scheduled keep their recorded input: read it leniently.
    model_config = ConfigDict(extra="ignore")

    state: str
    opened_at: datetime


class ClockSnapshot(BaseModel):
    """One SLA clock as it stood when a notification was sent."""

    clock: str
    target: timedelta | None
    """None for a clock without a target (response-only targets)."""
    elapsed: timedelta
    due_at: datetime | None = None
    breached: bool
    stopped: bool
    timezone: str = "UTC"


class NotificationRequest(BaseModel):
    """One escalation notice to the recipients of one level firing.

    ``idempotency_key`` is the same for every retry of the same notice (and across worker
    restarts), so the provider side and the outbox can tell a retry from a new notice.
    """

    idempotency_key: str
    channel: str = "email"
    """``email``, or the name of the policy channel a channel notice goes to."""
    recipients: list[str] = Field(min_length=1)
    template_id: str | None = None
    level: str
    repeat: int = 0
    reason: str
    due_at: datetime
    ticket: TicketSnapshot
    clocks: list[ClockSnapshot] = []
    policy: str
    policy_version: str


class DeliveryResult(BaseModel):
    """What became of a notice: ``sent`` (accepted by the provider), ``written`` (to the
    outbox), or ``skipped`` (nothing to send for this event on this channel)."""

    status: Literal["sent", "written", "skipped"]
    provider: Literal["sendgrid", "outbox", "slack", "pagerduty", "teams", "webhook"]
    message_id: str | None = None
    """The provider's id: SendGrid's message id, Slack's ``ts``, PagerDuty's ``dedup_key``,
    the webhook's ``webhook-id``."""
    conversation: str | None = None
    """Slack only: the id of the channel the message went to (``chat.update`` needs it)."""
    detail: str | None = None
