"""The newest recorded set still covers every behaviour the replay tests exist for.

A history only protects what it contains: if a re-recording stopped reaching a continue-as-new
or a rejected notice, replay would keep passing while old tickets of that shape went untested.
These checks read the committed JSON directly (no server, no SDK), so they cost nothing.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HISTORIES = Path(__file__).parent / "histories"
# Files are ``<scenario>-v<N>.json``; N orders the recorded sets.
FILE_NAME = re.compile(r"^(?P<scenario>[a-z0-9-]+)-v(?P<version>\d+)\.json$")
MAX_BYTES = 512 * 1024
UPDATES = (
    "acknowledge",
    "resolve",
    "pause",
    "resume",
    "change_priority",
    "update_impact",
    "update_attributes",
    "reassign",
    "customer_replied",
    "agent_replied",
    "feedback",
    "reopen",
    "migrate_policy",
    "report_event",
)

Event = dict[str, Any]


def _attributes(event: Event) -> dict[str, Any]:
    """The ``...EventAttributes`` of an event (each event has exactly one)."""
    return next(value for key, value in event.items() if key.endswith("EventAttributes"))


def _type(event: Event) -> str:
    return str(event["eventType"]).removeprefix("EVENT_TYPE_")


def _notices(events: list[Event]) -> dict[str, Event]:
    """``send_notification`` schedulings by event id."""
    return {
        event["eventId"]: event
        for event in events
        if _type(event) == "ACTIVITY_TASK_SCHEDULED"
        and _attributes(event)["activityType"]["name"] == "send_notification"
    }


def _input(event: Event) -> dict[str, Any]:
    payload = _attributes(event)["input"]["payloads"][0]
    decoded: dict[str, Any] = json.loads(base64.b64decode(payload["data"]))
    return decoded


def continues_as_new(events: list[Event]) -> bool:
    """The run ends by continuing as new."""
    return _type(events[-1]) == "WORKFLOW_EXECUTION_CONTINUED_AS_NEW"


def starts_continued(events: list[Event]) -> bool:
    """The run was started by a continue-as-new (its input carries the ticket's state)."""
    started = _attributes(events[0])
    return bool(started.get("continuedExecutionRunId")) and bool(_input(events[0]).get("continued"))


def rejects_a_notice(events: list[Event]) -> bool:
    """A ``send_notification`` failed with a non-retryable failure, and the ticket went on."""
    notices = _notices(events)
    failed = [
        event
        for event in events
        if _type(event) == "ACTIVITY_TASK_FAILED"
        and _attributes(event)["scheduledEventId"] in notices
        and _attributes(event)["failure"].get("applicationFailureInfo", {}).get("nonRetryable")
    ]
    return bool(failed) and _type(events[-1]) == "WORKFLOW_EXECUTION_COMPLETED"


def retries_a_notice(events: list[Event]) -> bool:
    """A ``send_notification`` failed at least once and was then delivered by a retry."""
    notices = _notices(events)
    retried = {
        _attributes(event)["scheduledEventId"]
        for event in events
        if _type(event) == "ACTIVITY_TASK_STARTED"
        and _attributes(event)["scheduledEventId"] in notices
        and int(_attributes(event).get("attempt", 1)) > 1
    }
    return any(
        _type(event) == "ACTIVITY_TASK_COMPLETED"
        and _attributes(event)["scheduledEventId"] in retried
        for event in events
    )


def repeats_on_a_timer(events: list[Event]) -> bool:
    """A repeat notice (``repeat`` >= 1) was sent by a workflow task that a timer woke."""
    notices = _notices(events)
    woken_by: set[str] = set()  # what happened since the last workflow task
    trigger: set[str] = set()  # what woke the task whose commands follow
    for event in events:
        kind = _type(event)
        if kind == "WORKFLOW_TASK_COMPLETED":
            trigger, woken_by = woken_by, set()
        elif event["eventId"] in notices:
            if "TIMER_FIRED" in trigger and int(_input(event)["repeat"]) >= 1:
                return True
        else:
            woken_by.add(kind)
    return False


def _takes_update(name: str) -> Callable[[list[Event]], bool]:
    def takes(events: list[Event]) -> bool:
        return any(
            _type(event) == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED"
            and _attributes(event)["acceptedRequest"]["input"]["name"] == name
            for event in events
        )

    takes.__doc__ = f"The ticket accepted a {name} update."
    return takes


def _patched(events: list[Event], *patch_ids: str) -> bool:
    """A patch marker of one of ``patch_ids`` is in the history."""
    return any(
        _type(event) == "MARKER_RECORDED"
        and any(
            patch_id in _decoded(_attributes(event)["details"].get("patch-data", {}))
            for patch_id in patch_ids
        )
        for event in events
    )


def reports_events_late(events: list[Event]) -> bool:
    """The ticket took the timeline rules (patch ``events-in-at-order``, or
    ``one-patch-steady-timer`` that implies it) and an update that reported its event late
    (with ``at``)."""
    marked = _patched(events, "events-in-at-order", "one-patch-steady-timer")
    return marked and any(
        _type(event) == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED"
        and re.search(
            r'"at":\s*"', _decoded(_attributes(event)["acceptedRequest"]["input"]["args"])
        )
        for event in events
    )


def keeps_its_timer_across_an_update(events: list[Event]) -> bool:
    """The ticket took patch ``one-patch-steady-timer``, and a timer started before an update
    fired after it (the update left the next threshold where it was)."""
    if not _patched(events, "one-patch-steady-timer"):
        return False
    started_before_update: set[str] = set()
    pending: set[str] = set()
    for event in events:
        kind = _type(event)
        if kind == "TIMER_STARTED":
            pending.add(event["eventId"])
        elif kind == "WORKFLOW_EXECUTION_UPDATE_ACCEPTED":
            started_before_update |= pending
        elif kind in ("TIMER_FIRED", "TIMER_CANCELED"):
            started = _attributes(event)["startedEventId"]
            pending.discard(started)
            if kind == "TIMER_FIRED" and started in started_before_update:
                return True
    return False


def threads_and_tells_a_channel(events: list[Event]) -> bool:
    """A channel notice replied in the ticket's Slack thread (``thread`` set from an earlier
    notice's result), and a state change (acknowledge, resolve, ...) was sent to a channel."""
    inputs = [
        _input(event)
        for event in events
        if _type(event) == "ACTIVITY_TASK_SCHEDULED"
        and _attributes(event)["activityType"]["name"] == "send_channel_notice"
    ]
    threaded = any(i.get("thread") and i.get("event", "level") == "level" for i in inputs)
    told = any(i.get("event") in ("acknowledged", "resolved") for i in inputs)
    return threaded and told


def _decoded(args: dict[str, Any]) -> str:
    return " ".join(
        base64.b64decode(payload.get("data", "")).decode("utf-8", "replace")
        for payload in args.get("payloads", [])
    )


BEHAVIOURS: dict[str, Callable[[list[Event]], bool]] = {
    "events reported late": reports_events_late,
    "timer kept across an update": keeps_its_timer_across_an_update,
    "a channel threaded and told of a state change": threads_and_tells_a_channel,
    "continue-as-new": continues_as_new,
    "continued run": starts_continued,
    "notice rejected for good": rejects_a_notice,
    "notice delivered on a retry": retries_a_notice,
    "repeat on a timer": repeats_on_a_timer,
    **{f"update {name}": _takes_update(name) for name in UPDATES},
}


def _files() -> Iterator[Path]:
    return iter(sorted(HISTORIES.glob("*.json")))


def _newest_set() -> dict[str, list[Event]]:
    versions = {
        path: int(match["version"]) for path in _files() if (match := FILE_NAME.match(path.name))
    }
    newest = max(versions.values(), default=0)
    return {
        path.name: json.loads(path.read_text())["events"]
        for path, version in versions.items()
        if version == newest
    }


NEWEST = _newest_set()


def test_file_names_carry_a_version() -> None:
    misnamed = [path.name for path in _files() if not FILE_NAME.match(path.name)]
    assert not misnamed, f"name histories <scenario>-v<N>.json (record --label vN): {misnamed}"


def test_files_stay_small() -> None:
    large = {path.name: path.stat().st_size for path in _files()}
    large = {name: size for name, size in large.items() if size > MAX_BYTES}
    assert not large, f"histories over {MAX_BYTES // 1024} KB: {large}"


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_newest_set_covers(behaviour: str) -> None:
    covered_by = [name for name, events in NEWEST.items() if BEHAVIOURS[behaviour](events)]
    assert covered_by, (
        f"no history of the newest set ({', '.join(NEWEST)}) shows {behaviour!r}: "
        f"{BEHAVIOURS[behaviour].__doc__} Restore the scenario in tests/replay/scenarios.py."
    )
