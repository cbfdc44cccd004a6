"""Workflow changes behind ``workflow.patched``: new tickets take the new branch."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import EventType

from tests.workflows.conftest import Harness
from workflows.ticket_escalation import DELIVERY_DOES_NOT_WAKE, LOCAL_POLICY_LOAD


async def test_a_delivered_notice_no_longer_restarts_the_timer(harness: Harness) -> None:
    handle = await harness.open()  # P1: response-at-risk after 11m15s
    status = await harness.status_after(handle, timedelta(minutes=12))
    assert [e.delivery.status for e in status.escalations] == ["sent"]
    events = [e async for e in handle.fetch_history_events()]
    markers = [e for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert any(DELIVERY_DOES_NOT_WAKE in str(m.marker_recorded_event_attributes) for m in markers)
    completed = next(
        e.event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        and e.activity_task_completed_event_attributes.scheduled_event_id
        in {
            s.event_id
            for s in events
            if s.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            and s.activity_task_scheduled_event_attributes.activity_type.name == "send_notification"
        }
    )
    after = [e.event_type for e in events if e.event_id > completed]
    assert EventType.EVENT_TYPE_TIMER_CANCELED not in after


async def test_the_policy_is_loaded_by_a_local_activity(harness: Harness) -> None:
    handle = await harness.open()
    events = [e async for e in handle.fetch_history_events()]
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert "load_policy" not in scheduled
    markers = [e for e in events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
    assert any(LOCAL_POLICY_LOAD in str(m.marker_recorded_event_attributes) for m in markers)
    assert any(
        m.marker_recorded_event_attributes.marker_name == "core_local_activity" for m in markers
    )
