"""One time-skipping server and one worker per module, the worker built as production builds it.

Hypothesis runs many examples against them, so they are module-scoped: a worker per example
would cost more than the examples. ``worker.build_worker`` is what ``escalations worker`` runs,
with its interceptors and tuning; notices go to a local outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    DescribeWorkflowExecutionResponse,
)
from temporalio.client import (
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from escalations.runtime import worker
from escalations.runtime.config import Settings
from tests.hostile.strategies import VALID_TICKET
from tests.server_setup import start_time_skipping
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import TicketStatus

# Long enough for a first workflow task and a policy load on a busy 2-core machine; a ticket
# stuck failing its first task shows WorkflowTaskFailed in history well before this.
SETTLE_POLLS = 200
POLL_INTERVAL = 0.05


@dataclass
class LiveTickets:
    """Start tickets with raw arguments, and check that none is left failing its tasks."""

    env: WorkflowEnvironment
    task_queue: str

    async def start(self, *args: Any) -> WorkflowHandle[Any, Any]:
        """Start ``TicketEscalation`` by type name with raw arguments (no client-side model)."""
        return await self.env.client.start_workflow(
            "TicketEscalation",
            args=list(args),
            id=f"hostile-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )

    async def open_ticket(self) -> WorkflowHandle[Any, Any]:
        """A valid P1 ticket, once it has loaded its policy."""
        handle = await self.start(VALID_TICKET | {"ticket_id": f"T-{uuid.uuid4().hex[:12]}"})
        assert await self.settle(handle) == "open"
        return handle

    async def settle(self, handle: WorkflowHandle[Any, Any]) -> str:
        """Wait until the ticket answers ``status`` ("open") or its workflow closed ("closed").

        Stops early if a workflow task failed: that is the loop this suite exists to catch.
        """
        for _ in range(SETTLE_POLLS):
            if not await self.running(handle):
                return "closed"
            try:
                await handle.query(TicketEscalation.status, rpc_timeout=timedelta(seconds=5))
                return "open"
            except WorkflowQueryFailedError:
                await self.assert_no_task_failures(handle)
            except RPCError as err:
                # A query that races the workflow's close can time out on the test server
                # (the worker is asked to answer for a run that has just ended): look again.
                if err.status not in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                    raise
            await asyncio.sleep(POLL_INTERVAL)
        raise AssertionError(f"{handle.id} neither opened nor closed")

    async def describe(self, handle: WorkflowHandle[Any, Any]) -> DescribeWorkflowExecutionResponse:
        """The raw description: ``handle.describe()`` decodes search attributes, and the
        time-skipping server returns an unset Datetime attribute (ResponseDueAt once a ticket
        is acknowledged) as a null the SDK cannot parse."""
        return await self.env.client.workflow_service.describe_workflow_execution(
            DescribeWorkflowExecutionRequest(
                namespace=self.env.client.namespace,
                execution=WorkflowExecution(workflow_id=handle.id),
            )
        )

    async def running(self, handle: WorkflowHandle[Any, Any]) -> bool:
        """Whether the ticket's workflow is still running."""
        info = (await self.describe(handle)).workflow_execution_info
        return info.status == WorkflowExecutionStatus.RUNNING.value

    async def assert_no_task_failures(self, handle: WorkflowHandle[Any, Any]) -> None:
        """No WorkflowTaskFailed in history, and no workflow task pending for a retry."""
        raw = await self.describe(handle)
        if raw.HasField("pending_workflow_task"):
            assert raw.pending_workflow_task.attempt <= 1, raw.pending_workflow_task
        history = await handle.fetch_history()
        failed = [
            event.workflow_task_failed_event_attributes.failure.message
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
        ]
        assert failed == [], failed

    async def failure(self, handle: WorkflowHandle[Any, Any]) -> ApplicationError:
        """The error a closed, failed ticket failed with."""
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        cause = failure.value.cause
        assert isinstance(cause, ApplicationError), cause
        assert cause.non_retryable
        return cause

    async def status(self, handle: WorkflowHandle[Any, Any]) -> TicketStatus:
        """The ticket's ``status`` query."""
        status: TicketStatus = await handle.query(TicketEscalation.status)
        return status

    async def close(self, handle: WorkflowHandle[Any, Any]) -> None:
        """Terminate the ticket if it still runs (its timers would fire in later tests).

        Not while an activity or a workflow task runs (a notice a backdated ticket or an
        impact update fired at once): terminating then leaves the test server's time skipping
        locked, and every later test's sleep in the session would wait in real time.
        """
        for _ in range(SETTLE_POLLS):
            description = await self.describe(handle)
            if description.workflow_execution_info.status != WorkflowExecutionStatus.RUNNING.value:
                return
            busy = description.pending_activities or description.HasField("pending_workflow_task")
            if not busy:
                break
            await asyncio.sleep(POLL_INTERVAL)
        with contextlib.suppress(RPCError):
            await handle.terminate("hostile input test finished")


@pytest.fixture(scope="module")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveTickets]:
    # A server of the module's own, not the session's: should a ticket here end while one of
    # its activities runs, the test server's time skipping stays locked, and only this
    # module would feel it.
    env = await start_time_skipping()
    settings = dataclasses.replace(
        Settings(),
        task_queue=f"hostile-{uuid.uuid4()}",
        sendgrid_api_key=None,
        outbox_dir=tmp_path_factory.mktemp("outbox"),
        delivery_ledger=None,
    )
    try:
        with ThreadPoolExecutor(max_workers=worker.ACTIVITY_THREADS) as executor:
            async with worker.build_worker(env.client, settings, executor):
                yield LiveTickets(env, settings.task_queue)
    finally:
        await env.shutdown()
