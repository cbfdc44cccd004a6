"""Hostile update arguments sent to a running ticket on the time-skipping server.

A valid update is applied (or refused by the ticket's own rules, naming the update); an invalid
one is rejected naming the field. Either way the ticket lives on: it answers ``status``, no
workflow task failed or waits to be retried, and it is still running (or resolved, by
``resolve``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import event, given
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from escalations.runtime.data_converter import INVALID_INPUT
from tests.hostile.conftest import LiveTickets
from tests.hostile.strategies import (
    UPDATES,
    Mutant,
    assert_names_the_field,
    expected_decoding,
    hostile_settings,
    update_mutants,
)
from workflows.ticket_escalation import INVALID_UPDATE
from workflows.ticket_messages import TicketStatus
from workflows.ticket_state import TicketStateName


async def rejection(handle: WorkflowHandle[Any, Any], name: str, *args: Any) -> ApplicationError:
    """The error a rejected update failed with."""
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update(name, args=list(args), result_type=TicketStatus)
    cause = failure.value.cause
    assert isinstance(cause, ApplicationError), cause
    assert cause.non_retryable
    return cause


async def assert_alive(live: LiveTickets, handle: WorkflowHandle[Any, Any]) -> TicketStatus:
    """The ticket answers, no workflow task failed, and it was not lost."""
    status = await live.status(handle)
    await live.assert_no_task_failures(handle)
    running = await live.running(handle)
    if status.state == TicketStateName.RESOLVED:
        # A resolved ticket stays open for feedback until its window closes, then completes.
        assert status.feedback_closes_at is not None
        # Skipped explicitly: waiting on the result alone leaves this module's server idle
        # until its 20 s long poll gives up ("No completion event found").
        await live.env.sleep(status.feedback_closes_at - await live.env.get_current_time())
        await live.env.sleep(timedelta(seconds=1))
        final = live.env.client.get_workflow_handle(handle.id, result_type=TicketStatus)
        assert (await final.result()).state == TicketStateName.RESOLVED
        assert not await live.running(handle)
    else:
        assert running
    return status


@hostile_settings(40)
@given(update=update_mutants())
async def test_hostile_update_is_applied_or_rejected_and_the_ticket_lives_on(
    live: LiveTickets, update: tuple[str, Mutant]
) -> None:
    name, mutant = update
    model = UPDATES[name][0]
    expected = expected_decoding(mutant.value, model)
    handle = await live.open_ticket()
    try:
        await handle.execute_update(name, mutant.value, result_type=TicketStatus)
        event("applied")
        assert expected.model is not None, expected.message
    except WorkflowUpdateFailedError as err:
        cause = err.cause
        assert isinstance(cause, ApplicationError), cause
        assert cause.non_retryable
        if expected.message is not None:
            event("rejected: invalid input")
            assert cause.type == INVALID_INPUT
            assert cause.message.startswith(expected.message)
            if expected.error is not None:
                assert cause.message == expected.message
                assert_names_the_field(expected.error, cause.message, mutant)
        else:
            # Valid as a model, refused by the ticket: "acknowledge.at ... is in the future",
            # "resume: the ticket is not paused".
            event("rejected by the ticket")
            assert cause.type == INVALID_UPDATE
            assert cause.message.startswith(name), cause.message
    await assert_alive(live, handle)
    await live.close(handle)


async def test_null_missing_or_extra_arguments_are_rejected(live: LiveTickets) -> None:
    # A null argument used to reach pause and update_impact as None and fail their workflow
    # task on every retry (AttributeError after the update was accepted): the ticket stopped.
    handle = await live.open_ticket()
    for name, (model, valid) in UPDATES.items():
        cases: dict[str, tuple[list[Any], str]] = {
            "null": ([None], "a JSON object is required, got null"),
            "none": ([], f"update {name} takes 1 argument(s) (request: {model.__name__}); got 0"),
            "two": ([valid, valid], f"update {name} takes 1 argument(s)"),
        }
        for case, (args, message) in cases.items():
            cause = await rejection(handle, name, *args)
            assert (cause.type, name, case) == (INVALID_INPUT, name, case)
            assert message in cause.message
    status = await assert_alive(live, handle)
    assert status.state == TicketStateName.OPEN
    await live.close(handle)


async def test_an_unknown_update_is_rejected(live: LiveTickets) -> None:
    handle = await live.open_ticket()
    with pytest.raises(WorkflowUpdateFailedError) as failure:
        await handle.execute_update("delete_everything", {})
    assert "delete_everything" in str(failure.value.cause)
    await assert_alive(live, handle)
    await live.close(handle)
