"""Where a ticket's workflow is in its life: still opening, running, failed to open, or closed.

:class:`escalations.client.tickets.TicketClient` asks these when an answer from the ticket itself is
not enough: a query that fails while the policy loads, an update that the server reports as
"not found" because the workflow has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import timedelta
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from escalations.client.errors import (
    TicketClosed,
    TicketError,
    TicketOpenFailed,
    closed_word,
    failure_message,
    from_rpc_error,
)
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import TicketStatus

# A ticket answers its status query once its policy is loaded: one activity, normally well
# under a second. Thirty seconds covers a busy worker without hiding one that is not running.
OPEN_TIMEOUT = timedelta(seconds=30)
POLL_INTERVAL = timedelta(seconds=0.2)


async def execution_status(client: Client, workflow_id: str) -> WorkflowExecutionStatus | None:
    """The status of the latest run of ``workflow_id``.

    Raises:
        RPCError: ``NOT_FOUND`` when there is no such workflow.
    """
    # The raw call, not handle.describe(): describe decodes every search attribute, and the
    # time-skipping server returns an unset Datetime attribute as null, which it cannot parse.
    response = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
    )
    raw = response.workflow_execution_info.status
    return WorkflowExecutionStatus(raw) if raw else None


async def wait_until_open(
    client: Client, handle: WorkflowHandle[Any, Any], ticket_id: str, task_queue: str
) -> TicketStatus:
    """Wait until the ticket has opened (its first workflow task done, read from history), then
    ask its ``status``; poll the query while it still says it is opening (a policy load that
    outlasted its first task).

    Raises:
        TicketOpenFailed: the workflow failed (unknown policy or priority) or closed.
        TicketError: no answer within :data:`OPEN_TIMEOUT`, or the server refused.
    """
    deadline = time.monotonic() + OPEN_TIMEOUT.total_seconds()
    last_problem = "no answer yet"
    with contextlib.suppress(TimeoutError, RPCError):
        await asyncio.wait_for(_first_task_done(client, handle.id), OPEN_TIMEOUT.total_seconds())
    while True:
        remaining = deadline - time.monotonic()
        try:
            status: TicketStatus = await handle.query(
                TicketEscalation.status,
                rpc_timeout=timedelta(seconds=max(min(remaining, 5.0), 0.5)),
            )
            return status
        except (WorkflowQueryFailedError, RPCTimeoutOrCancelledError) as err:
            # Usually TicketOpening (the policy is still loading); the workflow may also have
            # failed, which only the execution's status tells.
            last_problem = str(err)
        except RPCError as err:
            if err.status not in (RPCStatusCode.FAILED_PRECONDITION, RPCStatusCode.NOT_FOUND):
                raise from_rpc_error(err, ticket_id, "open") from None
            last_problem = err.message
        await raise_if_failed(client, handle, ticket_id)
        if time.monotonic() >= deadline:
            raise TicketError(
                f"ticket {ticket_id} was started (workflow {handle.id}) but did not answer "
                f"within {OPEN_TIMEOUT.total_seconds():.0f} s ({last_problem}). Is a worker "
                f"polling task queue {task_queue!r}? Run `escalations worker` or "
                "`escalations dev`",
                ticket_id,
            )
        await asyncio.sleep(POLL_INTERVAL.total_seconds())


async def _first_task_done(client: Client, workflow_id: str) -> None:
    """Wait until the ticket's first workflow task is done, by describing its execution.

    A status query sent while that task runs (its policy loading) would be refused, and it is
    not free: each query is a billable action on Temporal Cloud, and one that reaches the
    worker mid-task splits the opening across two tasks (three more history events). A
    describe is neither, so the query is sent once the ticket can answer it.
    """
    request = DescribeWorkflowExecutionRequest(
        namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
    )
    while True:
        response = await client.workflow_service.describe_workflow_execution(request)
        info = response.workflow_execution_info
        running = info.status == WorkflowExecutionStatus.RUNNING.value
        # Started, scheduled, started, completed: the first task is done at four events.
        if not running or (
            info.history_length >= 4 and not response.HasField("pending_workflow_task")
        ):
            return
        await asyncio.sleep(POLL_INTERVAL.total_seconds())


async def raise_if_failed(client: Client, handle: WorkflowHandle[Any, Any], ticket_id: str) -> None:
    """Raise :class:`TicketOpenFailed` with the workflow's own message if it is not running."""
    try:
        status = await execution_status(client, handle.id)
    except RPCError as err:
        raise from_rpc_error(err, ticket_id, "open") from None
    if status in (None, WorkflowExecutionStatus.RUNNING):
        return
    if status == WorkflowExecutionStatus.FAILED:
        try:
            await handle.result()
        except WorkflowFailureError as err:
            raise TicketOpenFailed(
                f"ticket {ticket_id} failed to open: {failure_message(err)}", ticket_id
            ) from None
    raise TicketOpenFailed(
        f"ticket {ticket_id} did not open: its workflow {handle.id} is {closed_word(status)}",
        ticket_id,
    )


async def raise_if_closed(
    client: Client, handle: WorkflowHandle[Any, Any], ticket_id: str, action: str
) -> None:
    """Raise :class:`TicketClosed` if the ticket's workflow exists and has finished."""
    try:
        status = await execution_status(client, handle.id)
    except RPCError:
        return
    if status in (None, WorkflowExecutionStatus.RUNNING):
        return
    raise TicketClosed(
        f"cannot {action} ticket {ticket_id}: it is closed (workflow {handle.id} is "
        f"{closed_word(status)}); a closed ticket takes no more updates, open a new one if "
        "needed",
        ticket_id,
    )
