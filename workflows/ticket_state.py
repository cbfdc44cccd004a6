"""A ticket's whole state and the pure rules that change it.

The workflow owns one :class:`TicketState`, mutates it only through these methods (each takes
``now`` from the workflow), and carries it unchanged through continue-as-new. Keeping the rules
here, free of Temporal, lets them be tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from activities.models import DeliveryResult, Message, TicketFields
from policies.calendar import CalendarSet, builtin_calendars, policy_calendars
from policies.clock import SlaClock
from policies.ladder import (
    LevelProgress,
    Liveness,
    TicketFacts,
    condition_since,
    condition_uses_clock,
    next_fire_at,
)
from policies.model import ClockName, Level, Policy, Targets
from policies.plan_match import DEFAULT_PLAN, PlanFacts, select_plan
from policies.working_days import clock_target
from workflows.ticket_channels import EMAIL, ChannelState, split_contacts
from workflows.ticket_outcome import (
    ClockOutcome,
    Pause,
    Reopen,
    TicketOutcome,
    escalation_counts,
    paused_seconds,
)
from workflows.ticket_timeline import (
    TABLE_CHANGES,
    HelpdeskEvent,
    TimelineEvent,
    calendars_in_force,
    facts_history,
    in_at_order,
    targets_before,
)

# What a refold rebuilds: the clocks and every field the clock rules set.
_CLOCK_FIELDS = (
    "clocks",
    "state",
    "acknowledged_at",
    "acknowledged_by",
    "resolved_at",
    "resolved_by",
    "paused_reason",
    "paused_at",
    "next_reply_cycles",
    "next_reply_breaches",
    "last_customer_reply_at",
    "last_agent_reply_at",
    "pauses",
    "reopens",
)

# A pause this soon after a customer message is flagged in reports: the customer had just
# answered, so waiting on them is doubtful.
PAUSE_AFTER_REPLY = timedelta(minutes=5)


class TicketStateName(StrEnum):
    """Where a ticket stands. Also the ``SlaState`` search attribute."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    PAUSED = "paused"
    RESOLVED = "resolved"


class Delivery(Message):
    """The fate of one notice: pending while the activity runs or retries."""

    status: Literal["pending", "held", "sent", "written", "failed", "skipped", "cancelled"]
    provider: str | None = None
    message_id: str | None = None
    detail: str | None = None

    @classmethod
    def from_result(cls, result: DeliveryResult) -> Delivery:
        """The delivery a successful activity reports."""
        return cls(
            status=result.status,
            provider=result.provider,
            message_id=result.message_id,
            detail=result.detail,
        )


class EscalationRecord(Message):
    """One firing of one level (its first notice or a repeat)."""

    level: str
    repeat: int
    due_at: datetime
    fired_at: datetime
    reason: str
    channel: str
    recipients: list[str]
    delivery: Delivery
    actions: list[str] = Field(default_factory=list)
    part: int = 0
    cycle: int = 0
    held_until: datetime | None = None

    @property
    def held(self) -> bool:
        """Whether the notice waits for its recipients' quiet hours to end."""
        return self.delivery.status == "held"


class PolicyMigration(Message):
    """One move of an open ticket onto a newer version of its policy (an operator's choice)."""

    at: datetime
    by: str
    reason: str
    from_version: str
    to_version: str


@dataclass(frozen=True)
class Wake:
    """What the ticket waits for next, and when."""

    at: datetime
    kind: Literal["level", "held", "breach"]
    name: str
    """The level (``level``, ``held``) or the clock (``breach``)."""

    def describe(self) -> str:
        """``level major-incident``, ``held manager notice``, ``resolution breach``: the name of
        the timer in the Web UI."""
        if self.kind == "level":
            return f"level {self.name}"
        if self.kind == "held":
            return f"held {self.name} notice"
        return f"{self.name} breach"


class DueLevel(BaseModel):
    """A level that should notify now."""

    index: int
    level: Level
    due_at: datetime
    repeat: int


class TicketState(Message):
    """Everything a ticket's workflow knows; serialisable, so continue-as-new carries it."""

    fields: TicketFields
    policy: Policy
    opened_at: datetime
    notice_key: str
    state: TicketStateName = TicketStateName.OPEN
    clocks: dict[ClockName, SlaClock]
    progress: dict[str, LevelProgress] = Field(default_factory=dict)
    escalations: list[EscalationRecord] = Field(default_factory=list)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None
    paused_reason: str | None = None
    paused_at: datetime | None = None
    next_reply_cycles: int = 0
    next_reply_breaches: int = 0
    last_customer_reply_at: datetime | None = None
    last_agent_reply_at: datetime | None = None
    pauses: list[Pause] = Field(default_factory=list)
    reopens: list[Reopen] = Field(default_factory=list)
    csat: int | None = None
    feedback_comment: str | None = None
    feedback_at: datetime | None = None
    policy_migrations: list[PolicyMigration] = Field(default_factory=list)
    timeline: list[TimelineEvent] | None = None
    """Every event that moved the clocks or the facts, in arrival order. None on tickets opened
    before it was kept: they keep the older rules (a late event is applied where the ticket
    stands, repeats as :func:`policies.ladder._legacy_next` places them)."""
    reply_cycle: int = 0
    """The next-reply cycle the notices of next-reply levels belong to (their idempotency key):
    it only grows, even when a late event changes how many cycles the clock counts."""
    reply_cycle_start: datetime | None = None
    """When the cycle numbered ``reply_cycle`` started."""
    channels: dict[str, ChannelState] = Field(default_factory=dict)
    """What the ticket keeps of each channel a notice reached (its Slack thread)."""
    channel_events: int = 0
    """State changes sent to channels so far: numbers their idempotency keys."""
    plan: str = DEFAULT_PLAN
    """The SLA plan whose targets the clocks count against (see :mod:`policies.plan_match`)."""
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def open(
        cls,
        fields: TicketFields,
        policy: Policy,
        opened_at: datetime,
        notice_key: str,
        *,
        in_at_order: bool = True,
        tags: list[str] | None = None,
        attributes: dict[str, str] | None = None,
    ) -> TicketState:
        """A new ticket whose clocks started at ``opened_at``, on the first of ``policy``'s
        plans that its customer, ``tags`` and ``attributes`` match.

        ``in_at_order`` keeps the event timeline (late events honoured, repeats on their grid);
        the workflow turns it off only to replay tickets opened before those rules.
        """
        tags, attributes = list(tags or []), dict(attributes or {})
        plan = select_plan(policy, PlanFacts(fields.customer, tags, attributes), opened_at)
        targets = policy.plan_targets(plan)[fields.priority]
        clocks = {
            name: SlaClock(
                target=clock_target(targets, name, opened_at, policy), calendar=targets.calendar
            )
            for name in ClockName
        }
        # The next-reply clock starts with the first customer message after the first response.
        clocks[ClockName.FIRST_RESPONSE].start(opened_at)
        clocks[ClockName.RESOLUTION].start(opened_at)
        opening = TimelineEvent(
            kind="open",
            at=opened_at,
            priority=fields.priority,
            team=fields.team,
            affected_users=fields.affected_users,
            critical_service=fields.critical_service,
        )
        return cls(
            fields=fields,
            policy=policy,
            opened_at=opened_at,
            notice_key=notice_key,
            clocks=clocks,
            progress={level.name: LevelProgress() for level in policy.levels},
            timeline=[opening] if in_at_order else None,
            plan=plan,
            tags=tags,
            attributes=attributes,
        )

    @property
    def resolved(self) -> bool:
        """Whether the ticket is resolved."""
        return self.state is TicketStateName.RESOLVED

    @property
    def paused(self) -> bool:
        """Whether the ticket waits on the customer."""
        return self.state is TicketStateName.PAUSED

    def facts(self) -> TicketFacts:
        """The fields that conditions test."""
        f = self.fields
        return TicketFacts(
            priority=f.priority,
            team=f.team,
            customer=f.customer,
            affected_users=f.affected_users,
            critical_service=f.critical_service,
        )

    # -- updates ---------------------------------------------------------------------------
    #
    # Each update is an event. In order (its ``at`` no earlier than any event already known) it
    # is applied to the state as it stands; late, it is inserted in the timeline and every
    # clock is folded again from the opening, so the clocks read as if the events had arrived
    # in the order of their ``at``s. What the ticket already did (notices sent, escalation
    # records) is not undone.

    def acknowledge(self, by: str, at: datetime) -> None:
        """A first response at ``at``: stops the first-response clock. Of two, the earlier wins
        (with the timeline; without it, the first to arrive)."""
        self._record(TimelineEvent(kind="acknowledge", at=at, by=by))

    def resolve(self, by: str, at: datetime, note: str | None) -> None:
        """Stop every clock at ``at``; escalations end and held notices are dropped."""
        # The note stays out of the timeline: it moves no clock, and up to 2,000 characters per
        # resolve would weigh on every continue-as-new input.
        self._record(TimelineEvent(kind="resolve", at=at, by=by))
        self.resolution_note = note
        for i, record in enumerate(self.escalations):
            if record.held:
                self.escalations[i] = record.model_copy(
                    update={
                        "delivery": Delivery(
                            status="cancelled", detail="resolved before quiet hours ended"
                        )
                    }
                )

    def reopen(self, by: str, at: datetime, reason: str) -> None:
        """A resolved ticket needs more work: its resolution clock counts again from ``at``
        (the time it spent resolved counts nothing) and its escalations resume."""
        self._record(TimelineEvent(kind="reopen", at=at, by=by, text=reason))
        if not self.resolved:
            self.resolution_note = None

    def feedback(self, csat: int, comment: str | None, at: datetime) -> None:
        """The customer rated the resolution; a later rating replaces an earlier one."""
        self.csat, self.feedback_comment, self.feedback_at = csat, comment, at

    def pause(self, reason: str, now: datetime) -> None:
        """Stop every running clock and hold escalations until :meth:`resume`."""
        self._record(TimelineEvent(kind="pause", at=now, text=reason))

    def resume(self, now: datetime) -> None:
        """Restart the clocks that were running before the pause."""
        self._record(TimelineEvent(kind="resume", at=now))

    def change_priority(self, priority: str, now: datetime) -> None:
        """Re-target the clocks that still count on ``priority``'s targets and calendar."""
        if priority != self.fields.priority:
            self._record(TimelineEvent(kind="priority", at=now, priority=priority))

    def migration_problem(self, policy: Policy) -> str | None:
        """Why this ticket cannot move onto ``policy``, or None when it can."""
        if policy.name != self.policy.name:
            return f"the ticket runs policy {self.policy.name!r}, not {policy.name!r}"
        if self.fields.priority not in policy.plan_targets(self._plan_on(policy)):
            return (
                f"policy {policy.name!r} v{policy.version} does not define the ticket's priority "
                f"{self.fields.priority!r}; defined: {', '.join(policy.targets)}"
            )
        # Time already counted stays counted on the calendar it ran on, so the new version
        # must still define each of them (it may leave them unused by its targets). With a
        # timeline, a late event may measure any stretch again, on whichever calendar was in
        # force then.
        counted_on = {clock.calendar for clock in self.clocks.values()} | {
            segment.calendar for clock in self.clocks.values() for segment in clock.segments
        }
        if self.timeline is not None:
            counted_on |= calendars_in_force(self.timeline, self.targets())
        missing = sorted(counted_on - set(policy.calendars) - set(builtin_calendars()))
        if missing:
            return (
                f"policy {policy.name!r} v{policy.version} no longer defines calendar(s) "
                f"{', '.join(missing)}, on which this ticket's clocks have counted; keep them "
                "in the policy (unused by targets) to migrate open tickets"
            )
        return None

    def migrate_policy(self, policy: Policy, by: str, reason: str, now: datetime) -> None:
        """Move onto ``policy``, a newer version of the same policy, at ``now``.

        Clocks that still count take the new targets and calendar of the ticket's priority and
        keep the business time already elapsed (as a priority change does); stopped clocks keep
        their result. Escalation levels are the new version's from now on: a level that keeps
        its name keeps its progress, so it does not notify again for what it already sent.
        Call :meth:`migration_problem` first.
        """
        previous = self.targets()
        for level in policy.levels:
            self.progress.setdefault(level.name, LevelProgress())
        self.policy_migrations.append(
            PolicyMigration(
                at=now,
                by=by,
                reason=reason,
                from_version=self.policy.version,
                to_version=policy.version,
            )
        )
        self.policy = policy
        # The new version's plans decide afresh: a plan it renamed or dropped is not kept.
        self.plan = self._plan_on(policy)
        self._record(TimelineEvent(kind="migrate", at=now, previous_targets=dict(previous)))

    def targets(self) -> dict[str, Targets]:
        """The targets table the ticket's clocks count against: its plan's."""
        return self.policy.plan_targets(self.plan)

    def _plan_on(self, policy: Policy) -> str:
        return select_plan(policy, self.plan_facts(), self.opened_at)

    def plan_facts(self) -> PlanFacts:
        """What the ticket's plan is chosen by."""
        return PlanFacts(self.fields.customer, self.tags, self.attributes)

    def update_attributes(
        self, tags: list[str] | None, attributes: Mapping[str, str | None], now: datetime
    ) -> str | None:
        """Replace the tags (when given) and set or remove (``None``) attributes at ``now``.

        When they choose another plan, the clocks that still count move onto its targets and
        calendar keeping the business time already elapsed, as a priority change does.

        Returns:
            The plan the ticket moved to, or None when it stays on its plan.
        """
        if tags is not None:
            self.tags = list(tags)
        for name, value in attributes.items():
            if value is None:
                self.attributes.pop(name, None)
            else:
                self.attributes[name] = value
        plan = self._plan_on(self.policy)
        if plan == self.plan:
            return None
        previous = self.targets()
        self.plan = plan
        self._record(TimelineEvent(kind="plan", at=now, text=plan, previous_targets=dict(previous)))
        return plan

    def customer_replied(self, at: datetime, now: datetime, calendars: CalendarSet) -> None:
        """A customer message at ``at``: starts a next-reply cycle unless one already runs.

        A message while a cycle runs changes nothing: the agent owes a reply since the oldest
        unanswered message, and a customer's follow-up must not push the deadline back. A
        message reported late that a reply (or the first response) already answered starts
        nothing; before the first response, the first-response clock covers the wait. A
        ticket paused waiting on the customer resumes from the message's time.
        """
        if self.timeline is None:
            # Without a timeline a late message is applied where the ticket stands now.
            if self._customer_message(at, now):
                self._reset_reply_levels(now, calendars)
            return
        self._record(TimelineEvent(kind="customer", at=at), calendars)
        self.restart_reply_levels(now, calendars)

    def agent_replied(self, by: str, at: datetime, calendars: CalendarSet) -> None:
        """An agent's public reply: the first response if none came yet, and the end of the
        running next-reply cycle."""
        self._record(TimelineEvent(kind="agent", at=at, by=by), calendars)

    def update_impact(
        self, affected_users: int | None, critical_service: bool | None, now: datetime
    ) -> None:
        """Record new impact figures."""
        if affected_users is not None:
            self.fields.affected_users = affected_users
        if critical_service is not None:
            self.fields.critical_service = critical_service
        if self.timeline is not None:
            self.timeline.append(
                TimelineEvent(
                    kind="impact",
                    at=now,
                    affected_users=affected_users,
                    critical_service=critical_service,
                )
            )

    def reassign(self, assignee: str | None, team: str | None, now: datetime) -> None:
        """Hand the ticket to another assignee or team."""
        if assignee is not None:
            self.fields.assignee = assignee
        if team is not None:
            self.fields.team = team
            if self.timeline is not None:
                self.timeline.append(TimelineEvent(kind="reassign", at=now, team=team))

    def report(
        self,
        event: HelpdeskEvent,
        at: datetime,
        by: str | None,
        source: str,
        now: datetime,
        calendars: CalendarSet,
    ) -> None:
        """A helpdesk's report of what happened at ``at``, kept in the timeline whether or not it
        applies where the ticket stands: the fold applies each report that holds at its
        ``at`` (a resume only while paused, a reopening only while resolved), so reports that
        arrive in any order leave the ticket as their ``at`` order would. Needs the timeline."""
        who = by or source
        match event:
            case "waiting":
                self._record(
                    TimelineEvent(kind="pause", at=at, text=f"waiting on the customer ({source})")
                )
            case "active":
                reason = f"reopened in {source}"
                self._record(TimelineEvent(kind="active", at=at, by=who, text=reason))
            case "solved":
                # A repeated or late report keeps the note a plain resolve may have left.
                self.resolve(who, at, self.resolution_note)
            case "agent_replied":
                self.agent_replied(who, at, calendars)
            case "customer_replied":
                self.customer_replied(at, now, calendars)

    def restart_reply_levels(self, now: datetime, calendars: CalendarSet) -> None:
        """Arm the next-reply levels afresh if a new next-reply cycle is running.

        Levels on the next-reply clock escalate afresh in every cycle, unless another part of
        their condition (resolution breached, say) already holds: resetting those would notify
        again on every customer message. The workflow calls this after every update, since a
        late event (an acknowledgement, a reply) can start a cycle too.
        """
        if self.timeline is None:
            return
        clock = self.clocks[ClockName.NEXT_REPLY]
        start = clock.segments[0].start if clock.started and not clock.stopped else None
        if start is None or start == self.reply_cycle_start:
            return
        self.reply_cycle = max(self.reply_cycle + 1, self.next_reply_cycles)
        self.reply_cycle_start = start
        self._reset_reply_levels(now, calendars)

    def _reset_reply_levels(self, now: datetime, calendars: CalendarSet) -> None:
        others: dict[ClockName, SlaClock] = {
            name: c for name, c in self.clocks.items() if name is not ClockName.NEXT_REPLY
        }
        for level in self.policy.levels:
            if not condition_uses_clock(level.when, ClockName.NEXT_REPLY):
                continue
            since = condition_since(level.when, self.facts(), others, calendars, now)
            if since is None or since > now:
                self.progress[level.name] = LevelProgress()

    # -- the clock rules, one event at a time ----------------------------------------------

    def _record(self, event: TimelineEvent, calendars: CalendarSet | None = None) -> None:
        if self.timeline is None:
            self._apply(event, calendars, in_at_order=False)
            return
        late = any(known.at > event.at for known in self.timeline)
        self.timeline.append(event)
        if late:
            self.refold(calendars if calendars is not None else policy_calendars(self.policy))
        else:
            self._apply(event, calendars, in_at_order=True)

    def refold(self, calendars: CalendarSet) -> None:
        """Rebuild the clocks and what goes with them by applying the timeline in ``at`` order
        to the ticket as it opened."""
        assert self.timeline is not None
        opening, *events = self.timeline
        assert opening.priority is not None
        # Each policy migration and plan change starts an era with its own targets table;
        # the fresh state runs each era on a copy of the policy whose own targets are that
        # table (and no plans), so it measures every stretch on the targets then in force.
        changes = [e for e in events if e.kind in TABLE_CHANGES]
        tables = [e.previous_targets or {} for e in changes[1:]] + [self.targets()]
        fresh = TicketState.open(
            self.fields.model_copy(update={"priority": opening.priority}),
            self.policy.model_copy(
                update={"targets": targets_before(self.timeline, self.targets()), "plans": []}
            ),
            self.opened_at,
            self.notice_key,
            in_at_order=False,
        )
        for event in in_at_order(events):
            if event.kind in TABLE_CHANGES:
                table = tables[changes.index(event)]
                fresh.policy = fresh.policy.model_copy(update={"targets": table})
            fresh._apply(event, calendars, in_at_order=True)
        for name in _CLOCK_FIELDS:
            setattr(self, name, getattr(fresh, name))

    def _apply(
        self, event: TimelineEvent, calendars: CalendarSet | None, *, in_at_order: bool
    ) -> None:
        at = event.at
        match event.kind:
            case "pause":
                if not (self.paused or self.resolved):
                    self._pause(event.text or "", at)
            case "resume":
                if self.paused:
                    self._resume(at)
            case "priority":
                assert event.priority is not None
                self._retarget(event.priority, at)
            case "migrate" | "plan":
                self._retarget(self.fields.priority, at, force=True)
            case "acknowledge":
                self._acknowledge(event.by or "", at)
            case "agent":
                assert calendars is not None
                self._agent_replied(event.by or "", at, calendars)
            case "customer":
                self._customer_message(at, at)
            case "resolve":
                if not self.resolved:
                    self._resolve(event.by or "", at)
            case "reopen":
                self._reopen(event.by or "", at, event.text or "", in_at_order=in_at_order)
            case "active":
                if self.paused:
                    self._resume(at)
                elif self.resolved:
                    self._reopen(event.by or "", at, event.text or "", in_at_order=in_at_order)
            case "open" | "impact" | "reassign":
                pass  # facts, not clocks: read by the ladder from the timeline

    def _acknowledge(self, by: str, at: datetime) -> None:
        if self.acknowledged_at is not None:
            return
        self.clocks[ClockName.FIRST_RESPONSE].stop(at)
        self.acknowledged_at, self.acknowledged_by = at, by
        if self.state is TicketStateName.OPEN:
            self.state = TicketStateName.ACKNOWLEDGED

    def _resolve(self, by: str, at: datetime) -> None:
        for clock in self.clocks.values():
            clock.stop(at)
        self.resolved_at, self.resolved_by = at, by
        self._end_pause(max(at, self.paused_at) if self.paused_at else at)
        self.paused_reason = None
        self.paused_at = None
        self.state = TicketStateName.RESOLVED

    def _reopen(self, by: str, at: datetime, reason: str, *, in_at_order: bool) -> None:
        if not self.resolved or self.resolved_at is None:
            return
        resolved_at = self.resolved_at
        self.reopens.append(Reopen(at=at, by=by, reason=reason, resolved_at=resolved_at))
        resolution = self.clocks[ClockName.RESOLUTION]
        resolution.reopen(at)
        self.resolved_at = self.resolved_by = self.resolution_note = None
        self.state = TicketStateName.ACKNOWLEDGED if self.acknowledged_at else TicketStateName.OPEN
        if not in_at_order:
            return
        targets = self.targets()[self.fields.priority]
        resolution.retarget(
            clock_target(targets, ClockName.RESOLUTION, resolution.started_at or at, self.policy),
            targets.calendar,
            at,
        )
        # A message written while the ticket was resolved (reported after the reopening) is
        # still owed an answer; the time the ticket spent resolved counts nothing.
        message, reply = self.last_customer_reply_at, self.last_agent_reply_at
        if (
            self.acknowledged_at is not None
            and message is not None
            and message > resolved_at
            and (reply is None or reply < message)
        ):
            self._start_reply_cycle(at)

    def _pause(self, reason: str, at: datetime) -> None:
        for clock in self.clocks.values():
            clock.pause(at)
        self.paused_at = at
        self.paused_reason = reason
        self.state = TicketStateName.PAUSED
        replied = self.last_customer_reply_at
        self.pauses.append(
            Pause(
                start=at,
                reason=reason,
                after_customer_reply=replied is not None
                and timedelta(0) <= at - replied <= PAUSE_AFTER_REPLY,
            )
        )

    def _resume(self, at: datetime) -> None:
        for clock in self.clocks.values():
            if clock.started:  # a next-reply clock between customer messages stays idle
                clock.start(at)
        self._end_pause(at)
        self.paused_reason = None
        self.paused_at = None
        self.state = TicketStateName.ACKNOWLEDGED if self.acknowledged_at else TicketStateName.OPEN

    def _end_pause(self, at: datetime) -> None:
        if self.pauses and self.pauses[-1].end is None:
            last = self.pauses[-1]
            self.pauses[-1] = last.model_copy(update={"end": max(at, last.start)})

    def _retarget(self, priority: str, at: datetime, *, force: bool = False) -> None:
        if priority == self.fields.priority and not force:
            return
        targets = self.targets()[priority]
        for name, clock in self.clocks.items():
            if not clock.stopped:
                # A working-day target counts from the clock's own start, as if the new
                # targets had applied from there.
                target = clock_target(targets, name, clock.started_at or at, self.policy)
                clock.retarget(target, targets.calendar, at)
        self.fields.priority = priority

    def _customer_message(self, at: datetime, now: datetime) -> bool:
        """Whether the message started a next-reply cycle."""
        if self.last_customer_reply_at is None or at > self.last_customer_reply_at:
            self.last_customer_reply_at = at
        if self.paused and (self.paused_at is None or at >= self.paused_at):
            # Only states from before ``paused_at`` was kept lack it: resume them now.
            self._resume(at if self.paused_at is not None else now)
        if self.resolved:
            return False  # owed an answer if the ticket reopens: see _reopen
        answered = [t for t in (self.acknowledged_at, self.last_agent_reply_at) if t is not None]
        if self.acknowledged_at is None or self.paused or at < max(answered):
            return False
        clock = self.clocks.get(ClockName.NEXT_REPLY)
        if clock is not None and clock.started and not clock.stopped:
            return False
        self._start_reply_cycle(at)
        return True

    def _start_reply_cycle(self, at: datetime) -> None:
        targets = self.targets()[self.fields.priority]
        fresh = SlaClock(
            target=clock_target(targets, ClockName.NEXT_REPLY, at, self.policy),
            calendar=targets.calendar,
        )
        fresh.start(at)
        self.clocks[ClockName.NEXT_REPLY] = fresh
        self.next_reply_cycles += 1

    def _agent_replied(self, by: str, at: datetime, calendars: CalendarSet) -> None:
        if self.last_agent_reply_at is None or at > self.last_agent_reply_at:
            self.last_agent_reply_at = at
        if self.acknowledged_at is None:
            self._acknowledge(by, at)
        clock = self.clocks.get(ClockName.NEXT_REPLY)
        if clock is None or not clock.started or clock.stopped:
            return
        if at < clock.segments[0].start:
            return  # a reply written before the message it would answer answers nothing
        clock.stop(at)
        if clock.breached(at, calendars):
            self.next_reply_breaches += 1

    # -- escalation ------------------------------------------------------------------------

    def _fire_times(self, now: datetime, calendars: CalendarSet) -> list[datetime | None]:
        facts, live = self.facts(), self._live()
        return [
            next_fire_at(level, self.progress[level.name], facts, self.clocks, calendars, now, live)
            for level in self.policy.levels
        ]

    def _live(self) -> Liveness | None:
        if self.timeline is None:
            return None
        gaps: list[tuple[datetime, datetime | None]] = [(p.start, p.end) for p in self.pauses]
        gaps += [(r.resolved_at, r.at) for r in self.reopens]
        return Liveness(
            history=facts_history(self.timeline, self.fields.customer),
            gaps=sorted(gaps, key=lambda gap: gap[0]),
        )

    def due_levels(self, now: datetime, calendars: CalendarSet) -> list[DueLevel]:
        """Levels that should notify now, in policy order. None while paused or resolved."""
        if self.paused or self.resolved:
            return []
        return [
            DueLevel(index=i, level=level, due_at=at, repeat=self.progress[level.name].fired)
            for i, (level, at) in enumerate(
                zip(self.policy.levels, self._fire_times(now, calendars), strict=True)
            )
            if at is not None and at <= now
        ]

    def next_wake(
        self, now: datetime, calendars: CalendarSet, *, levels_only: bool = False
    ) -> Wake | None:
        """The next instant something falls due (a level, a held notice, or a clock's breach)
        and what. Held notices go out at their time even while the ticket is paused: the
        escalation they carry happened before the pause."""
        if self.resolved:
            return None
        candidates: list[Wake] = (
            []
            if levels_only
            else [
                Wake(r.held_until, "held", r.level)
                for r in self.escalations
                if r.held and r.held_until is not None
            ]
        )
        if not self.paused:
            candidates += [
                Wake(at, "level", level.name)
                for level, at in zip(
                    self.policy.levels, self._fire_times(now, calendars), strict=True
                )
                if at is not None and at > now
            ]
            for name, clock in [] if levels_only else self.clocks.items():
                due = clock.due_at(calendars) if clock.running else None
                if due is not None and due > now:
                    candidates.append(Wake(due, "breach", name.value))
        return min(candidates, key=lambda wake: (wake.at, wake.describe())) if candidates else None

    def record_delivery(self, index: int, delivery: Delivery) -> None:
        """The fate of the notice of escalation record ``index``."""
        self.escalations[index] = self.escalations[index].model_copy(update={"delivery": delivery})

    def record_fire(
        self,
        due: DueLevel,
        now: datetime,
        recipients: list[str],
        reason: str,
        held: Mapping[datetime, list[str]] | None = None,
    ) -> list[EscalationRecord]:
        """Book one firing of a level and apply its actions (priority, reassignment).

        ``recipients`` are notified now; ``held`` maps a release time to recipients in quiet
        hours until then, each group booked as its own record (``part`` 1, 2, ...) with
        delivery ``held``. Returns the new records.
        """
        progress = self.progress[due.level.name]
        if progress.fired == 0:
            progress.first_due_at = due.due_at
        progress.fired += 1
        progress.last_fired_at = now
        actions: list[str] = []
        level = due.level
        if level.set_priority and level.set_priority != self.fields.priority:
            actions.append(f"priority {self.fields.priority} -> {level.set_priority}")
            self.change_priority(level.set_priority, now)
        if level.reassign:
            self.reassign(level.reassign.assignee, level.reassign.team, now)
            actions.append(f"reassigned to {level.reassign.assignee or level.reassign.team}")
        common = {
            "level": level.name,
            "repeat": due.repeat,
            "due_at": due.due_at,
            "fired_at": now,
            "reason": reason,
            "channel": level.channel,
            "actions": actions,
            # Next-reply levels fire afresh in each cycle; the cycle keeps their notices apart.
            "cycle": (self.next_reply_cycles if self.timeline is None else self.reply_cycle)
            if condition_uses_clock(level.when, ClockName.NEXT_REPLY)
            else 0,
        }
        waiting = {
            (r.held_until, address)
            for r in self.escalations
            if r.held and r.level == level.name
            for address in r.recipients
        }
        groups = {
            release: fresh
            for release, group in (held or {}).items()
            # A repeat that falls in the same quiet hours as a notice of this level already
            # held is folded into it: one notice at opening time, not a burst of them.
            if (fresh := [a for a in group if (release, a) not in waiting])
        }
        emails, channels = split_contacts(self.policy, recipients)
        records: list[EscalationRecord] = []
        if emails or not (channels or groups):
            records.append(
                EscalationRecord(
                    **common,
                    recipients=emails,
                    delivery=Delivery(
                        status="pending" if emails else "skipped",
                        detail=None
                        if emails
                        else "its recipients already have a notice of this level held for "
                        "quiet hours"
                        if held
                        else "no recipients: the roles resolved to nobody",
                    ),
                )
            )
        records += [
            EscalationRecord(
                **(common | {"channel": name, "actions": [] if records or i else actions}),
                recipients=[name],
                delivery=Delivery(status="pending"),
            )
            for i, name in enumerate(channels)
        ]
        for part, (release, group) in enumerate(sorted(groups.items()), start=1):
            held_emails, held_channels = split_contacts(self.policy, group)
            for channel, who in [(EMAIL, held_emails)] + [(c, [c]) for c in held_channels]:
                if not who:
                    continue
                records.append(
                    EscalationRecord(
                        **(common | {"channel": channel, "actions": [] if records else actions}),
                        recipients=who,
                        part=part,
                        held_until=release,
                        delivery=Delivery(
                            status="held",
                            detail=f"quiet hours: held until {release.isoformat()}",
                        ),
                    )
                )
        self.escalations += records
        return records

    def release_held(self, now: datetime) -> list[int]:
        """Mark held notices whose quiet hours are over as pending; returns their indexes."""
        released: list[int] = []
        for i, record in enumerate(self.escalations):
            if record.held and record.held_until is not None and record.held_until <= now:
                self.escalations[i] = record.model_copy(
                    update={"delivery": Delivery(status="pending")}
                )
                released.append(i)
        return released

    def current_level(self) -> str | None:
        """The furthest level up the ladder that has fired."""
        fired = [lvl.name for lvl in self.policy.levels if self.progress[lvl.name].fired]
        return fired[-1] if fired else None

    def notice_key_for(self, record: EscalationRecord) -> str:
        """The idempotency key of one notice: the same on every retry and replay."""
        key = f"{self.notice_key}:{record.level}:{record.repeat}"
        if record.cycle:
            key += f":c{record.cycle}"
        if record.part:
            key += f":{record.part}"
        return key if record.channel == EMAIL else f"{key}@{record.channel}"

    def channel_event_key(self, event: str, channel: str) -> str:
        """The idempotency key of the latest state change sent to ``channel``."""
        return f"{self.notice_key}:{event}:e{self.channel_events}@{channel}"

    # -- reporting -------------------------------------------------------------------------

    def outcome(self, now: datetime, calendars: CalendarSet) -> TicketOutcome:
        """What reports need of this ticket, as of ``now``."""
        f = self.fields
        return TicketOutcome(
            as_of=now,
            ticket_id=f.ticket_id,
            priority=f.priority,
            team=f.team,
            customer=f.customer,
            policy=self.policy.name,
            policy_version=self.policy.version,
            plan=self.plan,
            state=self.state.value,
            opened_at=self.opened_at,
            first_response_at=self.acknowledged_at,
            resolved_at=self.resolved_at,
            clocks={
                name: ClockOutcome.of(clock, calendars, now)
                for name, clock in self.clocks.items()
                if clock.started
            },
            next_reply_cycles=self.next_reply_cycles,
            next_reply_breaches=self.next_reply_breaches,
            pauses=list(self.pauses),
            paused_seconds=paused_seconds(self.pauses, now),
            escalations=escalation_counts([r.level for r in self.escalations]),
            reopens=list(self.reopens),
            csat=self.csat,
            feedback_at=self.feedback_at,
        )
