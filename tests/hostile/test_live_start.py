"""Starting ``TicketEscalation`` with raw, hostile arguments on the time-skipping server.

Any Temporal client can start the workflow by type name with any JSON. Valid input opens a
ticket; invalid input fails the workflow at once with an error naming the field. Neither may
leave the workflow failing its first task on every retry (a ticket that never opens nor fails).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import event, given

from activities.models import TicketFields
from escalations.runtime.data_converter import INVALID_INPUT
from policies.loader import default_policy_dir, load_named_policy
from tests.hostile.conftest import LiveTickets
from tests.hostile.strategies import (
    VALID_TICKET,
    Mutant,
    assert_names_the_field,
    expected_decoding,
    hostile_settings,
    ticket_mutants,
)
from workflows.ticket_escalation import INVALID_TICKET
from workflows.ticket_messages import TicketInput
from workflows.ticket_state import TicketState

# What a ticket valid as a model may still fail with when it opens (an unknown priority or
# policy, an opened_at years ago): each names the field or its value.
OPEN_FAILURES = {INVALID_TICKET, "PolicyNotFound"}


def ticket(**overrides: object) -> dict[str, object]:
    return VALID_TICKET | {"ticket_id": f"T-{uuid.uuid4().hex[:12]}"} | overrides


@hostile_settings(40)
@given(mutant=ticket_mutants())
async def test_raw_start_opens_or_fails_at_once_naming_the_field(
    live: LiveTickets, mutant: Mutant
) -> None:
    expected = expected_decoding(mutant.value, TicketInput)
    handle = await live.start(mutant.value)
    outcome = await live.settle(handle)
    event(f"{'valid' if expected.model else 'invalid'} input, {outcome}")
    await live.assert_no_task_failures(handle)
    if expected.message is not None:
        assert outcome == "closed"
        cause = await live.failure(handle)
        assert cause.type == INVALID_INPUT
        assert cause.message.startswith(expected.message)
        if expected.error is not None:
            assert cause.message == expected.message
            assert_names_the_field(expected.error, cause.message, mutant)
    elif outcome == "closed":
        cause = await live.failure(handle)
        assert cause.type in OPEN_FAILURES, cause
        assert any(key in cause.message for key in mutant.touched), (cause, mutant.touched)
    else:
        status = await live.status(handle)
        assert isinstance(expected.model, TicketInput)
        assert (status.ticket_id, status.title) == (expected.model.ticket_id, expected.model.title)
        await live.close(handle)


async def test_null_missing_or_extra_arguments_fail_at_once(live: LiveTickets) -> None:
    # Each of these used to fail the first workflow task forever: None reached run() as
    # input (AttributeError), and a wrong count was a TypeError calling it.
    cases: dict[str, tuple[list[Any], str]] = {
        "null": ([None], "invalid TicketInput: (whole value): a JSON object is required, got null"),
        "bytes": ([b"{}"], "invalid TicketInput: (whole value): a JSON object is required"),
        "none": ([], "TicketEscalation takes 1 argument(s) (input: TicketInput); got 0"),
        "two": ([ticket(), ticket()], "TicketEscalation takes 1 argument(s)"),
    }
    for name, (args, message) in cases.items():
        handle = await live.start(*args)
        assert await live.settle(handle) == "closed", name
        await live.assert_no_task_failures(handle)
        cause = await live.failure(handle)
        assert (cause.type, name) == (INVALID_INPUT, name)
        assert message in cause.message


async def test_a_caller_cannot_inject_continued_state(live: LiveTickets) -> None:
    # A well-formed state, such as a caller could copy from another ticket's history.
    policy = load_named_policy(default_policy_dir(), "default")
    fields = TicketFields.model_validate(
        {k: v for k, v in ticket().items() if k in TicketFields.model_fields}
    )
    state = TicketState.open(fields, policy, datetime.now(UTC), notice_key="forged")
    handle = await live.start(ticket(continued=state.model_dump(mode="json")))
    assert await live.settle(handle) == "closed"
    await live.assert_no_task_failures(handle)
    cause = await live.failure(handle)
    assert cause.type == INVALID_TICKET
    assert "continued is internal" in cause.message


async def test_an_opened_at_that_overflows_in_utc_fails_naming_the_field(
    live: LiveTickets,
) -> None:
    # Year 1 at +23:59 is before the start of UTC's calendar: astimezone(UTC) overflowed and
    # failed the first workflow task on every retry.
    handle = await live.start(ticket(opened_at="0001-01-01T00:00:00+23:59"))
    assert await live.settle(handle) == "closed"
    await live.assert_no_task_failures(handle)
    cause = await live.failure(handle)
    assert cause.type == INVALID_TICKET
    assert "opened_at 0001-01-01T00:00:00+23:59 is more than" in cause.message
