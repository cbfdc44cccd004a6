"""What ``escalations.bench.cost`` counts, on hand-built histories: one test per rule."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from escalations.bench.cost import (
    CHANGE_VERSION,
    LOCAL_ACTIVITY_MARKER,
    PATCH_MARKER,
    billable_actions,
    command_kind,
    event_name,
    history_cost,
    payload_bytes,
)

E = EventType


def event(event_type: int, **attributes: Any) -> HistoryEvent:
    """An event of ``event_type`` with ``attributes`` set on its ``..._event_attributes``."""
    made = HistoryEvent(event_type=EventType.ValueType(event_type))
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in event_name(event_type))
    target = getattr(made, f"{snake.lstrip('_')}_event_attributes")
    target.SetInParent()
    for key, value in attributes.items():
        setattr(target, key, value)
    return made


def marker(name: str, task: int) -> HistoryEvent:
    return event(
        E.EVENT_TYPE_MARKER_RECORDED, marker_name=name, workflow_task_completed_event_id=task
    )


def upsert(*keys: str) -> HistoryEvent:
    made = event(E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
    fields = made.upsert_workflow_search_attributes_event_attributes.search_attributes
    for key in keys:
        fields.indexed_fields[key].CopyFrom(Payload(data=b'"x"'))
    return made


def task_completed(local_retries: int = 0) -> HistoryEvent:
    made = event(E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    attributes = made.workflow_task_completed_event_attributes
    attributes.metering_metadata.nonfirst_local_activity_execution_attempts = local_retries
    return made


def test_every_start_is_an_action_so_a_continued_run_counts_once_more() -> None:
    first = [
        event(E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED),
        event(E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW),
    ]
    second = [event(E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)]
    assert billable_actions(first) == {"workflow started": 1}
    chain = history_cost(first) + history_cost(second)
    assert chain.actions == {"workflow started": 2}
    assert chain.commands == {"ContinueAsNewWorkflowExecution": 1}


def test_an_upsert_of_only_the_change_version_is_exempt() -> None:
    events = [
        upsert(CHANGE_VERSION),
        upsert("SlaState", "Priority"),
        upsert(CHANGE_VERSION, "Team"),
    ]
    assert billable_actions(events) == {"search attribute upsert": 2}
    assert history_cost(events).commands == {
        "UpsertSearchAttributes (TemporalChangeVersion only)": 1,
        "UpsertSearchAttributes (ours)": 2,
    }


def test_an_activity_is_one_action_plus_one_per_retry() -> None:
    events = [
        event(E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        event(E.EVENT_TYPE_ACTIVITY_TASK_STARTED, attempt=3),
        event(E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
        event(E.EVENT_TYPE_ACTIVITY_TASK_STARTED, attempt=1),
    ]
    assert billable_actions(events) == {"activity scheduled": 2, "activity retry": 2}


def test_the_markers_of_one_workflow_task_are_one_action() -> None:
    events = [
        marker(PATCH_MARKER, 4),
        marker(LOCAL_ACTIVITY_MARKER, 4),
        marker(PATCH_MARKER, 4),
        marker(PATCH_MARKER, 9),
    ]
    assert billable_actions(events) == {"markers (one per workflow task)": 2}
    assert history_cost(events).commands == {
        "RecordMarker (local activity)": 1,
        "RecordMarker (patch)": 3,
    }


def test_local_activity_retries_come_from_the_task_metering() -> None:
    events = [task_completed(local_retries=2), task_completed()]
    assert billable_actions(events) == {"local activity retry": 2}
    assert history_cost(events).workflow_tasks == 2


@pytest.mark.parametrize(
    ("event_type", "rule"),
    [
        (E.EVENT_TYPE_TIMER_STARTED, "timer started"),
        (E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, "signal"),
        (E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED, "update"),
    ],
)
def test_timers_signals_and_accepted_updates_are_one_action_each(
    event_type: int, rule: str
) -> None:
    assert billable_actions([event(event_type), event(event_type)]) == {rule: 2}


@pytest.mark.parametrize(
    "event_type",
    [
        E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
        E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
        E.EVENT_TYPE_TIMER_CANCELED,
        E.EVENT_TYPE_TIMER_FIRED,
        E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED,
        E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
        E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    ],
)
def test_memo_upserts_completions_and_tasks_are_not_billable(event_type: int) -> None:
    assert billable_actions([event(event_type)]) == {}


def test_commands_are_named_by_the_events_they_leave() -> None:
    assert command_kind(event(E.EVENT_TYPE_TIMER_STARTED)) == "StartTimer"
    assert command_kind(event(E.EVENT_TYPE_TIMER_CANCELED)) == "CancelTimer"
    assert command_kind(event(E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)) == "ScheduleActivityTask"
    assert (
        command_kind(event(E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED))
        == "ModifyWorkflowProperties (memo)"
    )
    assert command_kind(marker("SideEffect", 1)) == "RecordMarker (SideEffect)"
    assert command_kind(event(E.EVENT_TYPE_TIMER_FIRED)) is None
    assert command_kind(event(E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)) is None


def test_events_are_counted_by_type() -> None:
    events = [
        event(E.EVENT_TYPE_TIMER_STARTED),
        event(E.EVENT_TYPE_TIMER_FIRED),
        event(E.EVENT_TYPE_TIMER_STARTED),
    ]
    cost = history_cost(events)
    assert cost.events == {"TimerFired": 1, "TimerStarted": 2}
    assert cost.total_events == 3


def test_payload_bytes_are_found_in_lists_maps_and_nested_messages() -> None:
    result = Payloads(payloads=[Payload(data=b"a" * 10), Payload(data=b"b" * 20)])
    completed = event(E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    completed.activity_task_completed_event_attributes.result.CopyFrom(result)
    memo = event(E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED)
    fields = memo.workflow_properties_modified_event_attributes.upserted_memo.fields
    fields["sla_outcome"].CopyFrom(Payload(data=b"c" * 30))
    expected_result = sum(p.ByteSize() for p in result.payloads)
    assert payload_bytes(completed.activity_task_completed_event_attributes) == expected_result
    cost = history_cost([completed, memo])
    assert cost.payload_bytes == {
        "ActivityTaskCompleted": expected_result,
        "WorkflowPropertiesModified": Payload(data=b"c" * 30).ByteSize(),
    }
    assert cost.attribute_bytes == (
        completed.activity_task_completed_event_attributes.ByteSize()
        + memo.workflow_properties_modified_event_attributes.ByteSize()
    )
    assert cost.attribute_bytes > cost.total_payload_bytes
