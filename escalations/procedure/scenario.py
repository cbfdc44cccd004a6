"""A ticket to simulate: its opening fields and what happens to it, and when.

Events are written the way a reviewer says them (``ack at +3h``, ``priority P1 at +2h``,
``resolve at 2026-11-18T10:00-05:00``); :func:`parse_event` turns one into a
:class:`ScenarioEvent`, and refuses anything else with the accepted forms.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from policies.durations import format_duration, parse_duration
from workflows.ticket_messages import ReassignRequest, UpdateAttributesRequest

EXAMPLE_ASSIGNEE = "assignee@example.com"
"""The stand-in assignee of a simulated ticket, so that levels that notify ``assignee`` show."""

EventKind = Literal[
    "ack",
    "resolve",
    "pause",
    "resume",
    "priority",
    "customer-reply",
    "agent-reply",
    "impact",
    "critical-service",
    "attributes",
    "reassign",
    "assign",
]

EVENT_FORMS = """\
  ack at WHEN                      the first response (acknowledge)
  resolve at WHEN                  the ticket is solved
  pause at WHEN / resume at WHEN   waiting on the customer, and back
  priority P1 at WHEN              a priority change
  customer-reply at WHEN           a customer message
  agent-reply at WHEN              an agent's public reply
  impact 600 at WHEN               affected users
  critical-service at WHEN         a critical service is affected
  attributes k=v[,k=v] at WHEN     ticket attributes (may choose another SLA plan)
  reassign TEAM at WHEN            another team
  assign EMAIL at WHEN             another assignee
WHEN is +DURATION after opening (+45m, +3h, +1d2h) or an ISO time with a zone
(2026-11-16T14:00-05:00, 2026-11-16T19:00Z)."""
"""The event forms, as errors and ``--help`` show them."""

_EVENT = re.compile(r"^\s*(?P<what>\S.*?)\s+at\s+(?P<when>\S+)\s*$", re.IGNORECASE)
_ALIASES: dict[str, EventKind] = {"acknowledge": "ack", "critical": "critical-service"}
_NO_VALUE: set[str] = {
    "ack",
    "resolve",
    "pause",
    "resume",
    "customer-reply",
    "agent-reply",
    "critical-service",
}
_KINDS: set[str] = set(get_args(EventKind))
MAX_AFFECTED_USERS = 1_000_000_000
_EXAMPLES = {
    "priority": "priority P1 at +2h",
    "impact": "impact 600 at +1h",
    "attributes": "attributes customer_tier=gold at +1h",
    "reassign": "reassign payments at +1h",
    "assign": "assign bob@example.com at +1h",
}


class ScenarioError(ValueError):
    """A scenario that cannot be simulated; the message names what to change."""


class ScenarioEvent(BaseModel):
    """One thing that happens to the simulated ticket at ``at``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: EventKind
    at: AwareDatetime
    priority: str | None = None
    """``priority``: the new priority."""
    affected_users: int | None = Field(default=None, ge=0, le=MAX_AFFECTED_USERS)
    """``impact``: the new number of affected users."""
    attributes: dict[str, str] = Field(default_factory=dict)
    """``attributes``: the attributes to set."""
    team: str | None = None
    """``reassign``: the new team."""
    assignee: str | None = None
    """``assign``: the new assignee."""
    text: str = ""
    """The event as it was written, for messages (empty when built in code)."""

    def describe(self) -> str:
        """``priority P1``, ``impact 600``: the event without its time."""
        value = {
            "priority": self.priority,
            "impact": None if self.affected_users is None else str(self.affected_users),
            "attributes": ",".join(f"{k}={v}" for k, v in self.attributes.items()),
            "reassign": self.team,
            "assign": self.assignee,
        }.get(self.kind)
        return f"{self.kind} {value}" if value else self.kind


class Scenario(BaseModel):
    """A ticket as it opens, the events that follow, and how long to follow it.

    The defaults describe an ordinary ticket: one affected user, no critical service, an
    assignee (:data:`EXAMPLE_ASSIGNEE`; None for a ticket nobody has picked up).
    """

    model_config = ConfigDict(extra="forbid")

    priority: str
    opened_at: AwareDatetime
    team: str = "support"
    customer: str = "Example customer"
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)
    affected_users: int = 1
    critical_service: bool = False
    assignee: str | None = EXAMPLE_ASSIGNEE
    events: list[ScenarioEvent] = Field(default_factory=list)
    until: AwareDatetime | None = None
    """Where the timeline stops; None: once nothing is left to fire (at most
    :data:`escalations.procedure.simulation.HORIZON` after opening)."""


def parse_when(text: str, opened_at: datetime) -> datetime:
    """``+3h`` after ``opened_at``, or an ISO time with a zone; in UTC.

    Raises:
        ValueError: naming the forms accepted.
    """
    if text.startswith("+"):
        try:
            return (opened_at + parse_duration(text[1:])).astimezone(UTC)
        except ValueError as err:
            raise ValueError(f"{text!r} is not +DURATION: {err}") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither +DURATION after opening (+3h, +1d2h) nor an ISO time "
            "(2026-11-16T14:00-05:00)"
        ) from None
    if moment.utcoffset() is None:
        raise ValueError(f"{text!r} has no zone: add Z for UTC or an offset such as -05:00")
    return moment.astimezone(UTC)


def parse_attributes(text: str) -> dict[str, str]:
    """``k=v`` or ``k=v,k2=v2`` as a mapping, names and values checked as a ticket's are.

    Raises:
        ValueError: naming the attribute at fault.
    """
    pairs: dict[str, str] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"{part!r} is not NAME=VALUE (such as customer_tier=gold)")
        pairs[name.strip()] = value.strip()
    try:
        UpdateAttributesRequest(attributes=dict(pairs))
    except ValidationError as err:
        # Only the message: its location (attributes.<name>.[key]) names what it quotes.
        raise ValueError(_first_problem(err).rpartition("]: ")[2]) from None
    return pairs


def parse_event(text: str, opened_at: datetime) -> ScenarioEvent:
    """One event as written (``ack at +3h``) for a ticket opened at ``opened_at``.

    Raises:
        ScenarioError: quoting ``text`` and showing the accepted forms.
    """
    try:
        return _parse_event(text, opened_at)
    except ValueError as err:
        raise ScenarioError(
            f"event {text[:200]!r}: {err}\naccepted forms:\n{EVENT_FORMS}"
        ) from None


def _parse_event(text: str, opened_at: datetime) -> ScenarioEvent:
    match = _EVENT.match(text)
    if match is None:
        raise ValueError("write WHAT at WHEN")
    words = match["what"].split(maxsplit=1)
    name = words[0].lower()
    kind = _ALIASES.get(name, name)
    value = words[1].strip() if len(words) > 1 else ""
    if kind not in _KINDS:
        raise ValueError(f"unknown event {words[0]!r}")
    if kind in _NO_VALUE and value:
        raise ValueError(f"{kind} takes no value (got {value!r})")
    if kind not in _NO_VALUE and not value:
        raise ValueError(f"{kind} needs a value, such as {_EXAMPLES[kind]!r}")
    at = parse_when(match["when"], opened_at)
    fields: dict[str, object] = {"kind": kind, "at": at, "text": text.strip()}
    if kind == "priority":
        fields["priority"] = value
    elif kind == "impact":
        fields["affected_users"] = _count(value)
    elif kind == "attributes":
        fields["attributes"] = parse_attributes(value)
    elif kind == "reassign":
        fields["team"] = _checked(ReassignRequest, "team", value)
    elif kind == "assign":
        fields["assignee"] = _checked(ReassignRequest, "assignee", value)
    return ScenarioEvent.model_validate(fields)


def _count(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_AFFECTED_USERS:
        raise ValueError(f"{text!r} is not a number of affected users (0 to 1,000,000,000)")
    return int(text)


def _checked(model: type[BaseModel], field: str, value: str) -> str:
    """``value`` if the update ``model`` accepts it as ``field``, as the ticket would."""
    try:
        model.model_validate({field: value})
    except ValidationError as err:
        raise ValueError(_first_problem(err)) from None
    return value


def _first_problem(err: ValidationError) -> str:
    problem = err.errors()[0]
    where = ".".join(str(part) for part in problem["loc"])
    message = str(problem["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def offset_text(moment: datetime, opened_at: datetime) -> str:
    """``+1d2h`` (or ``-15m``): ``moment`` after the opening, as events are written."""
    delta = moment - opened_at
    return format_duration(delta) if delta < timedelta(0) else f"+{format_duration(delta)}"
