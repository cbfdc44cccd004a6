"""A loopback fake of PagerDuty's Events API v2, ``POST /v2/enqueue``.

PagerDuty's schema repository carries no licence, so no file of it is vendored: the field rules
here are the facts written in ``/work/shared/vendor/README.md`` ("Notification channels"). Error
texts PagerDuty is known to send are reproduced as it words them ("Length of 'routing_key' is
incorrect (should be 32 characters)", "'routing_key' cannot contain non-alphanumeric
characters.", "Invalid routing key"); the others follow their style.

Alerts are kept per ``dedup_key`` as PagerDuty does: a trigger folds into the open alert with
the same key, acknowledge and resolve act on it, and a trigger after a resolve opens a new
incident.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from tests.fakes.loopback import Answer, Incoming, LoopbackFake, Outcome, decode_json

ENQUEUE_PATH = "/v2/enqueue"
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_LENGTH = 32
MAX_DEDUP_KEY = 255
MAX_SUMMARY = 1024
EVENT_KEYS = frozenset(
    {
        "routing_key",
        "event_action",
        "dedup_key",
        "payload",
        "client",
        "client_url",
        "links",
        "images",
    }
)
PAYLOAD_KEYS = frozenset(
    {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}
)
LINK_KEYS = frozenset({"href", "text"})
IMAGE_KEYS = frozenset({"src", "href", "alt"})
DEFAULT_ROUTING_KEY = "0123456789abcdef0123456789abcdef"

_INVALID = "invalid event"
_INVALID_MESSAGE = "Event object is invalid"
_THROTTLED = {
    "status": "throttle event",
    # Two spaces after the full stop, as PagerDuty writes it.
    "message": "Requests for this service are arriving too quickly.  Please retry later.",
}

AlertStatus = Literal["triggered", "acknowledged", "resolved"]


@dataclass
class PagerDutyAlert:
    """The alert the fake keeps for one ``dedup_key``."""

    dedup_key: str
    routing_key: str
    status: AlertStatus
    payload: dict[str, Any]
    """The payload of the trigger that opened the current incident."""
    incidents: int = 1
    """Incidents opened under this key: a trigger after a resolve opens another."""
    folded: int = 0
    """Triggers folded into an open incident (deduplicated) rather than opening one."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """Every accepted event with this key, oldest first."""


class FakePagerDuty(LoopbackFake):
    """A scripted PagerDuty Events API v2 endpoint on a loopback port.

    Post events to ``fake.url + "/v2/enqueue"`` (``fake.enqueue_url``). Accepted events are
    answered 202 ``{"status": "success", "message": "Event processed", "dedup_key": ...}``,
    invalid ones 400 ``{"status": "invalid event", "message": "Event object is invalid",
    "errors": [...]}``. ``answer_next(429)`` gives PagerDuty's throttle answer; 5xx answers
    have an empty body.

    Args:
        routing_keys: the integration keys (32 alphanumerics) the fake knows.
    """

    label = "FakePagerDuty"

    def __init__(self, *, routing_keys: Iterable[str] = (DEFAULT_ROUTING_KEY,)) -> None:
        keys = tuple(routing_keys)
        for key in keys:
            if len(key) != ROUTING_KEY_LENGTH or not key.isalnum() or not key.isascii():
                raise ValueError(f"{key!r} is not a routing key (32 alphanumerics)")
        super().__init__()
        self.routing_keys = frozenset(keys)
        self._alerts: dict[str, PagerDutyAlert] = {}
        self._actions: dict[str, list[str]] = {}

    @property
    def enqueue_url(self) -> str:
        """``<url>/v2/enqueue``."""
        return self.url + ENQUEUE_PATH

    @property
    def alerts(self) -> dict[str, PagerDutyAlert]:
        """The alerts by ``dedup_key`` (copies); only keys that were ever triggered."""
        with self._condition:
            return copy.deepcopy(self._alerts)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every accepted event body, oldest first."""
        return [r.params for r in self.requests if r.accepted]

    def actions_for(self, dedup_key: str) -> list[str]:
        """The accepted event actions with this key, oldest first (``[]`` if none).

        Includes acknowledge and resolve events for a key with no open alert, which PagerDuty
        accepts (202) and ignores.
        """
        with self._condition:
            return list(self._actions.get(dedup_key, []))

    def wait_for(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Block until ``count`` events were accepted; return every accepted event.

        Raises:
            AssertionError: on timeout, listing what was received.
        """
        return [r.params for r in self._wait_accepted(count, timeout, None, "events")]

    def _complete_scripted(self, answer: Answer) -> Answer:
        if answer.body is None and answer.status == 429:
            return Answer(429, dict(_THROTTLED), answer.headers)
        return answer

    def _handle(self, request: Incoming) -> Outcome:
        if request.path != ENQUEUE_PATH or request.method != "POST":
            # Change events (/v2/change/enqueue) are PagerDuty's too, but not this fake's.
            return Outcome(
                Answer(404),
                problems=(f"this fake serves POST {ENQUEUE_PATH} only",),
            )
        errors: list[str] = []
        if request.media_type != "application/json":
            errors.append("Content-Type must be application/json")
        event: Any = None
        try:
            event = decode_json(request.raw)
        except ValueError:
            errors.append("Request body is not valid JSON")
        if event is not None and not isinstance(event, dict):
            errors.append("Event must be a JSON object")
        elif isinstance(event, dict):
            errors.extend(event_errors(event))
            if not errors and event["routing_key"] not in self.routing_keys:
                # A well-formed key of no integration: PagerDuty answers 400 "Invalid routing
                # key" (as clients log it; its docs do not list this case).
                errors.append("Invalid routing key")
        action = event.get("event_action", "") if isinstance(event, dict) else ""
        operation = action if isinstance(action, str) else ""
        scripted = self._take_scripted()
        if scripted is not None:
            return Outcome(scripted, operation, event, tuple(errors), scripted=True)
        if errors:
            body = {"status": _INVALID, "message": _INVALID_MESSAGE, "errors": errors}
            return Outcome(Answer(400, body), operation, event, tuple(errors))
        assert isinstance(event, dict)
        dedup_key = self._apply(event)
        body = {"status": "success", "message": "Event processed", "dedup_key": dedup_key}
        return Outcome(Answer(202, body), operation, event, accepted=True)

    def _apply(self, event: dict[str, Any]) -> str:
        action = event["event_action"]
        # PagerDuty makes a key for a trigger without one (a 32-character hex string).
        dedup_key = event.get("dedup_key") or uuid.uuid4().hex
        self._actions.setdefault(dedup_key, []).append(action)
        alert = self._alerts.get(dedup_key)
        if action == "trigger":
            payload = copy.deepcopy(event["payload"])
            if alert is None:
                alert = PagerDutyAlert(dedup_key, event["routing_key"], "triggered", payload)
                self._alerts[dedup_key] = alert
            elif alert.status == "resolved":
                alert.status = "triggered"
                alert.incidents += 1
                alert.payload = payload
            else:
                # Folded into the open alert, which keeps its status (an acknowledged alert
                # stays acknowledged).
                alert.folded += 1
        elif alert is not None:
            if action == "acknowledge" and alert.status == "triggered":
                alert.status = "acknowledged"
            elif action == "resolve":
                alert.status = "resolved"
        if alert is not None:
            alert.events.append(copy.deepcopy(event))
        return dedup_key


def event_errors(event: dict[str, Any]) -> list[str]:
    """What is wrong with an Events API v2 event, in PagerDuty's wording where it is known."""
    errors: list[str] = []
    for key in sorted(set(event) - EVENT_KEYS):
        errors.append(f"'{key}' is not a field of an event")
    routing_key = event.get("routing_key")
    if not isinstance(routing_key, str) or not routing_key:
        errors.append("'routing_key' is missing or blank")
    else:
        if len(routing_key) != ROUTING_KEY_LENGTH:
            errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
        if not (routing_key.isascii() and routing_key.isalnum()):
            errors.append("'routing_key' cannot contain non-alphanumeric characters.")
    action = event.get("event_action")
    if not isinstance(action, str) or not action:
        errors.append("'event_action' is missing or blank")
    elif action not in ACTIONS:
        errors.append(f"'event_action' must be one of {', '.join(ACTIONS)}")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None:
        if not isinstance(dedup_key, str):
            errors.append("'dedup_key' must be a string")
        elif len(dedup_key) > MAX_DEDUP_KEY:
            errors.append(f"'dedup_key' is longer than {MAX_DEDUP_KEY} characters")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append(f"'dedup_key' is missing or blank (required to {action})")
    payload = event.get("payload")
    if action == "trigger":
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or blank")
        else:
            errors.extend(_payload_errors(payload))
    elif payload is not None and not isinstance(payload, dict):
        errors.append("'payload' must be an object")
    for key in ("client", "client_url"):
        if key in event and not isinstance(event[key], str):
            errors.append(f"'{key}' must be a string")
    errors.extend(_list_errors(event, "links", required="href", allowed=LINK_KEYS))
    errors.extend(_list_errors(event, "images", required="src", allowed=IMAGE_KEYS))
    return errors


def _payload_errors(payload: dict[str, Any]) -> list[str]:
    errors = [
        f"'payload.{key}' is not a field of a payload"
        for key in sorted(set(payload) - PAYLOAD_KEYS)
    ]
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > MAX_SUMMARY:
        errors.append(f"'payload.summary' is longer than {MAX_SUMMARY} characters")
    source = payload.get("source")
    if not isinstance(source, str) or not source.strip():
        errors.append("'payload.source' is missing or blank")
    severity = payload.get("severity")
    if not isinstance(severity, str) or not severity:
        errors.append("'payload.severity' is missing or blank")
    elif severity not in SEVERITIES:
        errors.append(f"'payload.severity' must be one of {', '.join(SEVERITIES)}")
    timestamp = payload.get("timestamp")
    if timestamp is not None:
        try:
            if not isinstance(timestamp, str):
                raise ValueError(timestamp)
            # Any ISO 8601 form fromisoformat reads; "Z" spelt +00:00 so that the check does
            # not hang on which Python versions read "Z" themselves (3.11 on).
            datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
        except ValueError:
            errors.append("'payload.timestamp' is not an ISO 8601 timestamp")
    for key in ("component", "group", "class"):
        if key in payload and not isinstance(payload[key], str):
            errors.append(f"'payload.{key}' must be a string")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        errors.append("'payload.custom_details' must be an object")
    return errors


def _list_errors(
    event: dict[str, Any], name: str, *, required: str, allowed: frozenset[str]
) -> list[str]:
    if name not in event:
        return []
    items = event[name]
    if not isinstance(items, list):
        return [f"'{name}' must be a list"]
    errors = []
    for index, item in enumerate(items):
        where = f"'{name}[{index}]'"
        if not isinstance(item, dict):
            errors.append(f"{where} must be an object")
            continue
        if not isinstance(item.get(required), str) or not item[required]:
            errors.append(f"{where}.{required} is missing or blank")
        for key in sorted(set(item) - allowed):
            errors.append(f"{where}.{key} is not a field of {name}")
        for key in sorted((set(item) & allowed) - {required}):
            if not isinstance(item[key], str):
                errors.append(f"{where}.{key} must be a string")
    return errors
