"""A second, plain model of a ticket's SLA clocks: the rule that events count in ``at`` order.

It knows nothing of ``TicketState`` or ``SlaClock``. It sorts the events by their ``at`` (ties
keep arrival order) and walks them once, noting the stretches in which the ticket was live
(open, not paused, not resolved) with the priority in force in each, and when each clock
started and stopped. A clock's business time is then the live time between its start and its
stop, each stretch measured on the calendar of the priority in force during it. Only the
calendars' ``elapsed`` and ``add`` are shared with production: the calendar math has tests of
its own; what this model holds is the ordering of events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from policies.calendar import Calendar, CalendarSet
from policies.model import ClockName, Policy

# The same figure as the production flag it checks: a pause this soon after a customer message
# is flagged for reports.
PAUSE_AFTER_REPLY = timedelta(minutes=5)


@dataclass(frozen=True)
class Event:
    """One update as the ticket received it.

    ``at`` is when it happened: for pause, resume and change_priority, when it arrived.
    """

    kind: str
    at: datetime
    arrived: datetime
    by: str = ""
    priority: str = ""
    reason: str = ""


@dataclass(frozen=True)
class ClockView:
    """What the status shows of one clock."""

    target: timedelta
    calendar: str
    elapsed: timedelta
    due_at: datetime | None
    breached: bool
    started: bool
    running: bool
    stopped_at: datetime | None


@dataclass(frozen=True)
class PauseView:
    start: datetime
    end: datetime | None
    reason: str
    after_customer_reply: bool


@dataclass(frozen=True)
class ReopenView:
    at: datetime
    by: str
    reason: str
    resolved_at: datetime


@dataclass(frozen=True)
class TicketView:
    """The ticket's clocks and the fields the at-order rule covers."""

    state: str
    priority: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    paused_at: datetime | None
    paused_reason: str | None
    next_reply_cycles: int
    next_reply_breaches: int
    last_customer_reply_at: datetime | None
    last_agent_reply_at: datetime | None
    pauses: list[PauseView]
    reopens: list[ReopenView]
    clocks: dict[str, ClockView]


@dataclass
class _Stretch:
    start: datetime
    end: datetime | None
    priority: str


@dataclass
class _Run:
    """One clock's life. ``priority`` gives its target and calendar: the priority in force at
    its stop, or now while it has not stopped."""

    start: datetime | None
    stop: datetime | None
    priority: str


@dataclass
class _Ticket:
    policy: Policy
    calendars: CalendarSet
    priority: str
    opened_at: datetime
    stretches: list[_Stretch] = field(default_factory=list)
    paused: bool = False
    resolved: bool = False
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    last_customer_reply_at: datetime | None = None
    last_agent_reply_at: datetime | None = None
    pauses: list[PauseView] = field(default_factory=list)
    reopens: list[ReopenView] = field(default_factory=list)
    cycles: int = 0
    breaches: int = 0
    runs: dict[ClockName, _Run] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.stretches = [_Stretch(self.opened_at, None, self.priority)]
        self.runs = {
            ClockName.FIRST_RESPONSE: _Run(self.opened_at, None, self.priority),
            ClockName.RESOLUTION: _Run(self.opened_at, None, self.priority),
            ClockName.NEXT_REPLY: _Run(None, None, self.priority),  # idle until a cycle starts
        }

    # -- the events, applied in at order ---------------------------------------------------

    def apply(self, event: Event) -> None:
        at = event.at
        match event.kind:
            case "pause":
                self.pause(at, event.reason)
            case "resume":
                self.resume(at)
            case "change_priority":
                self.change_priority(event.priority, at)
            case "acknowledge":
                self.acknowledge(at, event.by)
            case "agent_replied":
                self.agent_replied(at, event.by)
            case "customer_replied":
                self.customer_replied(at)
            case "resolve":
                self.resolve(at, event.by)
            case "reopen":
                self.reopen(at, event.by, event.reason)
            case _:
                raise ValueError(f"unknown event {event.kind!r}")

    def pause(self, at: datetime, reason: str) -> None:
        if self.resolved or self.paused:
            return
        self.paused = True
        self.stretches[-1].end = at
        replied = self.last_customer_reply_at
        after_reply = replied is not None and timedelta(0) <= at - replied <= PAUSE_AFTER_REPLY
        self.pauses.append(PauseView(at, None, reason, after_reply))

    def resume(self, at: datetime) -> None:
        if not self.paused:
            return
        self.paused = False
        self.stretches.append(_Stretch(at, None, self.priority))
        self._end_pause(at)

    def _end_pause(self, at: datetime) -> None:
        last = self.pauses[-1]
        self.pauses[-1] = PauseView(last.start, at, last.reason, last.after_customer_reply)

    def change_priority(self, priority: str, at: datetime) -> None:
        if priority == self.priority:
            return
        self.priority = priority
        for run in self.runs.values():
            if run.stop is None:
                run.priority = priority
        if self.live:
            self.stretches[-1].end = at
            self.stretches.append(_Stretch(at, None, priority))

    def acknowledge(self, at: datetime, by: str) -> None:
        if self.acknowledged_at is not None:
            return
        self.acknowledged_at, self.acknowledged_by = at, by
        first = self.runs[ClockName.FIRST_RESPONSE]
        if first.stop is None:
            first.stop = at

    def agent_replied(self, at: datetime, by: str) -> None:
        self.last_agent_reply_at = _latest(self.last_agent_reply_at, at)
        if self.acknowledged_at is None:
            self.acknowledge(at, by)
        cycle = self.runs[ClockName.NEXT_REPLY]
        if cycle.start is None or cycle.stop is not None or at < cycle.start:
            return
        cycle.stop = at
        if self.elapsed(cycle, at) >= self.target(ClockName.NEXT_REPLY, cycle):
            self.breaches += 1

    def customer_replied(self, at: datetime) -> None:
        self.last_customer_reply_at = _latest(self.last_customer_reply_at, at)
        if self.paused:
            self.resume(at)
        if self.resolved or self.acknowledged_at is None or at < self.acknowledged_at:
            return
        if self.last_agent_reply_at is not None and at < self.last_agent_reply_at:
            return
        if not self.cycle_in_progress:
            self.start_cycle(at)

    def resolve(self, at: datetime, by: str) -> None:
        if self.resolved:
            return
        if self.paused:
            self.paused = False
            self._end_pause(at)
        else:
            self.stretches[-1].end = at
        self.resolved, self.resolved_at, self.resolved_by = True, at, by
        for run in self.runs.values():
            if run.stop is None:
                run.stop = at

    def reopen(self, at: datetime, by: str, reason: str) -> None:
        if not self.resolved or self.resolved_at is None:
            return
        undone = self.resolved_at
        self.reopens.append(ReopenView(at, by, reason, undone))
        self.resolved, self.resolved_at, self.resolved_by = False, None, None
        self.stretches.append(_Stretch(at, None, self.priority))
        resolution = self.runs[ClockName.RESOLUTION]
        resolution.stop, resolution.priority = None, self.priority
        message = self.last_customer_reply_at
        if (
            message is not None
            and message > undone
            and self.acknowledged_at is not None
            and (self.last_agent_reply_at is None or self.last_agent_reply_at < message)
            and not self.cycle_in_progress
        ):
            self.start_cycle(at)

    def start_cycle(self, at: datetime) -> None:
        self.runs[ClockName.NEXT_REPLY] = _Run(at, None, self.priority)
        self.cycles += 1

    @property
    def live(self) -> bool:
        return not self.paused and not self.resolved

    @property
    def cycle_in_progress(self) -> bool:
        cycle = self.runs[ClockName.NEXT_REPLY]
        return cycle.start is not None and cycle.stop is None

    # -- measuring -------------------------------------------------------------------------

    def intervals(self, run: _Run) -> list[tuple[datetime, datetime | None, Calendar]]:
        """The live stretches within [run.start, run.stop), each with its calendar; the last
        one has no end while the clock counts."""
        found: list[tuple[datetime, datetime | None, Calendar]] = []
        if run.start is None:
            return found
        for stretch in self.stretches:
            start = max(stretch.start, run.start)
            ends = [e for e in (stretch.end, run.stop) if e is not None]
            end = min(ends) if ends else None
            if end is not None and end < start:
                continue
            calendar = self.calendars[self.policy.targets[stretch.priority].calendar]
            found.append((start, end, calendar))
        return found

    def elapsed(self, run: _Run, until: datetime) -> timedelta:
        return sum(
            (
                calendar.elapsed(start, min(end or until, until))
                for start, end, calendar in self.intervals(run)
            ),
            timedelta(0),
        )

    def due_at(self, run: _Run, target: timedelta) -> datetime | None:
        counted = timedelta(0)
        for start, end, calendar in self.intervals(run):
            remaining = target - counted
            if end is None:
                return calendar.add(start, remaining)
            length = calendar.elapsed(start, end)
            if length >= remaining:
                return calendar.add(start, remaining)
            counted += length
        return None

    def target(self, name: ClockName, run: _Run) -> timedelta:
        target = self.policy.targets[run.priority].for_clock(name)
        # The model counts plain durations only: its policies have no working-day targets and
        # every clock has one.
        assert isinstance(target, timedelta)
        return target

    def clock(self, name: ClockName, now: datetime) -> ClockView:
        run = self.runs[name]
        target = self.target(name, run)
        elapsed = self.elapsed(run, run.stop or now)
        started = run.start is not None
        return ClockView(
            target=target,
            calendar=self.policy.targets[run.priority].calendar,
            elapsed=elapsed,
            due_at=self.due_at(run, target),
            breached=started and elapsed >= target,
            started=started,
            running=started and run.stop is None and self.live,
            stopped_at=run.stop,
        )

    def view(self, now: datetime) -> TicketView:
        state = (
            "resolved"
            if self.resolved
            else "paused"
            if self.paused
            else "acknowledged"
            if self.acknowledged_at is not None
            else "open"
        )
        pause = self.pauses[-1] if self.paused else None
        return TicketView(
            state=state,
            priority=self.priority,
            acknowledged_at=self.acknowledged_at,
            acknowledged_by=self.acknowledged_by,
            resolved_at=self.resolved_at,
            resolved_by=self.resolved_by,
            paused_at=pause.start if pause else None,
            paused_reason=pause.reason if pause else None,
            next_reply_cycles=self.cycles,
            next_reply_breaches=self.breaches,
            last_customer_reply_at=self.last_customer_reply_at,
            last_agent_reply_at=self.last_agent_reply_at,
            pauses=list(self.pauses),
            reopens=list(self.reopens),
            clocks={name.value: self.clock(name, now) for name in ClockName},
        )


def _latest(current: datetime | None, at: datetime) -> datetime:
    return at if current is None or at > current else current


def expected(
    policy: Policy,
    calendars: CalendarSet,
    priority: str,
    opened_at: datetime,
    events: list[Event],
    now: datetime,
) -> TicketView:
    """The ticket as it stands at ``now`` when ``events`` (in arrival order) count in the
    order of their ``at``."""
    ticket = _Ticket(policy, calendars, priority, opened_at)
    for event in sorted(events, key=lambda e: e.at):  # sorted() is stable: ties keep arrival
        ticket.apply(event)
    return ticket.view(now)
