"""A second, plain model of the escalation ladder: which notices a ticket sends, and when.

It knows nothing of ``policies.ladder``, ``TicketState`` or ``SlaClock``: its policies are the
small dataclasses below, its clocks lists of wall-clock spans. It covers tickets whose events
arrive in order (no ``at`` in the past) on 24x7 calendars, where business time is wall time.

The rules, as the model keeps them:

- A condition's *since*. A clock part: the instant its clock reached the threshold (share of
  the target, or the target minus/plus a duration), counting the spans it ran; it holds only
  while the clock has not stopped (a next-reply part: while a cycle is in progress); a running
  clock short of it holds from the instant it will get there, a paused one not at all. A field
  part: the instant of the update (or the opening) since which it has held without a break.
  ``any``: the earliest part that holds; ``all``: the latest, none unless every part holds.
- Not live: inside a pause ``[start, end)`` or a resolved stretch ``[resolved, reopened)``.
- The first notice is due at since, or, if the ticket was not live then, when it next became
  live. Repeats sit on the grid ``first_due + k * every``: each takes the first point after the
  slot of the previous notice that is at or after since and live, ``times`` repeats at most.
  Nothing fires while the ticket is paused or resolved. A level's ``priorities`` is one more
  part of its condition (``all`` of it and ``priority in priorities``): a level the priority
  change lets in is due at the change.
- Levels due at the same instant fire together in policy order; a level's ``set_priority``
  applies when it fires, and what it makes due fires next, at the same instant.
- A new next-reply cycle starts the next-reply levels afresh (repeat 0 again), unless the
  condition already holds without its next-reply parts. Their notices carry the cycle number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal

Clock = Literal["first_response", "resolution", "next_reply"]
Field = Literal["affected_users", "critical_service", "priority"]
Op = Literal["eq", "in", "gte", "gt", "lte", "lt"]
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class ClockPart:
    """True once ``clock`` has counted its threshold: exactly one of the three is set."""

    clock: Clock
    percent: int | None = None
    before_breach: timedelta | None = None
    after_breach: timedelta | None = None

    def threshold(self, target: timedelta) -> timedelta:
        """The business time at which the part becomes true."""
        if self.percent is not None:
            share, rest = divmod(target // MICROSECOND * self.percent, 100)
            assert not rest, "choose targets whose shares are whole microseconds"
            return share * MICROSECOND
        if self.after_breach is not None:
            return target + self.after_breach
        assert self.before_breach is not None
        return max(target - self.before_breach, timedelta(0))


@dataclass(frozen=True)
class FieldPart:
    """True while the ticket's ``field`` compares as stated (``in``: a tuple of values)."""

    field: Field
    op: Op
    value: int | bool | str | tuple[str, ...]

    def holds(self, facts: Facts) -> bool:
        """Whether it is true of ``facts``."""
        value = getattr(facts, self.field)
        if self.op == "eq":
            return bool(value == self.value)
        if self.op == "in":
            assert isinstance(self.value, tuple)
            return value in self.value
        assert isinstance(value, int)
        assert isinstance(self.value, int)
        return {
            "gte": value >= self.value,
            "gt": value > self.value,
            "lte": value <= self.value,
            "lt": value < self.value,
        }[self.op]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


Condition = ClockPart | FieldPart | AnyOf | AllOf


@dataclass(frozen=True)
class LevelRule:
    """One rung: ``every`` and ``times`` set together, or neither."""

    name: str
    when: Condition
    every: timedelta | None = None
    times: int = 0
    set_priority: str | None = None
    priorities: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Targets:
    first_response: timedelta
    resolution: timedelta
    next_reply: timedelta

    def of(self, clock: Clock) -> timedelta:
        """The target of one clock."""
        target: timedelta = getattr(self, clock)
        return target


@dataclass(frozen=True)
class PolicyRules:
    """What the model needs of a policy whose priorities all run 24x7."""

    name: str
    targets: dict[str, Targets]
    levels: tuple[LevelRule, ...]


@dataclass(frozen=True)
class Facts:
    """The fields conditions test."""

    priority: str
    affected_users: int
    critical_service: bool


EventKind = Literal[
    "pause",
    "resume",
    "change_priority",
    "update_impact",
    "acknowledge",
    "customer_replied",
    "agent_replied",
    "resolve",
    "reopen",
]


@dataclass(frozen=True)
class Event:
    """One update, applied at ``at`` (the instant the ticket received it)."""

    at: datetime
    kind: EventKind
    priority: str | None = None
    affected_users: int | None = None
    critical_service: bool | None = None


NoticeKey = tuple[str, int, int]
"""A notice's level, next-reply cycle and repeat number."""


@dataclass(frozen=True)
class Notice:
    """One firing: the first notice of a level (repeat 0) or its nth repeat."""

    level: str
    repeat: int
    cycle: int
    due_at: datetime
    fired_at: datetime

    @property
    def key(self) -> NoticeKey:
        return (self.level, self.cycle, self.repeat)


@dataclass(frozen=True)
class Ladder:
    """What the model predicts: the notices, and the spans in which the ticket was paused or
    resolved (``end`` None: still)."""

    notices: list[Notice]
    not_live: list[tuple[datetime, datetime | None]]


@dataclass
class _Clock:
    target: timedelta
    spans: list[list[datetime | None]] = field(default_factory=list)
    stopped: bool = False

    @property
    def started(self) -> bool:
        return bool(self.spans)

    @property
    def running(self) -> bool:
        return bool(self.spans) and self.spans[-1][1] is None and not self.stopped

    def start(self, at: datetime) -> None:
        if not self.running and not self.stopped:
            self.spans.append([at, None])

    def pause(self, at: datetime) -> None:
        if self.running:
            self.spans[-1][1] = at

    def stop(self, at: datetime) -> None:
        self.pause(at)
        self.stopped = True

    def reached(self, business_time: timedelta) -> datetime | None:
        """When it counted (or, running, will count) ``business_time``; None if it never does
        without a resume."""
        counted = timedelta(0)
        for start, end in self.spans:
            assert start is not None
            left = business_time - counted
            if end is None or end - start >= left:
                return start + left
            counted += end - start
        return None


@dataclass
class _Progress:
    fired: int = 0
    first_due: datetime | None = None
    last_fired: datetime | None = None


class _Ticket:
    def __init__(
        self,
        policy: PolicyRules,
        opened_at: datetime,
        facts: Facts,
        acted_at: Mapping[NoticeKey, datetime],
    ) -> None:
        self.policy = policy
        self.acted_at = acted_at
        self.history: list[tuple[datetime, Facts]] = [(opened_at, facts)]
        targets = policy.targets[facts.priority]
        self.clocks: dict[Clock, _Clock] = {
            name: _Clock(targets.of(name))
            for name in ("first_response", "resolution", "next_reply")
        }
        self.clocks["first_response"].start(opened_at)
        self.clocks["resolution"].start(opened_at)
        self.paused = self.resolved = False
        self.resolved_at: datetime | None = None
        self.acknowledged_at: datetime | None = None
        self.last_agent: datetime | None = None
        self.last_customer: datetime | None = None
        self.cycles = 0
        self.progress = {level.name: _Progress() for level in policy.levels}
        self.notices: list[Notice] = []
        self.not_live: list[tuple[datetime, datetime | None]] = []

    @property
    def facts(self) -> Facts:
        return self.history[-1][1]

    # -- conditions -------------------------------------------------------------------------

    def since(self, condition: Condition, *, without_reply: bool = False) -> datetime | None:
        if isinstance(condition, ClockPart):
            clock = self.clocks[condition.clock]
            if without_reply and condition.clock == "next_reply":
                return None
            if not clock.started or clock.stopped:
                return None
            return clock.reached(condition.threshold(clock.target))
        if isinstance(condition, FieldPart):
            held = None
            for at, facts in reversed(self.history):
                if not condition.holds(facts):
                    break
                held = at
            return held
        parts = [self.since(c, without_reply=without_reply) for c in condition.parts]
        known = [p for p in parts if p is not None]
        if isinstance(condition, AllOf):
            return max(known) if len(known) == len(parts) else None
        return min(known) if known else None

    def first_live(self, at: datetime) -> datetime | None:
        """``at`` if the ticket was live then, else when it next became live (None: not yet)."""
        moved = True
        while moved:
            moved = False
            for start, end in self.not_live:
                if start <= at and (end is None or at < end):
                    if end is None:
                        return None
                    at, moved = end, True
        return at

    def next_due(self, level: LevelRule) -> datetime | None:
        if level.priorities is not None and self.facts.priority not in level.priorities:
            return None
        when = level.when
        if level.priorities is not None:
            when = AllOf((when, FieldPart("priority", "in", level.priorities)))
        since = self.since(when)
        if since is None:
            return None
        progress = self.progress[level.name]
        if progress.fired == 0:
            return self.first_live(since)
        if level.every is None or progress.fired > level.times:
            return None
        assert progress.first_due is not None
        assert progress.last_fired is not None
        first, every = progress.first_due, level.every
        slot = (progress.last_fired - first) // every + 1
        reaches = -((first - since) // every)  # the first k with first + k * every >= since
        k = max(slot, reaches, 1)
        while (live := self.first_live(first + k * every)) != first + k * every:
            if live is None:
                return None
            k += 1
        return first + k * every

    # -- firing -----------------------------------------------------------------------------

    def fire_due(self, now: datetime) -> None:
        for _ in range(1 + sum(1 + lvl.times for lvl in self.policy.levels)):
            if self.paused or self.resolved:
                return
            batch = [
                (level, due)
                for level in self.policy.levels
                if (due := self.next_due(level)) is not None and due <= now
            ]
            if not batch:
                return
            for level, due in batch:
                self.fire(level, due, now)
        raise AssertionError("the ladder did not settle")

    def fire(self, level: LevelRule, due: datetime, now: datetime) -> None:
        progress = self.progress[level.name]
        cycle = self.cycles if _uses_reply(level.when) else 0
        notice = Notice(level.name, progress.fired, cycle, due, now)
        self.notices.append(notice)
        if progress.fired == 0:
            progress.first_due = due
        progress.fired += 1
        progress.last_fired = now
        if level.set_priority is not None:
            self.change_priority(self.acted_at.get(notice.key, now), level.set_priority)

    def advance(self, until: datetime, *, inclusive: bool) -> None:
        """Fire what falls due before ``until`` (or at it, if ``inclusive``)."""
        while not (self.paused or self.resolved):
            dues = [d for lvl in self.policy.levels if (d := self.next_due(lvl)) is not None]
            if not dues:
                return
            due = min(dues)
            if due > until or (due == until and not inclusive):
                return
            self.fire_due(due)

    # -- events -----------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        at = event.at
        match event.kind:
            case "pause":
                assert not self.paused
                assert not self.resolved
                for clock in self.clocks.values():
                    clock.pause(at)
                self.paused = True
                self.not_live.append((at, None))
            case "resume":
                assert self.paused
                self.resume(at)
            case "change_priority":
                assert event.priority is not None
                self.change_priority(at, event.priority)
            case "update_impact":
                facts = self.facts
                if event.affected_users is not None:
                    facts = replace(facts, affected_users=event.affected_users)
                if event.critical_service is not None:
                    facts = replace(facts, critical_service=event.critical_service)
                self.history.append((at, facts))
            case "acknowledge":
                self.acknowledge(at)
            case "agent_replied":
                self.last_agent = at
                self.acknowledge(at)
                reply = self.clocks["next_reply"]
                if reply.started and not reply.stopped:
                    reply.stop(at)
            case "customer_replied":
                self.last_customer = at
                if self.paused:
                    self.resume(at)
                reply = self.clocks["next_reply"]
                if (
                    self.acknowledged_at is not None
                    and (self.last_agent is None or at >= self.last_agent)
                    and not (reply.started and not reply.stopped)
                ):
                    self.start_cycle(at)
            case "resolve":
                assert not self.resolved
                for clock in self.clocks.values():
                    clock.stop(at)
                if self.paused:
                    self.live_again(at)
                    self.paused = False
                self.resolved, self.resolved_at = True, at
                self.not_live.append((at, None))
            case "reopen":
                assert self.resolved
                assert self.resolved_at is not None
                resolution = self.clocks["resolution"]
                resolution.stopped = False
                resolution.target = self.policy.targets[self.facts.priority].resolution
                resolution.start(at)
                self.resolved = False
                self.live_again(at)
                message, reply_at = self.last_customer, self.last_agent
                if (
                    message is not None
                    and message > self.resolved_at
                    and self.acknowledged_at is not None
                    and (reply_at is None or reply_at < message)
                ):
                    self.start_cycle(at)

    def resume(self, at: datetime) -> None:
        for clock in self.clocks.values():
            if clock.started:
                clock.start(at)
        self.paused = False
        self.live_again(at)

    def live_again(self, at: datetime) -> None:
        start, end = self.not_live[-1]
        assert end is None
        self.not_live[-1] = (start, at)

    def acknowledge(self, at: datetime) -> None:
        if self.acknowledged_at is None:
            self.acknowledged_at = at
            self.clocks["first_response"].stop(at)

    def change_priority(self, at: datetime, priority: str) -> None:
        if priority == self.facts.priority:
            return
        targets = self.policy.targets[priority]
        for name, clock in self.clocks.items():
            if not clock.stopped:
                clock.target = targets.of(name)
        self.history.append((at, replace(self.facts, priority=priority)))

    def start_cycle(self, at: datetime) -> None:
        self.clocks["next_reply"] = _Clock(self.policy.targets[self.facts.priority].next_reply)
        self.clocks["next_reply"].start(at)
        self.cycles += 1
        for level in self.policy.levels:
            if not _uses_reply(level.when):
                continue
            holds = self.since(level.when, without_reply=True)
            if holds is None or holds > at:
                self.progress[level.name] = _Progress()


def _uses_reply(condition: Condition) -> bool:
    if isinstance(condition, ClockPart):
        return condition.clock == "next_reply"
    if isinstance(condition, FieldPart):
        return False
    return any(_uses_reply(c) for c in condition.parts)


def ladder(
    policy: PolicyRules,
    opened_at: datetime,
    facts: Facts,
    events: list[Event],
    until: datetime,
    acted_at: Mapping[NoticeKey, datetime] | None = None,
) -> Ladder:
    """The notices a ticket opened at ``opened_at`` with ``facts`` sends by ``until``.

    ``events`` are its updates in the order they arrived (their ``at``s non-decreasing).
    ``acted_at`` maps a notice to the instant the workflow applied its level's
    ``set_priority`` (a few milliseconds after the due time of a timer); the model otherwise
    takes the due time (or the update that made it due).
    """
    ticket = _Ticket(policy, opened_at, facts, acted_at or {})
    ticket.fire_due(opened_at)
    for event in events:
        ticket.advance(event.at, inclusive=False)
        ticket.apply(event)
        ticket.fire_due(event.at)
    ticket.advance(until, inclusive=True)
    return Ladder(ticket.notices, ticket.not_live)
