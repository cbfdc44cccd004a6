"""A ticket's whole state and the pure rules that change it.

The workflow owns one :class:`TicketState`, mutates it only through these methods (each takes
``now`` from the workflow), and carries it unchanged through continue-as-new. Keeping the rules
here, free of Temporal, lets them be tested without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from activities.models import DeliveryResult
from policies.calendar import CalendarSet, builtin_calendars
from policies.clock import SlaClock
from policies.ladder import (
    LevelProgress,
    TicketFacts,
    condition_since,
    condition_uses_clock,
    next_fire_at,
)
from policies.model import ClockName, Level, Policy
from workflows.ticket_outcome import (
    ClockOutcome,
    Pause,
    Reopen,
    TicketOutcome,
    escalation_counts,
    paused_seconds,
)

# A pause this soon after a customer message is flagged in reports: the customer had just
# answered, so waiting on them is doubtful.
PAUSE_AFTER_REPLY = timedelta(minutes=5)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketStateName(StrEnum):
    """Where a ticket stands. Also the ``SlaState`` search attribute."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    PAUSED = "paused"
    RESOLVED = "resolved"


class Delivery(_Message):
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


class EscalationRecord(_Message):
    """One firing of one level (its first notice or a repeat)."""

    level: str
    repeat: int
    due_at: datetime
    fired_at: datetime
    reason: str
    channel: str
    recipients: list[str]
    delivery: Delivery
    actions: list[str] = []
    part: int = 0
    cycle: int = 0
    held_until: datetime | None = None

    @property
    def held(self) -> bool:
        """Whether the notice waits for its recipients' quiet hours to end."""
        return self.delivery.status == "held"


class PolicyMigration(_Message):
    """One move of an open ticket onto a newer version of its policy (an operator's choice)."""

    at: datetime
    by: str
    reason: str
    from_version: str
    to_version: str


class TicketFields(_Message):
    """The ticket's own fields, as they stand now (priority, team and assignee change)."""

    ticket_id: str
    title: str
    priority: str
    team: str
    customer: str
    requester: str
    assignee: str | None = None
    affected_users: int = 1
    critical_service: bool = False


class DueLevel(BaseModel):
    """A level that should notify now."""

    index: int
    level: Level
    due_at: datetime
    repeat: int


class TicketState(_Message):
    """Everything a ticket's workflow knows; serialisable, so continue-as-new carries it."""

    fields: TicketFields
    policy: Policy
    opened_at: datetime
    notice_key: str
    state: TicketStateName = TicketStateName.OPEN
    clocks: dict[ClockName, SlaClock]
    progress: dict[str, LevelProgress] = {}
    escalations: list[EscalationRecord] = []
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
    pauses: list[Pause] = []
    reopens: list[Reopen] = []
    csat: int | None = None
    feedback_comment: str | None = None
    feedback_at: datetime | None = None
    policy_migrations: list[PolicyMigration] = []

    @classmethod
    def open(
        cls, fields: TicketFields, policy: Policy, opened_at: datetime, notice_key: str
    ) -> TicketState:
        """A new ticket whose clocks started at ``opened_at``."""
        targets = policy.targets[fields.priority]
        clocks = {
            name: SlaClock(target=targets.for_clock(name), calendar=targets.calendar)
            for name in ClockName
        }
        # The next-reply clock starts with the first customer message after the first response.
        clocks[ClockName.FIRST_RESPONSE].start(opened_at)
        clocks[ClockName.RESOLUTION].start(opened_at)
        return cls(
            fields=fields,
            policy=policy,
            opened_at=opened_at,
            notice_key=notice_key,
            clocks=clocks,
            progress={level.name: LevelProgress() for level in policy.levels},
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

    def acknowledge(self, by: str, at: datetime) -> None:
        """Stop the first-response clock at ``at``; a second acknowledge changes nothing."""
        if self.acknowledged_at is not None:
            return
        self.clocks[ClockName.FIRST_RESPONSE].stop(at)
        self.acknowledged_at, self.acknowledged_by = at, by
        if self.state is TicketStateName.OPEN:
            self.state = TicketStateName.ACKNOWLEDGED

    def resolve(self, by: str, at: datetime, note: str | None) -> None:
        """Stop every clock at ``at``; escalations end and held notices are dropped."""
        for clock in self.clocks.values():
            clock.stop(at)
        for i, record in enumerate(self.escalations):
            if record.held:
                self.escalations[i] = record.model_copy(
                    update={
                        "delivery": Delivery(
                            status="cancelled", detail="resolved before quiet hours ended"
                        )
                    }
                )
        self.resolved_at, self.resolved_by, self.resolution_note = at, by, note
        self._end_pause(max(at, self.paused_at) if self.paused_at else at)
        self.paused_reason = None
        self.paused_at = None
        self.state = TicketStateName.RESOLVED

    def reopen(self, by: str, at: datetime, reason: str) -> None:
        """A resolved ticket needs more work: its resolution clock counts again from ``at``
        (the time it spent resolved counts nothing) and its escalations resume."""
        if not self.resolved or self.resolved_at is None:
            return
        self.reopens.append(Reopen(at=at, by=by, reason=reason, resolved_at=self.resolved_at))
        self.clocks[ClockName.RESOLUTION].reopen(at)
        self.resolved_at = self.resolved_by = self.resolution_note = None
        self.state = TicketStateName.ACKNOWLEDGED if self.acknowledged_at else TicketStateName.OPEN

    def feedback(self, csat: int, comment: str | None, at: datetime) -> None:
        """The customer rated the resolution; a later rating replaces an earlier one."""
        self.csat, self.feedback_comment, self.feedback_at = csat, comment, at

    def pause(self, reason: str, now: datetime) -> None:
        """Stop every running clock and hold escalations until :meth:`resume`."""
        for clock in self.clocks.values():
            clock.pause(now)
        self.paused_at = now
        self.paused_reason = reason
        self.state = TicketStateName.PAUSED
        replied = self.last_customer_reply_at
        self.pauses.append(
            Pause(
                start=now,
                reason=reason,
                after_customer_reply=replied is not None
                and timedelta(0) <= now - replied <= PAUSE_AFTER_REPLY,
            )
        )

    def resume(self, now: datetime) -> None:
        """Restart the clocks that were running before the pause."""
        for clock in self.clocks.values():
            if clock.started:  # a next-reply clock between customer messages stays idle
                clock.start(now)
        self._end_pause(now)
        self.paused_reason = None
        self.paused_at = None
        self.state = TicketStateName.ACKNOWLEDGED if self.acknowledged_at else TicketStateName.OPEN

    def _end_pause(self, at: datetime) -> None:
        if self.pauses and self.pauses[-1].end is None:
            last = self.pauses[-1]
            self.pauses[-1] = last.model_copy(update={"end": max(at, last.start)})

    def change_priority(self, priority: str, now: datetime) -> None:
        """Re-target the clocks that still count on ``priority``'s targets and calendar."""
        if priority == self.fields.priority:
            return
        targets = self.policy.targets[priority]
        for name, clock in self.clocks.items():
            if not clock.stopped:
                clock.retarget(targets.for_clock(name), targets.calendar, now)
        self.fields.priority = priority

    def migration_problem(self, policy: Policy) -> str | None:
        """Why this ticket cannot move onto ``policy``, or None when it can."""
        if policy.name != self.policy.name:
            return f"the ticket runs policy {self.policy.name!r}, not {policy.name!r}"
        if self.fields.priority not in policy.targets:
            return (
                f"policy {policy.name!r} v{policy.version} does not define the ticket's priority "
                f"{self.fields.priority!r}; defined: {', '.join(policy.targets)}"
            )
        # Time already counted stays counted on the calendar it ran on, so the new version
        # must still define each of them (it may leave them unused by its targets).
        counted_on = {clock.calendar for clock in self.clocks.values()} | {
            segment.calendar for clock in self.clocks.values() for segment in clock.segments
        }
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
        targets = policy.targets[self.fields.priority]
        for name, clock in self.clocks.items():
            if not clock.stopped:
                clock.retarget(targets.for_clock(name), targets.calendar, now)
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

    def customer_replied(self, at: datetime, now: datetime, calendars: CalendarSet) -> None:
        """A customer message at ``at``: starts a next-reply cycle unless one already runs.

        A message while a cycle runs changes nothing: the agent owes a reply since the oldest
        unanswered message, and a customer's follow-up must not push the deadline back. A
        message reported late that a reply (or the first response) already answered starts
        nothing; before the first response, the first-response clock covers the wait. A
        ticket paused waiting on the customer resumes from the message's time.
        """
        if self.last_customer_reply_at is None or at > self.last_customer_reply_at:
            self.last_customer_reply_at = at
        if self.paused and (self.paused_at is None or at >= self.paused_at):
            self.resume(at if self.paused_at is not None else now)
        answered = [t for t in (self.acknowledged_at, self.last_agent_reply_at) if t is not None]
        if self.acknowledged_at is None or self.paused or at < max(answered):
            return
        clock = self.clocks.get(ClockName.NEXT_REPLY)
        if clock is not None and clock.started and not clock.stopped:
            return
        targets = self.policy.targets[self.fields.priority]
        fresh = SlaClock(target=targets.for_clock(ClockName.NEXT_REPLY), calendar=targets.calendar)
        fresh.start(at)
        self.clocks[ClockName.NEXT_REPLY] = fresh
        self.next_reply_cycles += 1
        # Levels on the next-reply clock escalate afresh in every cycle, unless another part of
        # their condition (resolution breached, say) already holds: resetting those would
        # notify again on every customer message.
        others: dict[ClockName, SlaClock] = {
            name: c for name, c in self.clocks.items() if name is not ClockName.NEXT_REPLY
        }
        for level in self.policy.levels:
            if not condition_uses_clock(level.when, ClockName.NEXT_REPLY):
                continue
            since = condition_since(level.when, self.facts(), others, calendars, now)
            if since is None or since > now:
                self.progress[level.name] = LevelProgress()

    def agent_replied(self, by: str, at: datetime, calendars: CalendarSet) -> None:
        """An agent's public reply: the first response if none came yet, and the end of the
        running next-reply cycle."""
        if self.last_agent_reply_at is None or at > self.last_agent_reply_at:
            self.last_agent_reply_at = at
        if self.acknowledged_at is None:
            self.acknowledge(by, at)
        clock = self.clocks.get(ClockName.NEXT_REPLY)
        if clock is None or not clock.started or clock.stopped:
            return
        if at < clock.segments[0].start:
            return  # a reply written before the message it would answer answers nothing
        clock.stop(at)
        if clock.breached(at, calendars):
            self.next_reply_breaches += 1

    def update_impact(self, affected_users: int | None, critical_service: bool | None) -> None:
        """Record new impact figures."""
        if affected_users is not None:
            self.fields.affected_users = affected_users
        if critical_service is not None:
            self.fields.critical_service = critical_service

    def reassign(self, assignee: str | None, team: str | None) -> None:
        """Hand the ticket to another assignee or team."""
        if assignee is not None:
            self.fields.assignee = assignee
        if team is not None:
            self.fields.team = team

    # -- escalation ------------------------------------------------------------------------

    def _fire_times(self, now: datetime, calendars: CalendarSet) -> list[datetime | None]:
        facts = self.facts()
        return [
            next_fire_at(level, self.progress[level.name], facts, self.clocks, calendars, now)
            for level in self.policy.levels
        ]

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
    ) -> tuple[datetime, str] | None:
        """The next instant something falls due (a level, a held notice, or a clock's breach)
        and what. Held notices go out at their time even while the ticket is paused: the
        escalation they carry happened before the pause."""
        if self.resolved:
            return None
        candidates: list[tuple[datetime, str]] = (
            []
            if levels_only
            else [
                (r.held_until, f"held {r.level} notice")
                for r in self.escalations
                if r.held and r.held_until is not None
            ]
        )
        if self.paused:
            return min(candidates) if candidates else None
        candidates += [
            (at, f"level {level.name}")
            for level, at in zip(self.policy.levels, self._fire_times(now, calendars), strict=True)
            if at is not None and at > now
        ]
        for name, clock in [] if levels_only else self.clocks.items():
            due = clock.due_at(calendars) if clock.running else None
            if due is not None and due > now:
                candidates.append((due, f"{name.value} breach"))
        return min(candidates) if candidates else None

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
            self.reassign(level.reassign.assignee, level.reassign.team)
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
            "cycle": self.next_reply_cycles
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
        records: list[EscalationRecord] = []
        if recipients or not groups:
            records.append(
                EscalationRecord(
                    **common,
                    recipients=recipients,
                    delivery=Delivery(
                        status="pending" if recipients else "skipped",
                        detail=None
                        if recipients
                        else "its recipients already have a notice of this level held for "
                        "quiet hours"
                        if held
                        else "no recipients: the roles resolved to nobody",
                    ),
                )
            )
        for part, (release, group) in enumerate(sorted(groups.items()), start=1):
            records.append(
                EscalationRecord(
                    **(common | {"actions": [] if records else actions}),
                    recipients=group,
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
        return f"{key}:{record.part}" if record.part else key

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
