"""The escalation ladder under the shipped default policy (P1: response 15m, resolution 4h)."""

from __future__ import annotations

from datetime import timedelta

from tests.workflows.conftest import Harness
from tests.workflows.tickets import email_notices
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import AcknowledgeRequest, ResolveRequest

P1_RESPONSE = timedelta(minutes=15)
P1_RESOLUTION = timedelta(hours=4)


async def test_ladder_fires_in_order_at_the_right_times(harness: Harness) -> None:
    handle = await harness.open()
    status = await harness.status_after(handle, timedelta(hours=5))

    fired = [(e.level, e.repeat, e.due_at - status.opened_at) for e in status.escalations]
    assert fired == [
        ("response-at-risk", 0, P1_RESPONSE * 0.75),
        ("response-breached", 0, P1_RESPONSE),
        ("resolution-at-risk", 0, P1_RESOLUTION * 0.8),
        ("resolution-breached", 0, P1_RESOLUTION),
    ]
    for record in status.escalations:
        assert record.due_at <= record.fired_at < record.due_at + timedelta(seconds=5)
        assert record.delivery.status == "sent"
        assert record.delivery.message_id
    # The payments team's override replaces the default team lead.
    assert status.escalations[1].recipients == ["payments-lead@example.com"]
    assert status.escalations[0].recipients == ["agent@example.com", "payments-lead@example.com"]
    assert status.current_level == "resolution-breached"
    assert status.clocks["first_response"].breached
    assert status.clocks["resolution"].breached

    sent = harness.sendgrid.wait_for_accepted(4, timeout=10)
    assert [b["custom_args"]["level"] for b in sent] == [e.level for e in status.escalations]
    keys = {b["custom_args"]["idempotency_key"] for b in sent}
    assert len(keys) == 4
    assert all(b["custom_args"]["ticket_id"] == status.ticket_id for b in sent)


async def test_major_incident_repeats_then_stops(harness: Harness) -> None:
    handle = await harness.open()
    status = await harness.status_after(handle, timedelta(hours=9))

    major = [e for e in email_notices(status) if e.level == "major-incident"]
    # First notice 2h past the resolution breach, then three repeats every 30m.
    assert [e.repeat for e in major] == [0, 1, 2, 3]
    first = major[0].due_at
    assert first - status.opened_at == P1_RESOLUTION + timedelta(hours=2)
    assert [e.due_at - first for e in major] == [timedelta(minutes=30 * i) for i in range(4)]
    assert status.next_escalation_level is None


async def test_acknowledge_stops_first_response_levels(harness: Harness) -> None:
    handle = await harness.open()
    await harness.env.sleep(timedelta(minutes=5))
    acked = await handle.execute_update(
        TicketEscalation.acknowledge, AcknowledgeRequest(by="agent@example.com")
    )
    assert acked.state == "acknowledged"
    response = acked.clocks["first_response"]
    assert response.stopped_at is not None
    assert not response.running
    assert not response.breached

    status = await harness.status_after(handle, timedelta(hours=1))
    assert [e.level for e in status.escalations] == []
    assert status.clocks["resolution"].running
    assert status.next_escalation_level == "resolution-at-risk"


async def test_acknowledge_with_a_past_time_stops_the_clock_then(harness: Harness) -> None:
    handle = await harness.open()
    await harness.env.sleep(timedelta(minutes=10))
    opened = (await handle.query(TicketEscalation.status)).opened_at
    acked = await handle.execute_update(
        TicketEscalation.acknowledge,
        AcknowledgeRequest(by="agent@example.com", at=opened + timedelta(minutes=3)),
    )
    assert acked.clocks["first_response"].elapsed == timedelta(minutes=3)
    assert acked.acknowledged_at == opened + timedelta(minutes=3)


async def test_resolve_ends_the_workflow_with_final_status(harness: Harness) -> None:
    handle = await harness.open()
    await harness.env.sleep(timedelta(minutes=20))
    await handle.execute_update(
        TicketEscalation.resolve, ResolveRequest(by="agent@example.com", note="rolled back")
    )
    final = await handle.result()
    assert final.state == "resolved"
    assert final.resolution_note == "rolled back"
    assert all(c.stopped_at is not None for c in final.clocks.values())
    assert [e.level for e in final.escalations] == ["response-at-risk", "response-breached"]
