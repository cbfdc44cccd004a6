"""Hypothesis strategies for hostile input: the contract's valid values, and mutations of them.

A mutation replaces, drops or adds a key of a valid argument (or replaces the whole argument),
and remembers which keys it touched: since the rest stays valid, every error must be about one
of those keys, and the error message must name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from escalations.runtime.data_converter import data_converter, describe_validation_error
from tests.workflows.tickets import ticket_fields
from workflows import ticket_messages as messages
from workflows.ticket_messages import TicketInput

WHOLE_VALUE = "(whole value)"


def hostile_settings(max_examples: int) -> settings:
    """Deterministic runs (the same examples every time, no example database), no deadline."""
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


VALID_TICKET: dict[str, Any] = {
    **ticket_fields(
        ticket_id="T-1042", assignee="agent@example.com", affected_users=3
    ).model_dump(),
    "policy": "default",
}

UPDATES: dict[str, tuple[type[BaseModel], dict[str, Any]]] = {
    "acknowledge": (messages.AcknowledgeRequest, {"by": "Ann Agent"}),
    "resolve": (
        messages.ResolveRequest,
        {"by": "Ann Agent", "note": "Restarted the payment pods."},
    ),
    "pause": (messages.PauseRequest, {"reason": "waiting for logs"}),
    "resume": (messages.ResumeRequest, {}),
    "customer_replied": (messages.CustomerRepliedRequest, {}),
    "agent_replied": (messages.AgentRepliedRequest, {"by": "Ann Agent"}),
    "change_priority": (messages.ChangePriorityRequest, {"priority": "P2"}),
    "update_impact": (messages.UpdateImpactRequest, {"affected_users": 600}),
    "update_attributes": (
        messages.UpdateAttributesRequest,
        {"tags": ["vip"], "attributes": {"customer_tier": "gold"}},
    ),
    "reassign": (messages.ReassignRequest, {"assignee": "bob@example.com", "team": "platform"}),
    "feedback": (messages.FeedbackRequest, {"csat": 4, "comment": "Fixed quickly."}),
    "reopen": (messages.ReopenRequest, {"by": "buyer@acme.example", "reason": "still failing"}),
    "migrate_policy": (
        messages.MigratePolicyRequest,
        {"to_version": "4", "by": "ops@example.com", "reason": "new P1 targets"},
    ),
    "report_event": (
        messages.ReportEventRequest,
        {
            "event": "waiting",
            "at": "2026-03-02T10:00:00+00:00",
            "by": "agent@example.com",
            "source": "zendesk",
        },
    ),
}
"""Each update's model and a valid argument."""

MODELS: dict[str, type[BaseModel]] = {"TicketInput": TicketInput} | {
    name: model for name, (model, _) in UPDATES.items()
}


# -- values ---------------------------------------------------------------------------------------

_LIMITS = [1, 15, 16, 17, 63, 64, 65, 199, 200, 201, 254, 255, 499, 500, 501, 1999, 2000, 2001]
_huge = st.sampled_from([*_LIMITS, 70_000]).flatmap(
    lambda n: st.sampled_from(["x", "é", "\U0001d538", " ", "a@"]).map(lambda c: c * n)
)
_breaks = st.lists(
    st.sampled_from(["a", " ", "\n", "\r", "\t", "\x00", "\x1b[31m", "\x7f", "\x85", "\x9b"])
    | st.sampled_from(["\u2028", "\u2029", "\u200b", "\ufeff"]),
    min_size=1,
    max_size=6,
).map("".join)
_unicode = st.text(st.characters(min_codepoint=0x80, exclude_categories=["Cs"]), max_size=12)
_near_misses = st.sampled_from(
    [
        "",
        " ",
        "P1\n",
        "P0",
        "p1",
        "P10000000000000000",
        "payments\n",
        "Payments",
        "-payments",
        "a" * 65,
        "T 1",
        "../x",
        "T-1\n",
        "a@b",
        "a@@b.c",
        "a@b.c\n",
        " a@b.c",
        "a@b.c\r\nBcc: x@y.z",
        "default\n",
        "nope",
        "true",
        "null",
        "1e309",
        "-0",
    ]
)
_offsets = st.integers(min_value=-1439, max_value=1439).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_aware_times = st.builds(
    lambda moment, zone: moment.replace(tzinfo=zone),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    _offsets,
)
_recent_times = st.builds(
    lambda seconds: datetime.now(UTC) + timedelta(seconds=seconds),
    st.integers(min_value=-400 * 86_400, max_value=86_400),
)
_time_texts = st.one_of(
    _aware_times.map(datetime.isoformat),
    _recent_times.map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),  # naive
    st.sampled_from(
        [
            "yesterday",
            "2024-02-30T00:00:00Z",
            "0001-01-01T00:00:00+23:59",
            "9999-12-31T23:59:59-23:59",
            "2024-05-01",
            "2024-05-01T09:30",
            "2024-05-01T25:00:00Z",
            "PT15M",
        ]
    ),
)
_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)

json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([-1, 0, 1, 10**9, 10**9 + 1, 2**31, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    _huge,
    _breaks,
    _unicode,
    _near_misses,
    _time_texts,
    _junk,
)
"""Values that survive JSON: what any Temporal client can send."""

python_values = st.one_of(
    json_values,
    st.floats(),  # NaN and infinities
    st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3),  # lone surrogates
    _aware_times,
    st.datetimes(),  # naive
    st.binary(max_size=8),
    st.timedeltas(),
    st.builds(object),
)
"""Values a Python caller can pass to a model directly."""


# Other valid values per field, so that a fair share of mutants is valid too.
_line = st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=40)
ALTERNATIVES: dict[str, st.SearchStrategy[Any]] = {
    "ticket_id": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", fullmatch=True),
    "title": _line,
    "customer": _line,
    "by": _line,
    "reason": _line,
    "note": st.none() | st.text(max_size=60),
    "priority": st.sampled_from(["P1", "P2", "P3", "P4"]),
    "team": st.from_regex(r"[a-z0-9][a-z0-9_-]{0,63}", fullmatch=True),
    "requester": st.emails(),
    "assignee": st.none() | st.emails(),
    "affected_users": st.none() | st.integers(min_value=0, max_value=10**9),
    "critical_service": st.none() | st.booleans(),
    "policy": st.sampled_from(["default", "demo"]),
    "opened_at": st.none() | _recent_times.map(datetime.isoformat),
    "at": st.none() | _recent_times.map(datetime.isoformat),
}


# -- mutations ------------------------------------------------------------------------------------


@dataclass
class Mutant:
    """An argument derived from a valid one, and the keys that were changed."""

    value: Any
    touched: set[str] = field(default_factory=set)


_EXTRA_KEYS = st.sampled_from(
    ["titel", "continued", "opened", "ticketId", "by ", "at", "note", "__class__", "A" * 300]
) | st.text(min_size=1, max_size=8)


@st.composite
def mutants(draw: st.DrawFn, valid: dict[str, Any], model: type[BaseModel], values: Any) -> Mutant:
    """``valid`` with one to three keys replaced, dropped or added; or a wholly other value."""
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return Mutant(draw(values), {WHOLE_VALUE})
    data = dict(valid)
    touched: set[str] = set()
    fields = list(model.model_fields)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        action = draw(st.sampled_from(["replace", "vary", "vary", "drop", "add"]))
        key = draw(_EXTRA_KEYS) if action == "add" or not fields else draw(st.sampled_from(fields))
        if action == "drop":
            data.pop(key, None)
        elif action == "vary" and key in ALTERNATIVES:
            data[key] = draw(ALTERNATIVES[key])
        else:
            data[key] = draw(values)
        touched.add(key)
    return Mutant(data, touched)


def ticket_mutants(values: Any = json_values) -> st.SearchStrategy[Mutant]:
    """Mutations of a valid :class:`TicketInput` argument."""
    return mutants(VALID_TICKET, TicketInput, values)


def update_mutants(values: Any = json_values) -> st.SearchStrategy[tuple[str, Mutant]]:
    """An update's name and a mutation of its valid argument."""
    return st.sampled_from(sorted(UPDATES)).flatmap(
        lambda name: st.tuples(st.just(name), mutants(UPDATES[name][1], UPDATES[name][0], values))
    )


# -- checks ---------------------------------------------------------------------------------------


def assert_names_the_field(exc: ValidationError, message: str, mutant: Mutant) -> None:
    """Every error is about a key the mutation touched, and the message names one of them."""
    if WHOLE_VALUE in mutant.touched:
        return
    for err in exc.errors(include_url=False, include_input=False):
        if err["loc"]:
            assert str(err["loc"][0]) in mutant.touched, (err, mutant.touched)
    assert any(key in message for key in mutant.touched), (message, mutant.touched)


def expected_message(exc: ValidationError, model: type[BaseModel]) -> str:
    """The message the data converter gives for ``exc``."""
    return describe_validation_error(exc, model.__name__)


@dataclass
class Expected:
    """What the worker should make of an argument: the model, or the message refusing it."""

    model: BaseModel | None = None
    message: str | None = None
    error: ValidationError | None = None


def expected_decoding(value: Any, model: type[BaseModel]) -> Expected:
    """Encode ``value`` as the client does and validate it locally as the worker will."""
    [payload] = data_converter.payload_converter.to_payloads([value])
    if payload.metadata["encoding"] != b"json/plain":  # None travels as binary/null
        return Expected(message=f"invalid {model.__name__}: {WHOLE_VALUE}: ")
    try:
        return Expected(model=model.model_validate_json(payload.data))
    except ValidationError as exc:
        return Expected(message=expected_message(exc, model), error=exc)
