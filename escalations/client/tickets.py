"""The Python client of the escalation service: open tickets, send them updates, read status.

It is a thin layer over the ``TicketEscalation`` contract (workflow id ``ticket-<id>``, update
and query names, pydantic models) that turns Temporal's errors into
:mod:`escalations.client.errors`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Literal, TypeVar, overload

from pydantic import BaseModel
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError
from temporalio.workflow import UpdateMethodMultiParam

from escalations.client.errors import (
    TemporalUnreachable,
    TicketAlreadyOpen,
    TicketClosed,
    TicketError,
    TicketNotFound,
    TicketOpenFailed,
    TicketUpdateRejected,
    connect_failure_reason,
    from_rpc_error,
    rejected_as_ticket_error,
)
from escalations.client.lifecycle import raise_if_closed, raise_if_failed, wait_until_open
from escalations.runtime.config import Settings
from escalations.runtime.connection import connect
from workflows import search_attributes as sa
from workflows import ticket_messages as messages
from workflows.ticket_details import static_summary
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import TicketInput, TicketStatus, workflow_id_for

RequestT = TypeVar("RequestT", bound=BaseModel)

__all__ = [
    "TemporalUnreachable",
    "TicketAlreadyOpen",
    "TicketClient",
    "TicketClosed",
    "TicketError",
    "TicketNotFound",
    "TicketOpenFailed",
    "TicketUpdateRejected",
]

OPEN_REQUEST_MEMO = "open_request"
"""Memo key: the idempotency key (or webhook delivery id) that opened the ticket."""

# A query needs a worker to answer it; without this bound a missing worker hangs the caller.
QUERY_RPC_TIMEOUT = timedelta(seconds=10)


class TicketClient:
    """Opens tickets and talks to them.

    Args:
        client: A Temporal client built with the pydantic data converter
            (:func:`escalations.runtime.connection.connect`).
        task_queue: The task queue the workers poll; new tickets' workflows run there.
    """

    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    @classmethod
    async def connect(cls, settings: Settings) -> TicketClient:
        """Connect to the Temporal server that ``settings`` names.

        Raises:
            TemporalUnreachable: nothing answered at ``settings.temporal_address``.
        """
        try:
            client = await connect(settings)
        except RuntimeError as err:
            raise TemporalUnreachable(
                f"cannot reach Temporal at {settings.temporal_address} (TEMPORAL_ADDRESS): "
                f"{connect_failure_reason(err)}. Start a local server and worker with "
                "`escalations dev`, or set TEMPORAL_ADDRESS to your server's host:port"
            ) from None
        return cls(client, settings.task_queue)

    @property
    def client(self) -> Client:
        """The underlying Temporal client."""
        return self._client

    @property
    def task_queue(self) -> str:
        """The task queue new tickets run on."""
        return self._task_queue

    @overload
    async def open(self, ticket: TicketInput, *, wait: Literal[True] = True) -> TicketStatus: ...

    @overload
    async def open(self, ticket: TicketInput, *, wait: Literal[False]) -> None: ...

    @overload
    async def open(self, ticket: TicketInput, *, wait: bool) -> TicketStatus | None: ...

    async def open(self, ticket: TicketInput, *, wait: bool = True) -> TicketStatus | None:
        """Open a ticket: start its ``TicketEscalation`` workflow.

        Args:
            ticket: The ticket; ``continued`` must be unset (it is internal).
            wait: Wait until the ticket has loaded its policy and return its first status;
                otherwise return ``None`` as soon as the workflow has started.

        Raises:
            ValueError: ``ticket.continued`` is set.
            TicketAlreadyOpen: a ticket with this id is running.
            TicketOpenFailed: the ticket failed while opening (unknown policy or priority).
            TicketError: the ticket did not answer in time (no worker polling, for example).
        """
        if ticket.continued is not None:
            raise ValueError(
                "TicketInput.continued is internal (state carried across continue-as-new); "
                "leave it unset when opening a ticket"
            )
        ticket_id = ticket.ticket_id
        workflow_id = workflow_id_for(ticket_id)
        try:
            handle = await self._client.start_workflow(
                TicketEscalation.run,
                ticket,
                id=workflow_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                static_summary=static_summary(ticket.priority, ticket_id, ticket.title),
                search_attributes=_initial_search_attributes(ticket),
            )
        except WorkflowAlreadyStartedError:
            raise TicketAlreadyOpen(
                f"ticket {ticket_id} is already open (workflow {workflow_id}); send it updates "
                "or resolve it before opening it again",
                ticket_id,
            ) from None
        except RPCError as err:
            raise from_rpc_error(err, ticket_id, "open") from None
        if not wait:
            return None
        return await wait_until_open(self._client, handle, ticket_id, self._task_queue)

    async def open_once(self, ticket: TicketInput, request_key: str) -> bool:
        """Open a ticket at most once for ``request_key`` (an idempotency key, a webhook's
        delivery id): a repeat of the same key finds the ticket that key opened and opens
        nothing. The key is kept in the workflow's memo (``open_request``), and the ticket id
        is never reused once a keyed open has used it, even after the ticket closes, so a
        delivery retried after the ticket closed cannot open it again.

        Returns:
            True when this call opened the ticket, False when ``request_key`` already had.

        Raises:
            TicketAlreadyOpen: the ticket id was opened by another request.
            TicketError: as :meth:`open`.
        """
        if ticket.continued is not None:
            raise ValueError("TicketInput.continued is internal; leave it unset")
        workflow_id = workflow_id_for(ticket.ticket_id)
        try:
            await self._client.start_workflow(
                TicketEscalation.run,
                ticket,
                id=workflow_id,
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                memo={OPEN_REQUEST_MEMO: request_key},
                static_summary=static_summary(ticket.priority, ticket.ticket_id, ticket.title),
                search_attributes=_initial_search_attributes(ticket),
            )
            return True
        except WorkflowAlreadyStartedError:
            pass
        except RPCError as err:
            raise from_rpc_error(err, ticket.ticket_id, "open") from None
        try:
            memo = await self._handle(ticket.ticket_id).describe()
            opened_by = await memo.memo_value(OPEN_REQUEST_MEMO, None)
        except RPCError as err:
            raise from_rpc_error(err, ticket.ticket_id, "open") from None
        if opened_by == request_key:
            return False
        raise TicketAlreadyOpen(
            f"ticket {ticket.ticket_id} was already opened by another request (workflow "
            f"{workflow_id}); a ticket id is opened once",
            ticket.ticket_id,
        )

    async def wait_open(self, ticket_id: str) -> TicketStatus:
        """The first status of a ticket just started (see :meth:`open`)."""
        handle = self._handle(ticket_id)
        return await wait_until_open(self._client, handle, ticket_id, self._task_queue)

    async def status(self, ticket_id: str) -> TicketStatus:
        """The ticket's current status (the ``status`` query).

        Raises:
            TicketNotFound: no such ticket.
            TicketOpenFailed: the ticket failed while opening.
            TicketError: the ticket could not answer (still opening, or no worker running).
        """
        handle = self._handle(ticket_id)
        try:
            status: TicketStatus = await handle.query(
                TicketEscalation.status, rpc_timeout=QUERY_RPC_TIMEOUT
            )
            return status
        except WorkflowQueryFailedError as err:
            await raise_if_failed(self._client, handle, ticket_id)
            raise TicketError(f"ticket {ticket_id}: {err.message}", ticket_id) from None
        except RPCTimeoutOrCancelledError:
            raise TicketError(
                f"ticket {ticket_id} did not answer within {QUERY_RPC_TIMEOUT.total_seconds():.0f}"
                f" s: is a worker polling task queue {self._task_queue!r}? Run `escalations "
                "worker` or `escalations dev`",
                ticket_id,
            ) from None
        except RPCError as err:
            raise from_rpc_error(err, ticket_id, "status") from None

    # Each update goes through the workflow's typed handler, and takes its docstring from it
    # (below the class): what an update does is written once, on the handler.

    async def acknowledge(
        self, ticket_id: str, request: messages.AcknowledgeRequest
    ) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.acknowledge, request)

    async def resolve(self, ticket_id: str, request: messages.ResolveRequest) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.resolve, request)

    async def feedback(self, ticket_id: str, request: messages.FeedbackRequest) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.feedback, request)

    async def reopen(self, ticket_id: str, request: messages.ReopenRequest) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.reopen, request)

    async def pause(self, ticket_id: str, request: messages.PauseRequest) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.pause, request)

    async def resume(
        self, ticket_id: str, request: messages.ResumeRequest | None = None
    ) -> TicketStatus:
        return await self._update(
            ticket_id, TicketEscalation.resume, request or messages.ResumeRequest()
        )

    async def customer_replied(
        self, ticket_id: str, request: messages.CustomerRepliedRequest | None = None
    ) -> TicketStatus:
        return await self._update(
            ticket_id,
            TicketEscalation.customer_replied,
            request or messages.CustomerRepliedRequest(),
        )

    async def agent_replied(
        self, ticket_id: str, request: messages.AgentRepliedRequest
    ) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.agent_replied, request)

    async def change_priority(
        self, ticket_id: str, request: messages.ChangePriorityRequest
    ) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.change_priority, request)

    async def update_attributes(
        self, ticket_id: str, request: messages.UpdateAttributesRequest
    ) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.update_attributes, request)

    async def update_impact(
        self, ticket_id: str, request: messages.UpdateImpactRequest
    ) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.update_impact, request)

    async def reassign(self, ticket_id: str, request: messages.ReassignRequest) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.reassign, request)

    async def migrate_policy(
        self, ticket_id: str, request: messages.MigratePolicyRequest
    ) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.migrate_policy, request)

    async def report_event(
        self, ticket_id: str, request: messages.ReportEventRequest
    ) -> TicketStatus:
        return await self._update(ticket_id, TicketEscalation.report_event, request)

    async def apply(
        self, ticket_id: str, name: str, request: BaseModel, *, update_id: str | None = None
    ) -> TicketStatus:
        """Send the update ``name`` (one of :data:`UPDATES`) with its request model.

        With ``update_id``, a retry of the same call is applied once: Temporal answers a repeat
        of an update id that the ticket accepted with the first result. Without one, each call
        is a new update.

        Raises:
            ValueError: ``name`` is not an update of the contract.
            TicketNotFound, TicketClosed, TicketUpdateRejected: as each update raises them.
        """
        if name not in UPDATES:
            raise ValueError(f"{name!r} is not an update; updates: {', '.join(UPDATES)}")
        handler = getattr(TicketEscalation, name)
        return await self._update(ticket_id, handler, request, update_id=update_id)

    async def _update(
        self,
        ticket_id: str,
        handler: UpdateMethodMultiParam[[TicketEscalation, RequestT], TicketStatus],
        request: RequestT,
        *,
        update_id: str | None = None,
    ) -> TicketStatus:
        """Send ``handler``'s update; every update's result is the ticket's new status.

        Raises:
            TicketNotFound: no such ticket.
            TicketClosed: the ticket's workflow has finished.
            TicketUpdateRejected: the ticket refused the update; the message says why.
        """
        handle = self._handle(ticket_id)
        name: str = getattr(handler, "__name__", "update")
        try:
            status: TicketStatus = await rejected_as_ticket_error(
                handle.execute_update(handler, request, id=loggable_update_id(update_id)),
                ticket_id,
                name,
            )
            return status
        except TicketNotFound:
            # The server answers "not found" both for an unknown id and for a workflow that
            # has finished; describe tells them apart.
            await raise_if_closed(self._client, handle, ticket_id, name)
            raise

    def _handle(self, ticket_id: str) -> WorkflowHandle[TicketEscalation, TicketStatus]:
        return self._client.get_workflow_handle_for(
            TicketEscalation.run, workflow_id_for(ticket_id)
        )


UPDATES = (
    "acknowledge",
    "resolve",
    "feedback",
    "reopen",
    "pause",
    "resume",
    "customer_replied",
    "agent_replied",
    "change_priority",
    "update_impact",
    "update_attributes",
    "reassign",
    "migrate_policy",
    "report_event",
)
"""The updates the client sends, each a method named like the workflow's handler."""

for _update_name in UPDATES:
    getattr(TicketClient, _update_name).__doc__ = getattr(TicketEscalation, _update_name).__doc__


_PLAIN_ID = re.compile(r"[A-Za-z0-9._:/@+=-]{1,255}\Z")


def loggable_update_id(update_id: str | None) -> str | None:
    """``update_id`` as it is when it is plain text, else a digest of it.

    The SDK's workflow logger pastes the update id into each message before the message is
    formatted, so a ``%`` in an id (a caller's idempotency key, a helpdesk's delivery id) would
    turn the worker's log line into a formatting error. A digest keeps the id stable for
    retries of the same key.
    """
    if update_id is None or _PLAIN_ID.match(update_id):
        return update_id
    return "sha256-" + hashlib.sha256(update_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _initial_search_attributes(ticket: TicketInput) -> TypedSearchAttributes:
    # Set at start so the ticket is findable in the Web UI even before its first workflow task.
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.TICKET_ID, ticket.ticket_id),
            SearchAttributePair(sa.PRIORITY, ticket.priority),
            SearchAttributePair(sa.TEAM, ticket.team),
            SearchAttributePair(sa.CUSTOMER, ticket.customer),
        ]
    )
