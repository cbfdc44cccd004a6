"""A ticket's whole state and the pure rules that change it.

The workflow owns one :class:`TicketState`, mutates it only through these methods (each takes
``now`` from the workflow), and carries it unchanged through continue-as-new. Keeping the rules
here, free of Temporal, lets them be tested without a server.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from activities.models import DeliveryResult
from policies.calendar import CalendarSet
from policies.clock import SlaClock
from policies.ladder import LevelProgress, TicketFacts, next_fire_at
from policies.model import ClockName, Level, Policy


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

    status: Literal["pending", "sent", "written", "failed", "skipped", "cancelled"]
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
        for clock in clocks.values():
            clock.start(opened_at)
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
        """Stop every clock at ``at``; escalations end."""
        for clock in self.clocks.values():
            clock.stop(at)
        self.resolved_at, self.resolved_by, self.resolution_note = at, by, note
        self.paused_reason = None
        self.state = TicketStateName.RESOLVED

    def pause(self, reason: str, now: datetime) -> None:
        """Stop every running clock and hold escalations until :meth:`resume`."""
        for clock in self.clocks.values():
            clock.pause(now)
        self.paused_reason = reason
        self.state = TicketStateName.PAUSED

    def resume(self, now: datetime) -> None:
        """Restart the clocks that were running before the pause."""
        for clock in self.clocks.values():
            clock.start(now)
        self.paused_reason = None
        self.state = TicketStateName.ACKNOWLEDGED if self.acknowledged_at else TicketStateName.OPEN

    def change_priority(self, priority: str, now: datetime) -> None:
        """Re-target the clocks that still count on ``priority``'s targets and calendar."""
        if priority == self.fields.priority:
            return
        targets = self.policy.targets[priority]
        for name, clock in self.clocks.items():
            if not clock.stopped:
                clock.retarget(targets.for_clock(name), targets.calendar, now)
        self.fields.priority = priority

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
        """The next instant something falls due (a level, or a clock's breach) and what."""
        if self.paused or self.resolved:
            return None
        candidates: list[tuple[datetime, str]] = [
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
        self, due: DueLevel, now: datetime, recipients: list[str], reason: str
    ) -> EscalationRecord:
        """Book one firing of a level and apply its actions (priority, reassignment)."""
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
        record = EscalationRecord(
            level=level.name,
            repeat=due.repeat,
            due_at=due.due_at,
            fired_at=now,
            reason=reason,
            channel=level.channel,
            recipients=recipients,
            delivery=Delivery(
                status="pending" if recipients else "skipped",
                detail=None if recipients else "no recipients: the roles resolved to nobody",
            ),
            actions=actions,
        )
        self.escalations.append(record)
        return record

    def current_level(self) -> str | None:
        """The furthest level up the ladder that has fired."""
        fired = [lvl.name for lvl in self.policy.levels if self.progress[lvl.name].fired]
        return fired[-1] if fired else None

    def notice_key_for(self, level: str, repeat: int) -> str:
        """The idempotency key of one notice: the same on every retry and replay."""
        return f"{self.notice_key}:{level}:{repeat}"
