"""A ticket's clocks end up as if every event had arrived in the order of its ``at``.

Updates that report an event (acknowledge, resolve, reopen, customer_replied, agent_replied) may
arrive late. A hypothesis property plays random updates on :class:`TicketState` as they arrive,
each valid against the ticket as it stands then, and holds every clock, to the microsecond, to a
plain model that sorts the same events by ``at`` (``clock_reference``). Business-hours
calendars in zones with DST changes, lunch breaks and holidays, and priorities on different
calendars, make each stretch's calendar matter. Worked examples pin the reported reproduction
and the four decided cases.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from policies.calendar import policy_calendars
from policies.loader import parse_policy
from tests.workflows.clock_reference import (
    ClockView,
    Event,
    PauseView,
    ReopenView,
    TicketView,
    expected,
)
from tests.workflows.tickets import open_state
from workflows.ticket_messages import ClockStatus, build_status
from workflows.ticket_state import TicketState

POLICY = parse_policy(
    """
name: at-order
version: 1
calendars:
  new-york:
    timezone: America/New_York
    hours: {mon-fri: ["09:00-12:00", "13:00-17:30"]}
    holidays: {country: US}
    open: {"12-24": ["09:00-13:00"]}
    closed: ["12-31"]
  london:
    timezone: Europe/London
    hours: {mon-fri: ["08:00-12:30", "13:15-18:00"], sat: ["10:00-14:00"]}
    holidays: {country: GB, subdivision: ENG}
  sydney:
    timezone: Australia/Sydney
    hours: {mon-fri: ["07:00-19:00"], sat: ["23:00-03:00"]}
    holidays: {country: AU, subdivision: NSW}
targets:
  P1: {first_response: 15m, resolution: 4h, next_reply: 30m}
  P2: {first_response: 1h, resolution: 8h, next_reply: 2h}
  P3: {first_response: 2h, resolution: 16h, next_reply: 4h, calendar: new-york}
  P4: {first_response: 30m, resolution: 3h, next_reply: 45m, calendar: london}
  P5: {first_response: 1h30m, resolution: 1d, next_reply: 1h, calendar: sydney}
contacts:
  team_lead: [lead@example.com]
levels:
  - name: reply-overdue
    when: {clock: next_reply, at: 100%}
    notify: [team_lead]
  - name: resolution-breached
    when: {clock: resolution, at: 100%}
    notify: [team_lead]
""",
    "at-order test policy",
)
CALENDARS = policy_calendars(POLICY)
PRIORITIES = list(POLICY.targets)


def open_ticket(priority: str, opened_at: datetime) -> TicketState:
    return open_state(POLICY, opened_at, priority)


def deliver(state: TicketState, event: Event) -> None:
    """Apply ``event`` to ``state`` when it arrives, as the workflow's update handler does."""
    at, now = event.at, event.arrived
    match event.kind:
        case "pause":
            state.pause(event.reason, now)
        case "resume":
            state.resume(now)
        case "change_priority":
            state.change_priority(event.priority, now)
        case "acknowledge":
            state.acknowledge(event.by, at)
        case "agent_replied":
            state.agent_replied(event.by, at, CALENDARS)
        case "customer_replied":
            state.customer_replied(at, now, CALENDARS)
        case "resolve":
            state.resolve(event.by, at, None)
        case "reopen":
            state.reopen(event.by, at, event.reason)
        case _:
            raise ValueError(f"unknown event {event.kind!r}")


def view_of(state: TicketState, now: datetime) -> TicketView:
    """Production's status at ``now``, in the reference model's terms."""
    status = build_status(state, now, CALENDARS)
    return TicketView(
        state=status.state.value,
        priority=status.priority,
        acknowledged_at=status.acknowledged_at,
        acknowledged_by=status.acknowledged_by,
        resolved_at=status.resolved_at,
        resolved_by=status.resolved_by,
        paused_at=status.paused_at,
        paused_reason=status.paused_reason,
        next_reply_cycles=status.next_reply_cycles,
        next_reply_breaches=status.next_reply_breaches,
        last_customer_reply_at=state.last_customer_reply_at,
        last_agent_reply_at=state.last_agent_reply_at,
        pauses=[PauseView(p.start, p.end, p.reason, p.after_customer_reply) for p in state.pauses],
        reopens=[ReopenView(r.at, r.by, r.reason, r.resolved_at) for r in state.reopens],
        clocks={name: _clock_view(c) for name, c in status.clocks.items()},
    )


def _clock_view(clock: ClockStatus) -> ClockView:
    # Every priority of POLICY has a plain-duration target on every clock.
    assert clock.target is not None
    return ClockView(
        target=clock.target,
        calendar=clock.calendar,
        elapsed=clock.elapsed,
        due_at=clock.due_at,
        breached=clock.breached,
        started=clock.started,
        running=clock.running,
        stopped_at=clock.stopped_at,
    )


def play(
    priority: str, opened_at: datetime, events: list[Event], now: datetime
) -> tuple[TicketView, TicketView]:
    """The ticket at ``now``: production after ``events`` in arrival order, and the reference."""
    state = open_ticket(priority, opened_at)
    for event in events:
        deliver(state, event)
    return view_of(state, now), expected(POLICY, CALENDARS, priority, opened_at, events, now)


# -- worked examples -------------------------------------------------------------------------

# Tuesday 2 June 2026: New York is on EDT (UTC-4) and its office opens 09:00-12:00, 13:00-17:30.
DAY = datetime(2026, 6, 2, tzinfo=UTC)


def utc(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


def on(kind: str, arrived: datetime, at: datetime | None = None, **details: str) -> Event:
    """An update arriving at ``arrived`` that reports an event at ``at`` (default: then)."""
    return Event(kind, at=at or arrived, arrived=arrived, **details)


def test_the_reported_reproduction_counts_a_late_message_from_its_at() -> None:
    """A message stamped before a pause, reported after the resume, counts from its ``at``."""
    # P1 on 24x7: first response 15m, resolution 4h, next reply 30m.
    events = [
        on("acknowledge", utc(9), by="alice"),
        on("pause", utc(10, 10), reason="waiting on logs"),
        on("resume", utc(10, 40)),
        on("customer_replied", utc(10, 45), at=utc(10)),
    ]
    ticket, reference = play("P1", utc(9), events, now=utc(10, 45))
    reply = ticket.clocks["next_reply"]
    # 10:00-10:10 and 10:40-10:45: the pause counts nothing.
    assert reply.elapsed == timedelta(minutes=15)
    assert not reply.breached
    assert reply.due_at == utc(11)
    assert reply.running
    assert ticket.next_reply_cycles == 1
    assert ticket == reference


def test_a_message_before_a_resolve_reported_after_the_reopening() -> None:
    """Decided case 1: its cycle counts from the message to the resolve only."""
    events = [
        on("acknowledge", utc(9, 5), by="alice"),
        on("resolve", utc(9, 50), by="alice"),
        on("reopen", utc(10), by="bob", reason="still broken"),
        on("customer_replied", utc(10, 10), at=utc(9, 30)),
    ]
    ticket, reference = play("P1", utc(9), events, now=utc(10, 15))
    reply = ticket.clocks["next_reply"]
    # The cycle ran from the message until the resolve ended it; the reopening starts none.
    assert reply.elapsed == timedelta(minutes=20)
    assert reply.stopped_at == utc(9, 50)
    assert not reply.running
    assert not reply.breached
    assert reply.due_at is None
    assert ticket.next_reply_cycles == 1
    resolution = ticket.clocks["resolution"]
    assert resolution.elapsed == timedelta(minutes=50 + 15)  # the resolved time counts nothing
    assert resolution.due_at == utc(13, 10)
    assert ticket == reference


def test_a_message_while_resolved_reported_after_the_reopening_waits_from_the_reopening() -> None:
    """A message stamped after the resolution being undone is owed an answer from the
    reopening."""
    events = [
        on("acknowledge", utc(9, 5), by="alice"),
        on("resolve", utc(9, 50), by="alice"),
        on("reopen", utc(10), by="bob", reason="still broken"),
        on("customer_replied", utc(10, 10), at=utc(9, 55)),
    ]
    ticket, reference = play("P1", utc(9), events, now=utc(10, 15))
    reply = ticket.clocks["next_reply"]
    # The message waited while the ticket was resolved: its cycle counts from the reopening.
    assert reply.elapsed == timedelta(minutes=15)
    assert reply.due_at == utc(10, 30)
    assert reply.running
    assert ticket.next_reply_cycles == 1
    assert ticket == reference


def test_a_reopening_before_the_first_response_starts_no_cycle() -> None:
    # The resolve is reported late, so the message falls while the ticket was resolved; but no
    # first response has been given, and next-reply cycles only follow one.
    events = [
        on("customer_replied", utc(9, 10)),
        on("resolve", utc(9, 15), at=utc(9, 5), by="alice"),
        on("reopen", utc(9, 20), by="alice", reason="still broken"),
    ]
    ticket, reference = play("P1", utc(9), events, now=utc(9, 30))
    assert ticket.state == "open"
    assert ticket.next_reply_cycles == 0
    assert not ticket.clocks["next_reply"].started
    assert ticket.clocks["first_response"].stopped_at == utc(9, 5)
    assert ticket == reference


def test_a_message_before_the_pause_stops_at_the_pause_and_does_not_resume() -> None:
    """Decided case 2: its cycle starts at the message, stops at the pause, and counts again
    on resume."""
    events = [
        on("acknowledge", utc(9), by="alice"),
        on("pause", utc(10, 10), reason="waiting on logs"),
        on("customer_replied", utc(10, 20), at=utc(10)),
    ]
    ticket, reference = play("P1", utc(9), events, now=utc(10, 30))
    assert ticket.state == "paused"
    assert ticket.paused_at == utc(10, 10)
    reply = ticket.clocks["next_reply"]
    assert reply.started
    assert not reply.running
    assert reply.elapsed == timedelta(minutes=10)
    assert reply.due_at is None  # paused short of its target
    assert ticket == reference

    # Resumed, it counts again from the resume.
    events.append(on("resume", utc(10, 40)))
    ticket, reference = play("P1", utc(9), events, now=utc(10, 45))
    reply = ticket.clocks["next_reply"]
    assert reply.running
    assert reply.elapsed == timedelta(minutes=15)
    assert reply.due_at == utc(11)
    assert ticket == reference


def test_a_late_acknowledge_is_judged_on_the_target_in_force_at_its_at() -> None:
    """Decided case 3: a raise after the acknowledgement does not re-target the stopped
    clock."""
    # P2 (first response 1h) raised to P1 (15m) at 09:20.
    raise_at_0920 = on("change_priority", utc(9, 20), priority="P1")

    before = [raise_at_0920, on("acknowledge", utc(9, 30), at=utc(9, 18), by="alice")]
    ticket, reference = play("P2", utc(9), before, now=utc(9, 30))
    first = ticket.clocks["first_response"]
    assert first.target == timedelta(hours=1)
    assert first.elapsed == timedelta(minutes=18)
    assert not first.breached
    assert first.stopped_at == utc(9, 18)
    assert first.due_at is None
    assert ticket.clocks["resolution"].target == timedelta(hours=4)  # still counting: P1's
    assert ticket == reference

    after = [raise_at_0920, on("acknowledge", utc(9, 30), at=utc(9, 25), by="alice")]
    ticket, reference = play("P2", utc(9), after, now=utc(9, 30))
    first = ticket.clocks["first_response"]
    assert first.target == timedelta(minutes=15)
    assert first.elapsed == timedelta(minutes=25)
    assert first.breached
    assert first.due_at == utc(9, 15)
    assert ticket == reference


def test_a_message_on_a_paused_ticket_before_a_priority_change_counts_on_each_calendar() -> None:
    """Decided case 4: it resumes the ticket at the message on the old priority's calendar;
    from the change on, the clocks count on the new one."""
    # P1 (24x7) lowered to P3 (the New York office) at 16:30 UTC, 12:30 in New York: lunch.
    events = [
        on("acknowledge", utc(14), by="alice"),
        on("pause", utc(14, 10), reason="waiting on the customer"),
        on("change_priority", utc(16, 30), priority="P3"),
        on("customer_replied", utc(17, 30), at=utc(16)),
    ]
    ticket, reference = play("P1", utc(14), events, now=utc(17, 30))
    assert ticket.state == "acknowledged"
    assert ticket.pauses == [PauseView(utc(14, 10), utc(16), "waiting on the customer", False)]
    reply = ticket.clocks["next_reply"]
    # 16:00-16:30 on 24x7 (30m), then 12:30-13:30 in New York on the office's hours (30m).
    assert reply.elapsed == timedelta(hours=1)
    assert (reply.target, reply.calendar) == (timedelta(hours=4), "new-york")
    assert reply.due_at == utc(20, 30)  # 16:30 in New York
    resolution = ticket.clocks["resolution"]
    assert resolution.elapsed == timedelta(minutes=10 + 30 + 30)
    assert (resolution.target, resolution.calendar) == (timedelta(hours=16), "new-york")
    # 15h20m of office hours from Tuesday 12:30: Thursday 13:20 in New York.
    assert resolution.due_at == datetime(2026, 6, 4, 17, 20, tzinfo=UTC)
    assert ticket == reference


def test_of_two_acknowledgements_the_earlier_at_wins() -> None:
    events = [
        on("acknowledge", utc(9, 20), by="alice"),
        on("acknowledge", utc(9, 30), at=utc(9, 10), by="bob"),
    ]
    ticket, reference = play("P1", utc(9), events, now=utc(9, 30))
    assert (ticket.acknowledged_at, ticket.acknowledged_by) == (utc(9, 10), "bob")
    assert ticket.clocks["first_response"].elapsed == timedelta(minutes=10)
    assert not ticket.clocks["first_response"].breached
    assert ticket == reference


# -- the property ----------------------------------------------------------------------------

# Openings a day or two before DST changes (New York 8 Mar and 1 Nov, London 29 Mar and 25 Oct,
# Sydney 5 Apr and 4 Oct 2026) and public holidays, and one ordinary week.
OPENINGS = [
    datetime(2026, 3, 6, 20, 0, tzinfo=UTC),
    datetime(2026, 3, 27, 9, 30, tzinfo=UTC),
    datetime(2026, 4, 3, 12, 0, tzinfo=UTC),
    datetime(2026, 10, 2, 15, 45, tzinfo=UTC),
    datetime(2026, 10, 23, 16, 0, tzinfo=UTC),
    datetime(2026, 10, 30, 21, 15, tzinfo=UTC),
    datetime(2026, 11, 25, 13, 0, tzinfo=UTC),
    datetime(2026, 12, 23, 22, 0, tzinfo=UTC),
    datetime(2026, 6, 1, 11, 0, tzinfo=UTC),
]
openings = st.builds(
    lambda base, seconds, micros: base + timedelta(seconds=seconds, microseconds=micros),
    st.sampled_from(OPENINGS),
    st.integers(0, 2 * 86_400),
    st.one_of(st.just(0), st.integers(1, 999_999)),
)
# Updates arrive seconds, hours or days apart; some in the same instant.
gaps = st.builds(
    lambda seconds, micros: timedelta(seconds=seconds, microseconds=micros),
    st.one_of(
        st.integers(0, 900), st.integers(0, 6 * 3_600), st.integers(0, 3 * 86_400), st.just(0)
    ),
    st.one_of(st.just(0), st.integers(1, 999_999)),
)
# Now and then the ticket goes through continue-as-new, which carries its state as JSON.
continued_as_new = st.integers(0, 9).map(lambda n: n == 9)
TIMED = ("acknowledge", "agent_replied", "customer_replied", "resolve", "reopen")


def kinds_allowed(state: TicketState) -> list[str]:
    """The updates the workflow accepts now (repeated to weigh the draw)."""
    if state.resolved:
        return ["reopen"]
    return [
        "acknowledge",
        "agent_replied",
        "agent_replied",
        "customer_replied",
        "customer_replied",
        "customer_replied",
        "change_priority",
        "change_priority",
        "resolve",
        "resume" if state.paused else "pause",
        "resume" if state.paused else "pause",
    ]


def draw_at(
    data: st.DataObject, low: datetime, arrived: datetime, marks: list[datetime]
) -> datetime:
    """When a reported event happened: when it arrives, at an instant something else happened
    (a tie), or anywhere between ``low`` and its arrival."""
    how = data.draw(st.sampled_from(["now", "tie", "between", "between"]))
    ties = sorted({m for m in marks if low <= m <= arrived})
    if how == "now":
        return arrived
    if how == "tie" and ties:
        return data.draw(st.sampled_from(ties))
    span = (arrived - low) // timedelta(microseconds=1)
    return low + timedelta(microseconds=data.draw(st.integers(0, span)))


def draw_events(
    data: st.DataObject, priority: str, opened_at: datetime
) -> tuple[TicketState, list[Event], datetime]:
    """A ticket and updates valid at arrival, each applied to it as it arrives; returns the
    ticket, the updates and the instant its status is read."""
    state = open_ticket(priority, opened_at)
    events: list[Event] = []
    arrived = opened_at
    marks = [arrived]
    for n in range(data.draw(st.integers(1, 14))):
        arrived += data.draw(gaps)
        kind = data.draw(st.sampled_from(kinds_allowed(state)))
        low = opened_at
        if kind == "reopen" and state.resolved_at is not None:
            low = state.resolved_at
        elif kind == "resolve" and state.reopens:
            low = state.reopens[-1].at
        at = draw_at(data, low, arrived, marks) if kind in TIMED else arrived
        event = Event(
            kind,
            at=at,
            arrived=arrived,
            by=data.draw(st.sampled_from(["alice", "bob"])),
            priority=data.draw(st.sampled_from(PRIORITIES)) if kind == "change_priority" else "",
            reason=f"reason {n}",
        )
        deliver(state, event)
        events.append(event)
        marks += [at, arrived]
        if data.draw(continued_as_new):
            state = TicketState.model_validate_json(state.model_dump_json())
    return state, events, arrived + data.draw(gaps)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PRIORITIES), openings, st.data())
def test_clocks_count_events_in_at_order(
    priority: str, opened_at: datetime, data: st.DataObject
) -> None:
    state, events, now = draw_events(data, priority, opened_at)
    note(describe(priority, opened_at, events, now))
    reference = expected(POLICY, CALENDARS, priority, opened_at, events, now)
    assert view_of(state, now) == reference


def describe(priority: str, opened_at: datetime, events: list[Event], now: datetime) -> str:
    """The played sequence, one update a line, for a failure's report."""
    lines = [f"open {priority} at {opened_at.isoformat()}"]
    for e in events:
        detail = e.priority or (e.by if e.kind in TIMED else "")
        lines.append(f"  arrived {e.arrived.isoformat()}  {e.kind} {detail} at={e.at.isoformat()}")
    lines.append(f"status at {now.isoformat()}")
    return "\n".join(lines)
