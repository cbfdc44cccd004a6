"""The public contract of the ``TicketEscalation`` workflow: its input, updates and status.

Other services depend on these names and shapes, and any Temporal client can send them as plain
JSON. Each model forbids unknown keys, so a misspelt field is an error that names it rather
than a silently dropped value.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field, model_validator

from activities.models import Message, TicketFields
from policies.calendar import CalendarSet
from policies.emails import EmailAddress, unique_ignoring_case
from policies.model import PriorityName, Slug
from policies.plan_match import DEFAULT_PLAN
from policies.zones import zone
from workflows.ticket_channels import ChannelState
from workflows.ticket_outcome import Reopen
from workflows.ticket_state import EscalationRecord, PolicyMigration, TicketState, TicketStateName
from workflows.ticket_timeline import HelpdeskEvent

# \Z, not $: "$" also matches before a trailing newline, which would let "T-1\n" through.
_TICKET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
# C0 and C1 controls (the C1 range holds NEL and the 8-bit terminal escape CSI); tab and
# newline are handled by each type. Unicode's own line and paragraph separators break lines too.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LINE_BREAK = re.compile(r"[\n\r\u2028\u2029]")

MAX_TITLE = 500
MAX_TEXT = 2_000


def _ticket_id(value: str) -> str:
    if not _TICKET_ID.match(value):
        raise ValueError(
            f"{value[:80]!r} must be 1-64 letters, digits, '.', '_', ':' or '-', starting with a "
            "letter or digit (it becomes the workflow id ticket-<ticket_id>)"
        )
    return value


def _one_line(value: str) -> str:
    if _LINE_BREAK.search(value) or _CONTROL.search(value):
        raise ValueError("must be a single line without control characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


TicketId = Annotated[str, AfterValidator(_ticket_id)]
OneLine = Annotated[str, AfterValidator(_one_line)]
Text = Annotated[str, AfterValidator(_no_control)]

MAX_TAGS = 30
MAX_ATTRIBUTES = 20
# Letters of any script, digits and a little punctuation: what Zendesk tags, Jira labels and
# GitHub labels (spaces aside) are made of, and nothing that breaks a log line or a filter.
_TAG = re.compile(r"^\w[\w:./+-]{0,63}\Z")
_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")


def _tag(value: str) -> str:
    if not _TAG.match(value):
        raise ValueError(
            f"{value[:80]!r} must be 1-64 letters, digits, '_', ':', '.', '/', '+' or '-', "
            "starting with a letter or digit (no spaces)"
        )
    return value


def _attribute_name(value: str) -> str:
    if not _ATTRIBUTE_NAME.match(value):
        raise ValueError(
            f"{value[:80]!r} must be 1-64 lowercase letters, digits or '_', starting with a "
            "letter (such as customer_tier)"
        )
    return value


Tag = Annotated[str, AfterValidator(_tag)]
"""A ticket tag, such as ``vip``; SLA plans may be chosen by them."""
# Plans compare tags ignoring case, so "VIP" and "vip" are one tag: the first is kept.
Tags = Annotated[list[Tag], AfterValidator(unique_ignoring_case), Field(max_length=MAX_TAGS)]
AttributeName = Annotated[str, AfterValidator(_attribute_name)]
"""A ticket attribute's name, such as ``customer_tier``, ``ticket_type`` or ``channel``."""
AttributeValue = Annotated[OneLine, Field(max_length=200)]


def workflow_id_for(ticket_id: str) -> str:
    """The workflow id of a ticket: part of the public contract."""
    return f"ticket-{ticket_id}"


class TicketInput(Message):
    """Opens a ticket: the ``TicketEscalation`` workflow's only argument."""

    ticket_id: TicketId
    title: OneLine = Field(max_length=MAX_TITLE)
    priority: PriorityName
    team: Slug
    customer: OneLine = Field(max_length=200)
    requester: EmailAddress
    assignee: EmailAddress | None = None
    affected_users: int = Field(default=1, ge=0, le=1_000_000_000)
    critical_service: bool = False
    policy: Slug = "default"
    opened_at: AwareDatetime | None = None
    tags: Tags = Field(
        default_factory=list,
        description=f"Up to {MAX_TAGS} tags, such as vip; the policy's SLA plans may be chosen "
        "by them.",
    )
    attributes: dict[AttributeName, AttributeValue] = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        description=f"Up to {MAX_ATTRIBUTES} named values, such as customer_tier: gold, "
        "ticket_type or channel; the policy's SLA plans may be chosen by them.",
    )
    continued: TicketState | None = Field(
        default=None,
        description="Internal: state carried across continue-as-new. Never set by callers.",
    )


class _Timed(Message):
    at: AwareDatetime | None = Field(
        default=None,
        description="When it really happened, if it reaches us late. Not in the future, not "
        "before the ticket opened.",
    )


class AcknowledgeRequest(_Timed):
    """A first response reached the customer: stops the first-response clock."""

    by: OneLine = Field(max_length=200)


class ResolveRequest(_Timed):
    """The ticket is solved: stops every clock and ends its escalations."""

    by: OneLine = Field(max_length=200)
    note: Text | None = Field(default=None, max_length=MAX_TEXT)


class PauseRequest(Message):
    """Waiting on the customer: clocks stop counting and escalations are held."""

    reason: OneLine = Field(max_length=500)


class ResumeRequest(Message):
    """The customer answered: clocks count again and escalations re-arm."""


class CustomerRepliedRequest(_Timed):
    """A customer message: starts the next-reply clock unless one already runs, and resumes a
    ticket paused waiting on the customer."""


class AgentRepliedRequest(_Timed):
    """An agent's public reply: stops the next-reply clock (and the first-response clock if
    this is the first response)."""

    by: OneLine = Field(max_length=200)


class ChangePriorityRequest(Message):
    """Re-target the clocks on another priority, keeping the time already elapsed."""

    priority: PriorityName


class UpdateAttributesRequest(Message):
    """New tags or attributes; when they choose another SLA plan, the clocks that still count
    move onto its targets, keeping the business time already elapsed."""

    tags: Tags | None = Field(
        default=None, description="The ticket's tags from now on (replaces them all)."
    )
    attributes: dict[AttributeName, AttributeValue | None] = Field(
        default_factory=dict,
        max_length=MAX_ATTRIBUTES,
        description="Attributes to set; null removes one. Others keep their values.",
    )

    @model_validator(mode="after")
    def _something(self) -> UpdateAttributesRequest:
        if self.tags is None and not self.attributes:
            raise ValueError("give tags, attributes or both")
        return self


class UpdateImpactRequest(Message):
    """New figures for the ticket's impact; impact triggers fire as soon as they hold."""

    affected_users: int | None = Field(default=None, ge=0, le=1_000_000_000)
    critical_service: bool | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateImpactRequest:
        if self.affected_users is None and self.critical_service is None:
            raise ValueError("give affected_users, critical_service or both")
        return self


class ReassignRequest(Message):
    """Hand the ticket to another assignee, team or both."""

    assignee: EmailAddress | None = None
    team: Slug | None = None

    @model_validator(mode="after")
    def _something(self) -> ReassignRequest:
        if self.assignee is None and self.team is None:
            raise ValueError("give assignee, team or both")
        return self


class ReportEventRequest(Message):
    """A helpdesk's report of what happened on the ticket at ``at`` (the webhook intake sends
    these). Reports count in the order of their ``at``s whatever order they arrive in: one that
    does not apply at its time (``active`` while the ticket was not waiting) is kept, and takes
    effect if an earlier report arrives that makes it apply. ``waiting`` pauses, ``active``
    resumes a paused ticket or reopens a resolved one, ``solved`` resolves, and the first
    ``agent_replied`` is the first response."""

    event: HelpdeskEvent
    at: AwareDatetime = Field(description="When it happened, by the helpdesk's clock.")
    by: OneLine | None = Field(default=None, max_length=200)
    source: Slug = Field(description="The helpdesk that reported it (zendesk, jira, ...).")


class FeedbackRequest(_Timed):
    """The customer's rating of a resolved ticket (CSAT), during its feedback window."""

    csat: int = Field(ge=1, le=5, description="1 (very dissatisfied) to 5 (very satisfied)")
    comment: Text | None = Field(default=None, max_length=MAX_TEXT)


class ReopenRequest(_Timed):
    """A resolved ticket needs more work: its resolution clock and escalations resume."""

    by: OneLine = Field(max_length=200)
    reason: OneLine = Field(max_length=500)


class MigratePolicyRequest(Message):
    """Move an open ticket onto the current version of its policy file. Tickets otherwise keep
    the version they opened with; ``to_version`` must name the version the file now has, so a
    migration never lands on a version nobody reviewed for it."""

    to_version: OneLine = Field(min_length=1, max_length=64)
    by: OneLine = Field(max_length=200)
    reason: OneLine = Field(max_length=500)


class ClockStatus(Message):
    """One SLA clock as the ``status`` query shows it. Times are business time on
    ``calendar``; ``due_at`` is UTC and ``due_at_local`` the same instant in the calendar's
    zone. A target in working days shows as the business time it came to when the clock
    started; ``target`` and ``remaining`` are None for a clock without a target (the resolution
    clock of response-only targets), which is never due and never breaches."""

    target: timedelta | None
    calendar: str
    timezone: str = "UTC"
    elapsed: timedelta
    remaining: timedelta | None
    due_at: datetime | None
    due_at_local: datetime | None = None
    breached: bool
    started: bool = True
    running: bool
    stopped_at: datetime | None


class TicketStatus(TicketFields):
    """What the ``status`` query and every update return: the ticket's fields, then the rest."""

    policy: str
    policy_version: str
    plan: str = DEFAULT_PLAN
    """The SLA plan whose targets the clocks count against."""
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)
    state: TicketStateName
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    paused_reason: str | None
    paused_at: datetime | None = None
    clocks: dict[str, ClockStatus]
    next_reply_cycles: int = 0
    next_reply_breaches: int = 0
    held_notices: int = 0
    current_level: str | None
    next_escalation_at: datetime | None
    next_escalation_level: str | None
    escalations: list[EscalationRecord]
    reopens: list[Reopen] = Field(default_factory=list)
    csat: int | None = None
    feedback_comment: str | None = None
    feedback_closes_at: datetime | None = None
    policy_migrations: list[PolicyMigration] = Field(default_factory=list)
    channels: dict[str, ChannelState] = Field(default_factory=dict)
    """Each channel a notice reached: its Slack thread and the last state change sent."""


def build_status(state: TicketState, now: datetime, calendars: CalendarSet) -> TicketStatus:
    """The ``status`` view of a ticket's state at ``now``."""
    clocks: dict[str, ClockStatus] = {}
    for name, clock in state.clocks.items():
        end = clock.stopped_at or now
        elapsed = clock.elapsed(end, calendars)
        due_at = clock.due_at(calendars)
        timezone = calendars[clock.calendar].timezone
        clocks[name.value] = ClockStatus(
            target=clock.target,
            calendar=clock.calendar,
            timezone=timezone,
            elapsed=elapsed,
            remaining=None if clock.target is None else max(clock.target - elapsed, timedelta(0)),
            due_at=due_at.astimezone(UTC) if due_at else None,
            due_at_local=due_at.astimezone(zone(timezone)) if due_at else None,
            breached=clock.breached(end, calendars),
            started=clock.started,
            running=clock.running,
            stopped_at=clock.stopped_at,
        )
    wake = state.next_wake(now, calendars, levels_only=True)
    f = state.fields
    return TicketStatus(
        ticket_id=f.ticket_id,
        title=f.title,
        priority=f.priority,
        team=f.team,
        customer=f.customer,
        requester=f.requester,
        assignee=f.assignee,
        affected_users=f.affected_users,
        critical_service=f.critical_service,
        policy=state.policy.name,
        policy_version=state.policy.version,
        plan=state.plan,
        tags=list(state.tags),
        attributes=dict(state.attributes),
        state=state.state,
        opened_at=state.opened_at,
        acknowledged_at=state.acknowledged_at,
        acknowledged_by=state.acknowledged_by,
        resolved_at=state.resolved_at,
        resolved_by=state.resolved_by,
        resolution_note=state.resolution_note,
        paused_reason=state.paused_reason,
        paused_at=state.paused_at,
        clocks=clocks,
        next_reply_cycles=state.next_reply_cycles,
        next_reply_breaches=state.next_reply_breaches,
        held_notices=sum(1 for record in state.escalations if record.held),
        current_level=state.current_level(),
        next_escalation_at=wake.at if wake else None,
        next_escalation_level=wake.name if wake else None,
        escalations=list(state.escalations),
        reopens=list(state.reopens),
        csat=state.csat,
        feedback_comment=state.feedback_comment,
        feedback_closes_at=feedback_closes_at(state),
        policy_migrations=list(state.policy_migrations),
        channels=dict(state.channels),
    )


def feedback_closes_at(state: TicketState) -> datetime | None:
    """When a resolved ticket's feedback window ends (it takes feedback and reopens until then)."""
    if not state.resolved or state.resolved_at is None:
        return None
    return state.resolved_at + state.policy.feedback_window
