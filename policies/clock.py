"""One SLA clock (first response, resolution) as plain, serialisable state.

A clock is a list of running segments. Pausing closes the open segment; resuming opens a new one;
a priority change closes it and opens one on the new priority's calendar. Business time is
measured per segment on the calendar that segment ran on, so time already elapsed is kept
exactly when a ticket moves between calendars, and paused spans count nothing wherever they fall.
The state is a pydantic model so a workflow can carry it through continue-as-new unchanged.

A clock without a target (the resolution clock of response-only targets) counts all the same,
but never falls due and never breaches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from policies.business_timeline import BeyondReach
from policies.calendar import CalendarSet


class ClockSegment(BaseModel):
    """A span during which the clock ran, measured on ``calendar``."""

    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime | None = None
    calendar: str


class SlaClock(BaseModel):
    """The state of one SLA clock. All methods are pure; mutators change this object only."""

    model_config = ConfigDict(extra="forbid")

    target: timedelta | None
    """Business time until due; None: the clock only measures."""
    calendar: str
    segments: list[ClockSegment] = []
    stopped_at: datetime | None = None

    @property
    def started(self) -> bool:
        """Whether the clock has ever run."""
        return bool(self.segments)

    @property
    def started_at(self) -> datetime | None:
        """When the clock first counted (working-day targets are resolved from then)."""
        return self.segments[0].start if self.segments else None

    @property
    def running(self) -> bool:
        """Whether the clock counts time right now (started, not paused, not stopped)."""
        return bool(self.segments) and self.segments[-1].end is None

    @property
    def stopped(self) -> bool:
        """Whether the clock has stopped for good (acknowledged, resolved)."""
        return self.stopped_at is not None

    def start(self, at: datetime) -> None:
        """Start (or resume) counting at ``at``; a no-op if running or stopped."""
        if not self.running and not self.stopped:
            self.segments.append(ClockSegment(start=at, calendar=self.calendar))

    def pause(self, at: datetime) -> None:
        """Stop counting at ``at`` until :meth:`start` is called again."""
        if self.running:
            self.segments[-1].end = max(at, self.segments[-1].start)

    def stop(self, at: datetime) -> None:
        """Stop for good at ``at``, which may lie in the past (an event reported late).

        Segments after ``at`` are dropped and the one containing it is cut there, so the clock
        reads exactly what it read at ``at``.
        """
        if self.stopped:
            return
        # A segment starting exactly at ``at`` stays, empty: the clock did start.
        self.segments = [s for s in self.segments if s.start <= at]
        if self.segments:
            last = self.segments[-1]
            if last.end is None or last.end > at:
                last.end = at
        self.stopped_at = at

    def reopen(self, at: datetime) -> None:
        """Count again from ``at`` after a stop (a resolved ticket reopened): the time between
        the stop and ``at`` counts nothing, and the time counted before it is kept."""
        if not self.stopped:
            return
        self.stopped_at = None
        self.segments.append(ClockSegment(start=at, calendar=self.calendar))

    def retarget(self, target: timedelta | None, calendar: str, at: datetime) -> None:
        """Change target and calendar at ``at``, keeping the business time already elapsed."""
        was_running = self.running
        if was_running and calendar != self.calendar:
            self.pause(at)
        self.target = target
        self.calendar = calendar
        if was_running:
            self.start(at)

    def elapsed(self, now: datetime, calendars: CalendarSet) -> timedelta:
        """Business time counted up to ``now``."""
        total = timedelta(0)
        for seg in self.segments:
            end = seg.end if seg.end is not None else now
            total += calendars[seg.calendar].elapsed(seg.start, min(end, now))
        return total

    def reached_at(self, business_time: timedelta, calendars: CalendarSet) -> datetime | None:
        """The instant the clock reached (or, if running, will reach) ``business_time``.

        None when it never did and will not without a resume.
        """
        counted = timedelta(0)
        for seg in self.segments:
            cal = calendars[seg.calendar]
            remaining = business_time - counted
            if seg.end is None or (length := cal.elapsed(seg.start, seg.end)) >= remaining:
                try:
                    return cal.add(seg.start, max(remaining, timedelta(0)))
                except BeyondReach:
                    # Centuries of a sparse calendar (10,000% of a year-long target): never,
                    # rather than an error that would fail every workflow task of the ticket.
                    return None
            counted += length
        return None

    def due_at(self, calendars: CalendarSet) -> datetime | None:
        """When the target falls (fell) due; None while paused short of it, never started, or
        without a target."""
        if self.target is None:
            return None
        return self.reached_at(self.target, calendars)

    def breached(self, now: datetime, calendars: CalendarSet) -> bool:
        """Whether the business time counted by ``now`` has reached the target (never, without
        one)."""
        if self.target is None or not self.started:
            return False
        return self.elapsed(now, calendars) >= self.target
