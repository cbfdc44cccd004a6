"""What a workflow costs, counted from its history: events, commands, tasks, bytes and actions.

Pure functions over ``temporalio.api.history.v1.HistoryEvent`` lists (from
``WorkflowHandle.fetch_history_events()`` or ``WorkflowHistory.events``): no server, no clock.

Commands are derived from the events they leave: ``ActivityTaskScheduled`` is a
``ScheduleActivityTask``, ``TimerStarted`` a ``StartTimer``, ``MarkerRecorded`` a
``RecordMarker`` (split into patch markers and local-activity markers by ``marker_name``),
``UpsertWorkflowSearchAttributes`` an upsert (split into those that only set
``TemporalChangeVersion``, which the SDK core sends for each new ``workflow.patched`` call, and
the workflow's own), ``WorkflowPropertiesModified`` a memo upsert, and so on. Update
acceptances and completions are protocol messages rather than commands; they are counted
beside the commands because a workflow task sends them the same way.

Temporal Cloud billable actions follow Temporal's published rules
(https://docs.temporal.io/cloud/actions), as far as a history shows them:

- Workflow started: one per run (a client start, or a continue-as-new: the new run's
  ``WorkflowExecutionStarted`` counts it once; the old run's ``ContinuedAsNew`` does not).
- Search attribute upsert: one per ``UpsertWorkflowSearchAttributes``, however many attributes
  it sets, except an upsert that sets only ``TemporalChangeVersion`` (exempt). Attributes given
  at start are not upserts.
- Activity: one per ``ActivityTaskScheduled``, plus one per retry (``attempt - 1`` of its
  ``ActivityTaskStarted``, which the server writes with the last attempt's number).
- Local activities and markers (patches, side effects): every ``MarkerRecorded`` of one workflow
  task together is one action (grouped by ``workflow_task_completed_event_id``), plus the
  ``metering_metadata.nonfirst_local_activity_execution_attempts`` each
  ``WorkflowTaskCompleted`` reports.
- Timer started: one per ``TimerStarted``.
- Signal: one per ``WorkflowExecutionSignaled`` (a signal a workflow sends is counted where it
  is received).
- Update: one per ``WorkflowExecutionUpdateAccepted``.

Not billable: memo upserts (``WorkflowPropertiesModified``), workflow tasks, completions.
Not in a history, so not counted here although billed: queries, activity heartbeats, and
rejected updates (a validator's rejection leaves no event).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

CHANGE_VERSION = "TemporalChangeVersion"
PATCH_MARKER = "core_patch"
LOCAL_ACTIVITY_MARKER = "core_local_activity"

# The command each command event records. Markers and upserts are split further below.
_COMMAND_OF_EVENT: dict[int, str] = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "ScheduleActivityTask",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED: "RequestCancelActivityTask",
    EventType.EVENT_TYPE_TIMER_STARTED: "StartTimer",
    EventType.EVENT_TYPE_TIMER_CANCELED: "CancelTimer",
    EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED: "ModifyWorkflowProperties (memo)",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: "CompleteWorkflowExecution",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: "FailWorkflowExecution",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: "CancelWorkflowExecution",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: "ContinueAsNewWorkflowExecution",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "StartChildWorkflowExecution",
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: (
        "SignalExternalWorkflowExecution"
    ),
    EventType.EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: (
        "RequestCancelExternalWorkflowExecution"
    ),
    EventType.EVENT_TYPE_NEXUS_OPERATION_SCHEDULED: "ScheduleNexusOperation",
    EventType.EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED: "RequestCancelNexusOperation",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "AcceptUpdate (message)",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: "CompleteUpdate (message)",
}


@dataclass
class HistoryCost:
    """What one history (or the runs of one workflow, added together) spent.

    Attributes:
        events: History events by type (``TimerStarted``: 3).
        commands: Commands the workflow's tasks sent, by kind.
        workflow_tasks: Workflow tasks completed.
        attribute_bytes: Serialized size of every event's attributes.
        payload_bytes: Size of the payloads among them (inputs, results, memo, search
            attribute values, marker data), by event type.
        actions: Temporal Cloud billable actions, by rule.
    """

    events: dict[str, int] = field(default_factory=dict)
    commands: dict[str, int] = field(default_factory=dict)
    workflow_tasks: int = 0
    attribute_bytes: int = 0
    payload_bytes: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)

    @property
    def total_events(self) -> int:
        """Every history event."""
        return sum(self.events.values())

    @property
    def total_commands(self) -> int:
        """Every command and update message."""
        return sum(self.commands.values())

    @property
    def total_payload_bytes(self) -> int:
        """Every payload's bytes."""
        return sum(self.payload_bytes.values())

    @property
    def total_actions(self) -> int:
        """Every billable action."""
        return sum(self.actions.values())

    def __add__(self, other: HistoryCost) -> HistoryCost:
        return HistoryCost(
            events=_merge(self.events, other.events),
            commands=_merge(self.commands, other.commands),
            workflow_tasks=self.workflow_tasks + other.workflow_tasks,
            attribute_bytes=self.attribute_bytes + other.attribute_bytes,
            payload_bytes=_merge(self.payload_bytes, other.payload_bytes),
            actions=_merge(self.actions, other.actions),
        )


def _merge(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return dict(sorted((Counter(a) + Counter(b)).items()))


def event_name(event_type: int) -> str:
    """``EVENT_TYPE_TIMER_STARTED`` as ``TimerStarted``."""
    words = EventType.Name(EventType.ValueType(event_type)).removeprefix("EVENT_TYPE_").split("_")
    return "".join(word.capitalize() for word in words)


def _attributes(event: HistoryEvent) -> Message | None:
    which = event.WhichOneof("attributes")
    if which is None:
        return None
    attributes: Message = getattr(event, which)
    return attributes


def payload_bytes(message: Message) -> int:
    """The serialized size of every ``Payload`` inside ``message``, however deeply nested."""
    if isinstance(message, Payload):
        return message.ByteSize()
    total = 0
    for descriptor, value in message.ListFields():
        entry = descriptor.message_type
        if descriptor.type != descriptor.TYPE_MESSAGE or entry is None:
            continue
        if entry.GetOptions().map_entry:
            values = value.values()
            if entry.fields_by_name["value"].type != descriptor.TYPE_MESSAGE:
                continue
        elif descriptor.is_repeated:
            values = value
        else:
            values = [value]
        total += sum(payload_bytes(item) for item in values)
    return total


def command_kind(event: HistoryEvent) -> str | None:
    """The kind of command (or update message) ``event`` records; None for other events."""
    if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
        name = event.marker_recorded_event_attributes.marker_name
        if name == PATCH_MARKER:
            return "RecordMarker (patch)"
        if name == LOCAL_ACTIVITY_MARKER:
            return "RecordMarker (local activity)"
        return f"RecordMarker ({name})"
    if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        if is_change_version_only(event):
            return "UpsertSearchAttributes (TemporalChangeVersion only)"
        return "UpsertSearchAttributes (ours)"
    return _COMMAND_OF_EVENT.get(event.event_type)


def is_change_version_only(event: HistoryEvent) -> bool:
    """Whether an upsert event sets ``TemporalChangeVersion`` and nothing else."""
    fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
    return set(fields.indexed_fields) == {CHANGE_VERSION}


def billable_actions(events: Iterable[HistoryEvent]) -> dict[str, int]:
    """Temporal Cloud billable actions by rule (see the module docstring), zeros left out."""
    actions: Counter[str] = Counter()
    marker_tasks: set[int] = set()
    for event in events:
        kind = event.event_type
        if kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            actions["workflow started"] += 1
        elif kind == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
            if not is_change_version_only(event):
                actions["search attribute upsert"] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            actions["activity scheduled"] += 1
        elif kind == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            actions["activity retry"] += max(
                event.activity_task_started_event_attributes.attempt - 1, 0
            )
        elif kind == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker_tasks.add(
                event.marker_recorded_event_attributes.workflow_task_completed_event_id
            )
        elif kind == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            metering = event.workflow_task_completed_event_attributes.metering_metadata
            actions["local activity retry"] += metering.nonfirst_local_activity_execution_attempts
        elif kind == EventType.EVENT_TYPE_TIMER_STARTED:
            actions["timer started"] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            actions["signal"] += 1
        elif kind == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            actions["update"] += 1
    actions["markers (one per workflow task)"] += len(marker_tasks)
    return {name: count for name, count in sorted(actions.items()) if count}


def history_cost(events: Iterable[HistoryEvent]) -> HistoryCost:
    """Everything :class:`HistoryCost` counts, for one run's events."""
    listed = list(events)
    cost = HistoryCost(actions=billable_actions(listed))
    event_counts: Counter[str] = Counter()
    commands: Counter[str] = Counter()
    payloads: Counter[str] = Counter()
    for event in listed:
        name = event_name(event.event_type)
        event_counts[name] += 1
        kind = command_kind(event)
        if kind is not None:
            commands[kind] += 1
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            cost.workflow_tasks += 1
        attributes = _attributes(event)
        if attributes is not None:
            cost.attribute_bytes += attributes.ByteSize()
            if size := payload_bytes(attributes):
                payloads[name] += size
    cost.events = dict(sorted(event_counts.items()))
    cost.commands = dict(sorted(commands.items()))
    cost.payload_bytes = dict(sorted(payloads.items()))
    return cost
