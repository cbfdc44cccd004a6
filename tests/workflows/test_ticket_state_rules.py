"""The pure ticket rules behind next-reply cycles and quiet hours, without Temporal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from policies.calendar import policy_calendars
from policies.contacts import recipients_by_role, split_by_quiet_hours
from policies.loader import load_named_policy, parse_policy
from policies.model import ClockName
from tests.workflows.tickets import open_state
from workflows.ticket_state import TicketState, TicketStateName

POLICY = load_named_policy(Path(__file__).parent / "policies", "hours")
CALENDARS = policy_calendars(POLICY)
BERLIN = ZoneInfo("Europe/Berlin")
# Tuesday 2 June 2026, 12:00 UTC = 14:00 in Berlin (open), 08:00 in New York (closed).
T0 = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)


def ticket(priority: str = "P1") -> TicketState:
    return open_state(POLICY, T0, priority, assignee="agent@example.com")


def test_next_reply_waits_for_the_first_response() -> None:
    state = ticket()
    state.customer_replied(T0 + timedelta(minutes=5), T0 + timedelta(minutes=5), CALENDARS)
    assert not state.clocks[ClockName.NEXT_REPLY].started
    assert state.next_reply_cycles == 0


def test_follow_up_message_does_not_move_the_reply_deadline() -> None:
    state = ticket()
    state.acknowledge("agent", T0)
    first = T0 + timedelta(minutes=10)
    state.customer_replied(first, first, CALENDARS)
    state.customer_replied(first + timedelta(minutes=30), first + timedelta(minutes=30), CALENDARS)
    clock = state.clocks[ClockName.NEXT_REPLY]
    assert clock.due_at(CALENDARS) == first + timedelta(hours=1)
    assert state.next_reply_cycles == 1


def test_agent_reply_ends_the_cycle_and_counts_a_breach() -> None:
    state = ticket()
    state.acknowledge("agent", T0)
    state.customer_replied(T0, T0, CALENDARS)
    late = T0 + timedelta(hours=2)
    state.agent_replied("agent", late, CALENDARS)
    clock = state.clocks[ClockName.NEXT_REPLY]
    assert clock.stopped_at == late
    assert state.next_reply_breaches == 1
    state.customer_replied(late + timedelta(minutes=1), late + timedelta(minutes=1), CALENDARS)
    assert state.clocks[ClockName.NEXT_REPLY].running
    assert state.next_reply_cycles == 2


def test_agent_reply_before_acknowledge_is_the_first_response() -> None:
    state = ticket()
    state.agent_replied("agent", T0 + timedelta(minutes=3), CALENDARS)
    assert state.acknowledged_at == T0 + timedelta(minutes=3)
    assert state.clocks[ClockName.FIRST_RESPONSE].stopped


def test_customer_reply_resumes_a_paused_ticket() -> None:
    state = ticket()
    state.acknowledge("agent", T0)
    state.pause("waiting on logs", T0 + timedelta(minutes=1))
    state.customer_replied(T0 + timedelta(hours=1), T0 + timedelta(hours=1), CALENDARS)
    assert state.state is TicketStateName.ACKNOWLEDGED
    assert state.clocks[ClockName.RESOLUTION].running


def test_resume_leaves_an_idle_next_reply_clock_idle() -> None:
    state = ticket()
    state.pause("waiting", T0)
    state.resume(T0 + timedelta(minutes=5))
    assert not state.clocks[ClockName.NEXT_REPLY].started


def test_quiet_hours_hold_the_manager_until_berlin_opens() -> None:
    # Saturday 6 June 2026, 10:00 UTC: Berlin's manager-day calendar is closed until Monday.
    saturday = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)
    recipients = recipients_by_role(POLICY, ["manager", "team_lead"], "payments", None, saturday)
    now, held = split_by_quiet_hours(POLICY, recipients, "P3", saturday, CALENDARS)
    assert now == ["lead@example.com"]
    [(release, group)] = held.items()
    assert group == ["manager@example.com"]
    assert release.astimezone(BERLIN) == datetime(2026, 6, 8, 9, 0, tzinfo=BERLIN)


def test_urgent_priorities_page_at_any_hour() -> None:
    saturday = datetime(2026, 6, 6, 10, 0, tzinfo=UTC)
    recipients = recipients_by_role(POLICY, ["manager"], "payments", None, saturday)
    now, held = split_by_quiet_hours(POLICY, recipients, "P1", saturday, CALENDARS)
    assert now == ["manager@example.com"]
    assert held == {}


def test_held_record_is_released_and_cancelled_on_resolve() -> None:
    state = ticket("P3")
    release = T0 + timedelta(hours=10)
    [due] = state.due_levels(T0 + timedelta(days=30), CALENDARS)[:1]
    records = state.record_fire(
        due, T0, ["lead@example.com"], "reason", held={release: ["manager@example.com"]}
    )
    assert [(r.part, r.delivery.status) for r in records] == [(0, "pending"), (1, "held")]
    assert state.notice_key_for(records[1]) == f"run-1:{due.level.name}:0:1"
    wake = state.next_wake(T0, CALENDARS)
    assert wake is not None
    assert wake.at <= release
    assert state.release_held(release - timedelta(seconds=1)) == []
    state.resolve("agent", T0 + timedelta(hours=1), None)
    assert state.escalations[-1].delivery.status == "cancelled"
    assert state.release_held(release) == []


def test_repeat_in_the_same_quiet_hours_is_folded_into_the_held_notice() -> None:
    state = ticket("P3")
    release = T0 + timedelta(hours=10)
    due = state.due_levels(T0 + timedelta(days=30), CALENDARS)[0]
    state.record_fire(due, T0, [], "reason", held={release: ["manager@example.com"]})
    repeat = due.model_copy(update={"repeat": 1})
    [record] = state.record_fire(
        repeat, T0 + timedelta(hours=1), [], "reason", held={release: ["manager@example.com"]}
    )
    assert record.delivery.status == "skipped"
    assert "already have a notice" in (record.delivery.detail or "")
    assert sum(1 for r in state.escalations if r.held) == 1


def test_reply_stamped_before_the_message_does_not_end_the_cycle() -> None:
    state = ticket()
    state.acknowledge("agent", T0)
    message = T0 + timedelta(minutes=30)
    state.customer_replied(message, message, CALENDARS)
    state.agent_replied("agent", message - timedelta(minutes=1), CALENDARS)
    assert state.clocks[ClockName.NEXT_REPLY].running
    state.agent_replied("agent", message, CALENDARS)
    clock = state.clocks[ClockName.NEXT_REPLY]
    assert clock.started
    assert clock.stopped_at == message


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_each_next_reply_cycle_has_its_own_notice_keys() -> None:
    state = ticket()
    state.acknowledge("agent", T0)
    keys = []
    for start in (1, 4):
        state.customer_replied(h(start), h(start), CALENDARS)
        for due in state.due_levels(h(start + 1.5), CALENDARS):
            [record] = state.record_fire(due, h(start + 1.5), ["agent@example.com"], "late")
            keys.append(state.notice_key_for(record))
        state.agent_replied("agent", h(start + 2), CALENDARS)
    replies = [k for k in keys if ":reply-overdue:" in k]
    assert replies == ["run-1:reply-overdue:0:c1", "run-1:reply-overdue:0:c2"]


def test_late_reported_message_that_was_already_answered_starts_nothing() -> None:
    state = ticket()
    state.acknowledge("agent", h(1))
    state.customer_replied(h(0.5), h(2), CALENDARS)  # written before the first response
    assert not state.clocks[ClockName.NEXT_REPLY].started
    state.customer_replied(h(3), h(3), CALENDARS)
    state.agent_replied("agent", h(3.5), CALENDARS)
    state.customer_replied(h(3.2), h(4), CALENDARS)  # answered by the 3.5h reply
    assert state.next_reply_cycles == 1
    assert state.last_customer_reply_at == h(3.2)


def test_mixed_level_already_true_elsewhere_does_not_refire_per_message() -> None:
    policy = parse_policy(
        """
name: p
version: 1
targets: {P1: {first_response: 30m, resolution: 4h, next_reply: 1h}}
contacts: {manager: [m@example.com]}
levels:
  - name: overdue
    when: {any: [{clock: resolution, at: 100%}, {clock: next_reply, at: 100%}]}
    notify: [manager]
""",
        "p.yaml",
    )
    calendars = policy_calendars(policy)
    fields = ticket().fields
    state = TicketState.open(fields, policy, T0, notice_key="run-1")
    state.acknowledge("agent", h(0.1))
    fired = 0
    for t in (4, 5, 5.2, 6):
        state.customer_replied(h(t), h(t), calendars)
        for due in state.due_levels(h(t), calendars):
            state.record_fire(due, h(t), ["m@example.com"], "r")
            fired += 1
        state.agent_replied("agent", h(t + 0.05), calendars)
    assert fired == 1  # the resolution breach at 4h; quick answers after it re-fire nothing


def test_message_resumes_a_paused_ticket_from_its_own_time() -> None:
    state = ticket()
    state.acknowledge("agent", T0)
    state.pause("waiting on logs", h(1))
    # Written before the pause: it does not resume the ticket, but it started a cycle then,
    # which the pause stopped at 1h.
    state.customer_replied(h(0.5), h(2), CALENDARS)
    assert state.paused
    state.customer_replied(h(1.5), h(5), CALENDARS)  # reported late
    assert not state.paused
    resolution = state.clocks[ClockName.RESOLUTION]
    next_reply = state.clocks[ClockName.NEXT_REPLY]
    assert resolution.elapsed(h(5), CALENDARS) == timedelta(hours=4.5)  # 1h + 3.5h
    assert next_reply.elapsed(h(5), CALENDARS) == timedelta(hours=4)  # 0.5h + 3.5h


def test_a_target_beyond_reach_is_never_due_rather_than_an_error() -> None:
    policy = parse_policy(
        """
name: p
version: 1
calendars:
  sparse: {timezone: Europe/Berlin, hours: {sun: ["09:00-09:01"]}}
targets: {P1: {first_response: 1h, resolution: 366d, calendar: sparse}}
contacts: {manager: [m@example.com]}
levels:
  - name: far
    when: {clock: resolution, at: 10000%}
    notify: [manager]
""",
        "p.yaml",
    )
    calendars = policy_calendars(policy)
    state = TicketState.open(ticket().fields, policy, T0, notice_key="run-1")
    assert state.clocks[ClockName.RESOLUTION].due_at(calendars) is None  # ~7000 years of Sundays
    wake = state.next_wake(T0, calendars)
    assert wake is not None
    assert (wake.kind, wake.name) == ("breach", "first_response")
    assert wake.describe() == "first_response breach"
