"""SLA clocks on business calendars, next-reply cycles and quiet hours (policy ``hours``).

The test server's clock starts at the real time, so every test first skips to a known weekday
and wall time (``Harness.skip_to``) and computes its expectations by hand from the calendars
of ``tests/workflows/policies/hours.yaml``:

- ``office``: America/New_York, Mon-Fri 09:00-12:00 and 13:00-17:00 (7h a day);
- ``berlin`` and ``manager-day``: Europe/Berlin, Mon-Fri 09:00-17:00 (8h a day);
- P1 24x7 (response 30m, resolution 4h, next reply 1h), P2 on berlin (2h/16h/2h),
  P3 on office (4h/24h/4h).

Events reach the server a few milliseconds after the wall time skipped to. Where that jitter
would land in open hours the tests either open tickets with an exact ``opened_at``, pass exact
``at`` times, act while the calendar is closed (then the jitter counts nothing), or bound the
result by server times read around the update.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle

from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.workflows.conftest import Harness
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    AcknowledgeRequest,
    AgentRepliedRequest,
    ChangePriorityRequest,
    CustomerRepliedRequest,
    PauseRequest,
    ResolveRequest,
    ResumeRequest,
    TicketStatus,
)

NEW_YORK = "America/New_York"
NY = ZoneInfo(NEW_YORK)
BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZERO = timedelta(0)
MONDAY, TUESDAY, THURSDAY, FRIDAY, SATURDAY = 0, 1, 3, 4, 5
AGENT = "agent@example.com"
LEAD = "lead@example.com"
MANAGER = "manager@example.com"
# Server time passes a little between skipping and the update that follows.
JITTER = timedelta(seconds=5)

Handle = WorkflowHandle[TicketEscalation, TicketStatus]


def wall(day: date, hour: int, minute: int = 0, zone: ZoneInfo = NY) -> datetime:
    """The instant of wall time ``hour:minute`` on ``day`` in ``zone``."""
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def local_day(moment: datetime, zone: ZoneInfo = NY) -> date:
    return moment.astimezone(zone).date()


def mails(sendgrid: FakeSendGrid, ticket_id: str, to: str) -> list[dict[str, Any]]:
    """The accepted mail/send bodies of one ticket that went to ``to``."""
    return [
        body
        for body in sendgrid.accepted
        if body["custom_args"]["ticket_id"] == ticket_id
        and any(p["to"][0]["email"] == to for p in body["personalizations"])
    ]


def levels(status: TicketStatus, name: str) -> list[Any]:
    return [e for e in status.escalations if e.level == name]


async def test_ticket_opened_on_saturday_is_due_in_monday_business_hours(
    harness: Harness,
) -> None:
    now = await harness.skip_to(SATURDAY, 10, 0, NEW_YORK)
    saturday = local_day(now)
    monday, thursday = saturday + timedelta(days=2), saturday + timedelta(days=5)
    handle = await harness.open(priority="P3", policy="hours")
    status = await harness.status_after(handle, timedelta(seconds=1))

    response = status.clocks["first_response"]
    # Nothing counts at the weekend. 4h of business: Mon 09:00-12:00 is 3h, the lunch hour
    # 12:00-13:00 does not count, 13:00-14:00 is the 4th: due Monday 14:00 New York.
    due = wall(monday, 14)
    assert response.calendar == "office"
    assert response.timezone == NEW_YORK
    assert response.target == timedelta(hours=4)
    assert response.elapsed == UTC_ZERO
    assert response.remaining == timedelta(hours=4)
    assert response.running
    assert not response.breached
    assert response.due_at == due
    assert response.due_at is not None
    assert response.due_at.utcoffset() == UTC_ZERO
    assert response.due_at_local == due
    assert response.due_at_local is not None
    assert response.due_at_local.utcoffset() == due.utcoffset()  # -05:00 or -04:00 (DST)
    assert (response.due_at_local.hour, response.due_at_local.minute) == (14, 0)

    # 24h of business: Mon, Tue, Wed are 7h each (21h), Thu 09:00-12:00 the last 3h. The due
    # time is the earliest instant the target is reached: Thu 12:00, not 13:00 after lunch.
    resolution = status.clocks["resolution"]
    assert resolution.due_at == wall(thursday, 12)
    assert resolution.due_at_local == wall(thursday, 12)
    assert resolution.timezone == NEW_YORK

    # The next-reply clock waits for a customer message after the first response.
    next_reply = status.clocks["next_reply"]
    assert not next_reply.started
    assert next_reply.due_at is None
    assert next_reply.due_at_local is None
    assert status.next_escalation_level == "response-breached"
    assert status.next_escalation_at == due

    # Sunday evening: still nothing counted.
    await harness.advance_to(wall(saturday + timedelta(days=1), 20))
    sunday = await harness.refresh(handle)
    assert sunday.clocks["first_response"].elapsed == UTC_ZERO
    assert sunday.clocks["first_response"].remaining == timedelta(hours=4)

    # The breach fires at Monday 14:00, not 4h after Saturday 10:00.
    status = await harness.status_after(handle, due + timedelta(minutes=5) - await harness.now())
    fired = levels(status, "response-breached")
    assert [e.due_at for e in fired] == [due]
    assert due <= fired[0].fired_at < due + JITTER
    assert fired[0].recipients == [LEAD]


async def test_pause_across_the_weekend_counts_no_business_time(harness: Harness) -> None:
    now = await harness.skip_to(FRIDAY, 16, 0, NEW_YORK)
    friday = local_day(now)
    monday, thursday = friday + timedelta(days=3), friday + timedelta(days=6)
    handle = await harness.open(priority="P3", policy="hours", opened_at=wall(friday, 16))

    # Skip an hour: Fri 16:00-17:00 counts 1h, and the pause lands after the 17:00 closing,
    # so nothing of the few milliseconds before it counts: exactly 1h.
    await harness.status_after(handle, timedelta(hours=1))
    paused = await handle.execute_update(
        TicketEscalation.pause, PauseRequest(reason="waiting on the customer")
    )
    assert paused.state == "paused"
    assert paused.clocks["first_response"].elapsed == timedelta(hours=1)
    assert paused.clocks["first_response"].due_at is None
    assert paused.clocks["resolution"].elapsed == timedelta(hours=1)

    # Paused over the weekend and Monday's first business hour 09:00-10:00.
    mon_10 = wall(monday, 10)
    await harness.advance_to(mon_10)
    before = await harness.now()
    resumed = await handle.execute_update(TicketEscalation.resume, ResumeRequest())
    after = await harness.now()
    assert mon_10 <= before <= after < mon_10 + JITTER
    assert resumed.state == "open"
    response, resolution = resumed.clocks["first_response"], resumed.clocks["resolution"]
    assert response.elapsed == timedelta(hours=1)  # nothing for the weekend or Mon 09-10
    assert response.remaining == timedelta(hours=3)
    assert resolution.elapsed == timedelta(hours=1)
    # The resume happened at 10:00 + j (j = a few ms of server time). 3h left: 10:00-12:00 is
    # 2h, lunch, then 13:00-14:00: due 14:00 + j on Monday (4h of wall time after resuming).
    assert response.due_at is not None
    j = response.due_at - wall(monday, 14)
    assert before - mon_10 <= j <= after - mon_10
    assert response.due_at_local is not None
    assert (response.due_at_local.hour, response.due_at_local.minute) == (14, 0)
    # Resolution: 23h left. Mon 10:00+j-17:00 is 6h - j, Tue and Wed 7h each (20h - j),
    # Thu 09:00-12:00 (23h - j), lunch, and the last j at 13:00: Thu 13:00 + j.
    assert resolution.due_at == wall(thursday, 13) + j

    # A pause entirely inside closed hours (the lunch hour) counts nothing and moves nothing.
    await harness.advance_to(wall(monday, 12, 15))
    lunch = await handle.execute_update(TicketEscalation.pause, PauseRequest(reason="lunch"))
    # By 12:00 the clock had counted 1h + (12:00 - (10:00 + j)) = 3h - j.
    assert lunch.clocks["first_response"].elapsed == timedelta(hours=3) - j
    await harness.advance_to(wall(monday, 12, 45))
    back = await handle.execute_update(TicketEscalation.resume, ResumeRequest())
    assert back.clocks["first_response"].elapsed == timedelta(hours=3) - j
    assert back.clocks["first_response"].due_at == response.due_at
    assert back.clocks["resolution"].due_at == resolution.due_at

    status = await harness.status_after(handle, wall(monday, 14, 5) - await harness.now())
    assert [e.due_at for e in levels(status, "response-breached")] == [response.due_at]


async def test_priority_change_measures_each_segment_on_its_own_calendar(
    harness: Harness,
) -> None:
    now = await harness.skip_to(FRIDAY, 16, 0, NEW_YORK)
    friday = local_day(now)
    monday = friday + timedelta(days=3)
    fri_16 = wall(friday, 16)
    handle = await harness.open(priority="P3", policy="hours", opened_at=fri_16)
    # A second ticket, answered at Fri 16:30: its stopped first-response clock keeps its
    # calendar and target through the priority changes.
    answered = await harness.open(priority="P3", policy="hours", opened_at=fri_16)
    await harness.advance_to(wall(friday, 16, 31))
    await answered.execute_update(
        TicketEscalation.acknowledge, AcknowledgeRequest(by=AGENT, at=wall(friday, 16, 30))
    )

    mon_10 = wall(monday, 10)
    await harness.advance_to(mon_10)
    before = await harness.now()
    raised = await handle.execute_update(
        TicketEscalation.change_priority, ChangePriorityRequest(priority="P1")
    )
    after = await harness.now()
    assert mon_10 <= before <= after < mon_10 + JITTER
    response, resolution = raised.clocks["first_response"], raised.clocks["resolution"]
    # The office segment Fri 16:00 -> Mon 10:00 + j1 counts Fri 16-17 and Mon 09:00-10:00+j1.
    j1 = response.elapsed - timedelta(hours=2)
    assert before - mon_10 <= j1 <= after - mon_10
    assert resolution.elapsed == response.elapsed
    assert (response.calendar, response.timezone) == ("24x7", "UTC")
    assert response.target == timedelta(minutes=30)
    assert response.breached
    # P1's 30m fell due within the office segment: Fri 16:00 + 30m of office time.
    assert response.due_at == wall(friday, 16, 30)
    assert response.due_at_local == wall(friday, 16, 30)
    assert response.due_at_local is not None
    assert response.due_at_local.utcoffset() == UTC_ZERO
    # Resolution: 4h - (2h + j1) left on 24x7 from 10:00 + j1: due Monday 12:00 New York.
    assert resolution.due_at == wall(monday, 12)
    assert resolution.remaining == timedelta(hours=2) - j1

    # Already breached on P1: response-breached fires at once, due when 30m were reached.
    status = await harness.status_after(handle, timedelta(seconds=1))
    fired = levels(status, "response-breached")
    assert [(e.due_at, e.recipients) for e in fired] == [(wall(friday, 16, 30), [LEAD])]
    assert before <= fired[0].fired_at < mon_10 + JITTER

    await harness.env.sleep(timedelta(minutes=1))
    lowered = await handle.execute_update(
        TicketEscalation.change_priority, ChangePriorityRequest(priority="P2")
    )
    response, resolution = lowered.clocks["first_response"], lowered.clocks["resolution"]
    # Three segments: office Fri 16:00 -> t1 (2h + j1), 24x7 t1 -> t2 (t2 - t1), berlin from
    # t2 (nothing yet). So elapsed = 2h + d with d = t2 - Mon 10:00 (a minute and a bit).
    d = response.elapsed - timedelta(hours=2)
    assert timedelta(minutes=1) <= d < timedelta(minutes=1) + JITTER
    assert resolution.elapsed == response.elapsed
    for clock in (response, resolution):
        assert (clock.calendar, clock.timezone) == ("berlin", "Europe/Berlin")
    assert response.target == timedelta(hours=2)
    assert resolution.target == timedelta(hours=16)
    # P2's 2h of response were reached inside the office segment: at Mon 10:00 New York,
    # shown in Berlin time.
    assert response.breached
    assert response.due_at == mon_10
    assert response.due_at_local is not None
    assert response.due_at_local.utcoffset() == mon_10.astimezone(BERLIN).utcoffset()
    assert response.due_at_local.replace(tzinfo=None) == mon_10.astimezone(BERLIN).replace(
        tzinfo=None
    )
    # Resolution: 16h - 2h - d left from t2 on Berlin hours. Mon 10:00 New York is 16:00 in
    # Berlin (15:00 in the weeks the two zones change DST apart), so Monday gives until 17:00:
    # monday_left - d. Then Tue 8h, and the rest from Wed 09:00. With the usual 6h apart:
    # 14h - d - (1h - d) = 13h; Tue 8h; Wed 09:00 + 5h = Wed 14:00 Berlin.
    berlin_monday = local_day(mon_10, BERLIN)
    monday_left = wall(berlin_monday, 17, zone=BERLIN) - mon_10
    rest = timedelta(hours=16 - 2 - 8) - monday_left
    expected = wall(berlin_monday + timedelta(days=2), 9, zone=BERLIN) + rest
    assert resolution.due_at == expected
    assert resolution.due_at_local == expected
    assert resolution.due_at_local is not None
    assert resolution.due_at_local.utcoffset() == expected.utcoffset()
    if monday_left == timedelta(hours=1):
        assert resolution.due_at_local.hour == 14
    next_reply = lowered.clocks["next_reply"]
    assert (next_reply.calendar, next_reply.target, next_reply.started) == (
        "berlin",
        timedelta(hours=2),
        False,
    )
    assert lowered.next_escalation_level == "resolution-breached"
    assert lowered.next_escalation_at == expected
    status = await harness.status_after(handle, timedelta(minutes=5))
    assert len(levels(status, "response-breached")) == 1  # not fired again on P2

    # The answered ticket: its stopped first-response clock stays on office, P3's 4h.
    for priority in ("P1", "P2"):
        other = await answered.execute_update(
            TicketEscalation.change_priority, ChangePriorityRequest(priority=priority)
        )
    stopped = other.clocks["first_response"]
    assert (stopped.calendar, stopped.timezone, stopped.target) == (
        "office",
        NEW_YORK,
        timedelta(hours=4),
    )
    assert stopped.elapsed == timedelta(minutes=30)
    assert stopped.stopped_at == wall(friday, 16, 30)
    assert not stopped.breached
    assert other.clocks["resolution"].calendar == "berlin"


async def test_next_reply_cycles(harness: Harness) -> None:
    handle = await harness.open(priority="P1", policy="hours")  # 24x7: next reply 1h
    # Every event below is reported with an exact ``at`` about a minute in the past (an ``at``
    # ahead of the server's time would be clamped to it).
    status = await harness.status_after(handle, timedelta(minutes=3))
    t0 = status.opened_at
    hour = timedelta(hours=1)

    # A customer message before the first response starts no next-reply cycle.
    early = await handle.execute_update(
        TicketEscalation.customer_replied, CustomerRepliedRequest(at=t0 + timedelta(minutes=1))
    )
    assert not early.clocks["next_reply"].started
    assert early.next_reply_cycles == 0
    assert early.state == "open"

    # An agent's reply before any acknowledge is the first response.
    first = await handle.execute_update(
        TicketEscalation.agent_replied,
        AgentRepliedRequest(by=AGENT, at=t0 + timedelta(minutes=2)),
    )
    assert first.state == "acknowledged"
    assert (first.acknowledged_by, first.acknowledged_at) == (AGENT, t0 + timedelta(minutes=2))
    assert first.clocks["first_response"].stopped_at == t0 + timedelta(minutes=2)
    assert first.clocks["first_response"].elapsed == timedelta(minutes=2)
    assert not first.clocks["first_response"].running
    assert not first.clocks["next_reply"].started
    assert (first.next_reply_cycles, first.next_reply_breaches) == (0, 0)

    # Cycle 1: the customer writes at c1; the agent owes a reply by c1 + 1h.
    await harness.env.sleep(timedelta(minutes=3))
    c1 = t0 + timedelta(minutes=5)
    one = await handle.execute_update(
        TicketEscalation.customer_replied, CustomerRepliedRequest(at=c1)
    )
    reply = one.clocks["next_reply"]
    assert reply.started
    assert reply.running
    assert reply.due_at == c1 + hour
    assert (reply.calendar, reply.target) == ("24x7", hour)
    assert one.next_reply_cycles == 1

    # A follow-up 10 minutes later does not push the deadline back.
    await harness.env.sleep(timedelta(minutes=10))
    again = await handle.execute_update(
        TicketEscalation.customer_replied,
        CustomerRepliedRequest(at=c1 + timedelta(minutes=10)),
    )
    assert again.clocks["next_reply"].due_at == c1 + hour
    assert again.next_reply_cycles == 1

    # The agent answers at c1 + 20m: the cycle ends within target.
    await harness.env.sleep(timedelta(minutes=10))
    answered = await handle.execute_update(
        TicketEscalation.agent_replied,
        AgentRepliedRequest(by=AGENT, at=c1 + timedelta(minutes=20)),
    )
    reply = answered.clocks["next_reply"]
    assert reply.stopped_at == c1 + timedelta(minutes=20)
    assert reply.elapsed == timedelta(minutes=20)
    assert not reply.running
    assert not reply.breached
    assert (answered.next_reply_cycles, answered.next_reply_breaches) == (1, 0)

    # Cycle 2, left unanswered: reply-overdue at c2 + 1h, its one repeat at c2 + 2h.
    await harness.env.sleep(timedelta(minutes=10))
    c2 = c1 + timedelta(minutes=30)
    two = await handle.execute_update(
        TicketEscalation.customer_replied, CustomerRepliedRequest(at=c2)
    )
    assert two.next_reply_cycles == 2
    assert two.clocks["next_reply"].due_at == c2 + hour
    assert timedelta(minutes=1) <= two.clocks["next_reply"].elapsed < timedelta(minutes=1) + JITTER

    status = await harness.status_after(handle, timedelta(hours=2, minutes=10))
    overdue = levels(status, "reply-overdue")
    assert [(e.repeat, e.due_at, e.recipients) for e in overdue] == [
        (0, c2 + hour, [AGENT]),
        (1, c2 + 2 * hour, [AGENT]),
    ]
    assert all(e.due_at <= e.fired_at < e.due_at + JITTER for e in overdue)
    assert all(e.delivery.status == "sent" for e in overdue)
    assert status.clocks["next_reply"].breached

    late = await handle.execute_update(
        TicketEscalation.agent_replied,
        AgentRepliedRequest(by=AGENT, at=c2 + timedelta(hours=2, minutes=10)),
    )
    reply = late.clocks["next_reply"]
    assert reply.stopped_at == c2 + timedelta(hours=2, minutes=10)
    assert reply.elapsed == timedelta(hours=2, minutes=10)
    assert reply.breached
    assert (late.next_reply_cycles, late.next_reply_breaches) == (2, 1)

    # Cycle 3 starts with a customer message on a paused ticket, which resumes it.
    paused = await handle.execute_update(
        TicketEscalation.pause, PauseRequest(reason="waiting on the customer")
    )
    assert paused.state == "paused"
    await harness.env.sleep(timedelta(minutes=10))
    c3 = c2 + timedelta(hours=2, minutes=20)
    three = await handle.execute_update(
        TicketEscalation.customer_replied, CustomerRepliedRequest(at=c3)
    )
    assert three.state == "acknowledged"
    assert three.paused_reason is None
    assert three.clocks["resolution"].running
    assert three.clocks["next_reply"].running
    assert three.clocks["next_reply"].due_at == c3 + hour
    assert (three.next_reply_cycles, three.next_reply_breaches) == (3, 1)

    # The level's progress is reset per cycle: reply-overdue fires afresh, as repeat 0.
    status = await harness.status_after(handle, timedelta(hours=1, minutes=5))
    overdue = levels(status, "reply-overdue")
    assert [(e.repeat, e.due_at) for e in overdue] == [
        (0, c2 + hour),
        (1, c2 + 2 * hour),
        (0, c3 + hour),
    ]
    assert status.next_reply_breaches == 1  # counted when the agent answers a breached cycle


async def test_quiet_hours_hold_the_managers_notice_until_berlin_opens(
    harness: Harness,
) -> None:
    now = await harness.skip_to(THURSDAY, 15, 50, NEW_YORK)
    thursday = local_day(now)
    monday = thursday - timedelta(days=3)
    thu_16 = wall(thursday, 16)
    # Opened (reported late) Monday 13:00 New York. P3's 24h of office time: Mon 13-17 is 4h,
    # Tue and Wed 7h each (18h), Thu 09-12 (21h) and 13-16: resolution breaches Thu 16:00
    # New York, which is 22:00 in Berlin, where the manager's day is over.
    held_ticket = await harness.open(priority="P3", policy="hours", opened_at=wall(monday, 13))
    resolved_ticket = await harness.open(priority="P3", policy="hours", opened_at=wall(monday, 13))
    # The same breach at the same hour on a P1 (24x7, resolution 4h): the manager is paged.
    p1_ticket = await harness.open(priority="P1", policy="hours", opened_at=wall(thursday, 12))

    held_status = await harness.status_after(held_ticket, thu_16 + timedelta(minutes=5) - now)
    release = wall(local_day(thu_16, BERLIN) + timedelta(days=1), 9, zone=BERLIN)
    assert thu_16.astimezone(BERLIN).hour >= 17  # closed in Berlin when it breaches
    assert held_status.clocks["resolution"].due_at == thu_16
    breach = levels(held_status, "resolution-breached")
    assert [(e.part, e.recipients, e.due_at) for e in breach] == [
        (0, [LEAD], thu_16),
        (1, [MANAGER], thu_16),
    ]
    to_lead, to_manager = breach
    assert to_lead.delivery.status == "sent"
    assert to_lead.held_until is None
    assert to_manager.delivery.status == "held"
    assert to_manager.held_until == release
    assert to_manager.held_until is not None
    assert to_manager.held_until.astimezone(BERLIN).hour == 9
    assert held_status.held_notices == 1
    assert mails(harness.sendgrid, held_status.ticket_id, LEAD)
    assert mails(harness.sendgrid, held_status.ticket_id, MANAGER) == []

    p1 = await p1_ticket.query(TicketEscalation.status)
    (p1_breach,) = levels(p1, "resolution-breached")
    assert p1_breach.due_at == thu_16
    assert p1_breach.recipients == [MANAGER, LEAD]
    assert p1_breach.delivery.status == "sent"
    assert p1.held_notices == 0
    assert [b["custom_args"]["level"] for b in mails(harness.sendgrid, p1.ticket_id, MANAGER)] == [
        "resolution-breached"
    ]

    # Resolving while the notice is held cancels it.
    resolved = await resolved_ticket.execute_update(
        TicketEscalation.resolve, ResolveRequest(by=AGENT, note="fixed overnight")
    )
    cancelled = levels(resolved, "resolution-breached")
    assert [(e.part, e.delivery.status) for e in cancelled] == [(0, "sent"), (1, "cancelled")]
    assert resolved.held_notices == 0
    # (Not handle.result(): awaiting it unlocks time skipping, and the server would jump to
    # the other tickets' next timers.)

    # Just before Berlin opens nothing has gone to the manager; just after, it has.
    await harness.advance_to(release - timedelta(minutes=5))
    waiting = await harness.refresh(held_ticket)
    assert waiting.held_notices == 1
    assert mails(harness.sendgrid, waiting.ticket_id, MANAGER) == []
    status = await harness.status_after(held_ticket, timedelta(minutes=10))
    to_manager = levels(status, "resolution-breached")[1]
    assert to_manager.delivery.status == "sent"
    assert to_manager.delivery.message_id
    assert to_manager.fired_at == breach[1].fired_at
    assert status.held_notices == 0
    sent = mails(harness.sendgrid, status.ticket_id, MANAGER)
    assert [(b["custom_args"]["level"], b["custom_args"]["repeat"]) for b in sent] == [
        ("resolution-breached", "0")
    ]
    assert sent[0]["custom_args"]["idempotency_key"].endswith(":resolution-breached:0:1")
    assert mails(harness.sendgrid, resolved.ticket_id, MANAGER) == []
    final = await resolved_ticket.query(TicketEscalation.status)
    assert final.state == "resolved"
    assert [e.delivery.status for e in levels(final, "resolution-breached")] == [
        "sent",
        "cancelled",
    ]


async def test_status_shows_remaining_business_time(harness: Harness) -> None:
    now = await harness.skip_to(TUESDAY, 12, 20, NEW_YORK)
    tuesday = local_day(now)
    monday, friday = tuesday - timedelta(days=1), tuesday + timedelta(days=3)
    # Opened Monday 16:30 New York, first seen in Tuesday's lunch hour (closed: exact).
    handle = await harness.open(priority="P3", policy="hours", opened_at=wall(monday, 16, 30))
    status = await harness.status_after(handle, timedelta(seconds=1))

    response, resolution = status.clocks["first_response"], status.clocks["resolution"]
    # The "hours" policy's P3 targets are plain durations on both clocks.
    assert response.target is not None
    assert resolution.target is not None
    # Mon 16:30-17:00 (30m) + Tue 09:00-12:00 (3h) = 3h30m.
    assert response.elapsed == timedelta(hours=3, minutes=30)
    assert response.remaining == response.target - response.elapsed == timedelta(minutes=30)
    assert response.due_at == wall(tuesday, 13, 30)  # 30m after lunch
    assert resolution.elapsed == timedelta(hours=3, minutes=30)
    assert resolution.remaining == resolution.target - resolution.elapsed
    assert resolution.remaining == timedelta(hours=20, minutes=30)
    # 20h30m from Tue 13:00: Tue 4h (16h30m left), Wed and Thu 7h each (2h30m left), Fri
    # 09:00 + 2h30m = Fri 11:30 New York.
    assert resolution.due_at == wall(friday, 11, 30)

    # Tuesday after closing: the afternoon 13:00-17:00 counted 4h more.
    await harness.advance_to(wall(tuesday, 17, 30))
    evening = await harness.refresh(handle)
    response, resolution = evening.clocks["first_response"], evening.clocks["resolution"]
    assert resolution.target is not None
    assert response.elapsed == timedelta(hours=7, minutes=30)
    assert response.remaining == UTC_ZERO  # breached at 13:30; never negative
    assert response.breached
    assert resolution.elapsed == timedelta(hours=7, minutes=30)
    assert resolution.remaining == resolution.target - resolution.elapsed
    assert resolution.remaining == timedelta(hours=16, minutes=30)
    assert resolution.due_at == wall(friday, 11, 30)
    assert [e.due_at for e in levels(evening, "response-breached")] == [wall(tuesday, 13, 30)]
