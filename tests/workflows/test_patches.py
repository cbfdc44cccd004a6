"""Workflow changes behind ``workflow.patched``: new tickets take the new branch."""

from __future__ import annotations

from datetime import timedelta

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from tests.workflows.conftest import Harness
from workflows.ticket_escalation import (
    DELIVERY_DOES_NOT_WAKE,
    EVENTS_IN_AT_ORDER,
    FEEDBACK_WINDOW,
    LOCAL_POLICY_LOAD,
    ONE_PATCH_STEADY_TIMER,
    SLA_REPORTING,
    TicketEscalation,
)
from workflows.ticket_messages import ReassignRequest, ResolveRequest

OLDER_PATCHES = (
    DELIVERY_DOES_NOT_WAKE,
    EVENTS_IN_AT_ORDER,
    FEEDBACK_WINDOW,
    LOCAL_POLICY_LOAD,
    SLA_REPORTING,
)


def _patch_markers(events: list[HistoryEvent]) -> str:
    return " ".join(
        str(e.marker_recorded_event_attributes)
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    )


async def test_a_new_ticket_asks_one_patch_and_records_one_marker(harness: Harness) -> None:
    # The newest patch implies every older one: a new ticket records its marker once (and the
    # SDK's TemporalChangeVersion upsert once), not one per patch where each applies.
    handle = await harness.open()
    await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="ann"))
    await handle.result()
    events = [e async for e in handle.fetch_history_events()]
    markers = [
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_patch"
    ]
    assert len(markers) == 1
    assert ONE_PATCH_STEADY_TIMER in _patch_markers(events)
    assert not [patch for patch in OLDER_PATCHES if patch in _patch_markers(events)]
    version_upserts = [
        e
        for e in events
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        and set(
            e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
        )
        == {"TemporalChangeVersion"}
    ]
    assert len(version_upserts) == 1


async def test_an_update_that_leaves_the_next_threshold_keeps_the_timer(harness: Harness) -> None:
    handle = await harness.open()  # P1: response-at-risk after 11m15s
    await handle.execute_update(TicketEscalation.reassign, ReassignRequest(assignee="bo@x.io"))
    status = await harness.status_after(handle, timedelta(minutes=12))
    assert [e.level for e in status.escalations] == ["response-at-risk"]
    events = [e async for e in handle.fetch_history_events()]
    kinds = [e.event_type for e in events]
    assert EventType.EVENT_TYPE_TIMER_CANCELED not in kinds
    started = [e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    fired = [
        e.timer_fired_event_attributes.started_event_id
        for e in events
        if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED
    ]
    # The timer armed at opening is the one that fired after the reassignment.
    assert fired[0] == started[0]


async def test_a_delivered_notice_no_longer_restarts_the_timer(harness: Harness) -> None:
    handle = await harness.open()  # P1: response-at-risk after 11m15s
    status = await harness.status_after(handle, timedelta(minutes=12))
    assert [e.delivery.status for e in status.escalations] == ["sent"]
    events = [e async for e in handle.fetch_history_events()]
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
    assert any(
        m.marker_recorded_event_attributes.marker_name == "core_local_activity" for m in markers
    )


async def test_new_tickets_publish_outcomes_and_wait_for_feedback(harness: Harness) -> None:
    # Old tickets (histories without these markers) keep completing at resolve and publish no
    # outcome: tests/replay replays every-update-v5.json, recorded before both patches.
    handle = await harness.open()
    await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="ann"))
    await handle.result()
    events = [e async for e in handle.fetch_history_events()]
    kinds = {e.event_type for e in events}
    assert EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED in kinds  # the outcome memo
    timers = [
        e.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        for e in events
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]
    assert timers[-1] > timedelta(days=6, hours=23)  # the week-long feedback window
