"""A ticket's SLA outcome: what reporting needs of it, kept in the workflow's memo.

The workflow writes a :class:`TicketOutcome` to its memo (key :data:`OUTCOME_MEMO`) whenever the
outcome changes: at open, on acknowledge, resolve, reopen and feedback, when a level fires, on
pause and resume, and on a priority change. Temporal's visibility store returns memos with every
list page, so ``escalations report``, ``escalations slo suggest`` and the SLO monitor read
thousands of tickets per request and never query a ticket or fetch its history. The memo is a
payload, so with encryption on it is encrypted like everything else.

Times are business seconds on the calendar each clock ran on; each clock also keeps its
running spans in wall-clock time, so a what-if can re-measure it on another calendar.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_serializer
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from policies.calendar import CalendarSet
from policies.clock import SlaClock
from policies.model import ClockName
from policies.plan_match import DEFAULT_PLAN

OUTCOME_MEMO = "sla_outcome"
OUTCOME_VERSION = 1
# Spans kept per clock: enough for any real ticket (each pause and reopen adds one); a ticket
# paused hundreds of times keeps its first spans and its total, and is marked truncated.
MAX_SPANS = 100


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Span(_Record):
    """A wall-clock interval during which a clock counted (``end`` None: still counting)."""

    start: datetime
    end: datetime | None = None
    calendar: str


class ClockOutcome(_Record):
    """One SLA clock as it stands.

    Attributes:
        target_seconds: The target in business seconds (after any priority change); None
            for a clock without a target (response-only targets), which never breaches.
        business_seconds: Business time counted until the clock stopped, or until ``as_of``
            of the outcome while it still runs or is paused.
        stopped_at: When it stopped for good (first response given, ticket resolved).
        due_at: When it reached (or, running, will reach) its target: for a breached clock,
            the moment of the breach. None if it stopped, or is paused, short of it.
        breached: Whether the business time counted reached the target.
        spans: The wall-clock spans it counted in, oldest first.
        spans_truncated: Whether spans beyond :data:`MAX_SPANS` were left out.
    """

    target_seconds: float | None
    business_seconds: float
    stopped_at: datetime | None = None
    due_at: datetime | None = None
    breached: bool = False
    calendar: str
    spans: list[Span] = []
    spans_truncated: bool = False

    @property
    def stopped(self) -> bool:
        """Whether the clock has stopped for good."""
        return self.stopped_at is not None

    @classmethod
    def of(cls, clock: SlaClock, calendars: CalendarSet, as_of: datetime) -> ClockOutcome:
        """The outcome of ``clock`` at ``as_of`` (its stop time, if it stopped earlier)."""
        until = min(clock.stopped_at, as_of) if clock.stopped_at else as_of
        elapsed = clock.elapsed(until, calendars)
        spans = [Span(start=s.start, end=s.end, calendar=s.calendar) for s in clock.segments]
        return cls(
            target_seconds=None if clock.target is None else clock.target.total_seconds(),
            business_seconds=elapsed.total_seconds(),
            stopped_at=clock.stopped_at,
            due_at=clock.due_at(calendars),
            breached=clock.target is not None and clock.started and elapsed >= clock.target,
            calendar=clock.calendar,
            spans=spans[:MAX_SPANS],
            spans_truncated=len(spans) > MAX_SPANS,
        )


class Pause(_Record):
    """A span the ticket spent paused (waiting on the customer)."""

    start: datetime
    end: datetime | None = None
    reason: str = ""
    after_customer_reply: bool = False
    """Whether the pause began within 5 minutes after a customer message: a pattern to review
    (the customer had just answered, yet the clock stopped)."""


class Reopen(_Record):
    """One reopening of a resolved ticket."""

    at: datetime
    by: str
    reason: str
    resolved_at: datetime


class TicketOutcome(_Record):
    """What reports need of one ticket. Stored as JSON in the ``sla_outcome`` memo.

    ``as_of`` is when it was written: figures of clocks that still run are as of then.
    """

    version: int = OUTCOME_VERSION
    as_of: datetime
    ticket_id: str
    priority: str
    team: str
    customer: str
    policy: str
    policy_version: str
    plan: str = DEFAULT_PLAN
    """The SLA plan in force when it was written (left out of the memo when ``default``)."""
    state: str
    opened_at: datetime
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    clocks: dict[ClockName, ClockOutcome] = {}
    next_reply_cycles: int = 0
    next_reply_breaches: int = 0
    pauses: list[Pause] = []
    paused_seconds: float = 0.0
    escalations: dict[str, int] = Field(default_factory=dict)
    reopens: list[Reopen] = []
    csat: int | None = None
    feedback_at: datetime | None = None

    @property
    def resolved(self) -> bool:
        """Whether the ticket is resolved (and not reopened since)."""
        return self.resolved_at is not None and self.state == "resolved"

    def clock(self, name: ClockName | str) -> ClockOutcome | None:
        """The clock named ``name``, if the ticket has it."""
        return self.clocks.get(ClockName(name))

    def met(self, name: ClockName | str) -> bool | None:
        """Whether the clock stopped within its target; None while it has not stopped."""
        clock = self.clock(name)
        if clock is None or not clock.stopped:
            return None
        return not clock.breached

    @model_serializer(mode="wrap")
    def _without_default_plan(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Tickets of policies without plans (every ticket before plans existed) write the memo
        # they always wrote; reading it back gives the default plan.
        data: dict[str, Any] = handler(self)
        if data.get("plan") == DEFAULT_PLAN:
            del data["plan"]
        return data


def paused_seconds(pauses: list[Pause], as_of: datetime) -> float:
    """Wall-clock seconds spent paused up to ``as_of`` (an open pause counts until then)."""
    total = timedelta(0)
    for pause in pauses:
        end = pause.end if pause.end is not None else as_of
        if end > pause.start:
            total += end - pause.start
    return total.total_seconds()


def escalation_counts(levels: list[str]) -> dict[str, int]:
    """Firings per level name, from the level of each escalation record."""
    return dict(Counter(levels))
