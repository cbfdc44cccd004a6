"""What can go wrong when a caller talks to a ticket, as exceptions a person can act on.

:class:`escalations.client.tickets.TicketClient` turns Temporal's errors (RPC status codes,
update and workflow failures) into these, so callers and the CLI never need Temporal's types.
Every message names the ticket and says what to do next.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import TypeVar

from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError, FailureError
from temporalio.service import RPCError, RPCStatusCode

from escalations.runtime.encryption import ENCODING, DecryptionError
from workflows.ticket_messages import workflow_id_for

_T = TypeVar("_T")


class TicketError(Exception):
    """Base class: a ticket request that did not succeed.

    Args:
        message: What happened and what to do about it; it names the ticket.
        ticket_id: The ticket concerned, when there is one.
    """

    def __init__(self, message: str, ticket_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.ticket_id = ticket_id


class TicketAlreadyOpen(TicketError):
    """A ticket with this id is already open (its workflow is running)."""


class TicketNotFound(TicketError):
    """No ticket with this id was ever opened in this namespace."""


class TicketUpdateRejected(TicketError):
    """The ticket refused an update (the validator's or handler's message says why)."""


class TicketOpenFailed(TicketError):
    """The ticket's workflow failed while opening: an unknown policy or priority, for example."""


class TicketClosed(TicketError):
    """The ticket's workflow has finished, so it takes no more updates."""


class TemporalUnreachable(TicketError):
    """The Temporal server could not be reached at the configured address."""


# -- mapping Temporal's errors -------------------------------------------------------------------

CLOSED_WORDS = {
    WorkflowExecutionStatus.COMPLETED: "resolved",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "cancelled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.TIMED_OUT: "timed out",
}


def connect_failure_reason(err: BaseException) -> str:
    """The readable part of the SDK's connection error (its transport details are noise)."""
    text = str(err)
    found = re.search(r'message: "([^"]+)"', text)
    return found.group(1).lower() if found else text.removeprefix("Failed client connect: ")


def closed_word(status: WorkflowExecutionStatus) -> str:
    """How a finished workflow's status reads in a sentence ("is resolved", "is failed")."""
    return CLOSED_WORDS.get(status, status.name.lower())


async def rejected_as_ticket_error(call: Awaitable[_T], ticket_id: str, action: str) -> _T:
    """Await an update call, turning update failures and RPC errors into :class:`TicketError`."""
    try:
        return await call
    except WorkflowUpdateFailedError as err:
        raise TicketUpdateRejected(
            f"ticket {ticket_id} rejected {action}: {failure_message(err)}", ticket_id
        ) from None
    except RPCError as err:
        raise from_rpc_error(err, ticket_id, action) from None


def failure_message(err: BaseException) -> str:
    """The most specific message in a failure's cause chain.

    Update and workflow failures wrap the error that the validator, handler or workflow raised;
    that error's message is the one a person can act on.
    """
    message = str(err)
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ApplicationError):
            return cause.message
        if isinstance(cause, FailureError) and cause.message:
            message = cause.message
        cause = getattr(cause, "cause", None) or cause.__cause__
    return message


def from_rpc_error(err: RPCError, ticket_id: str, action: str) -> TicketError:
    """The :class:`TicketError` for an RPC error the server returned about ``ticket_id``."""
    if err.status == RPCStatusCode.NOT_FOUND:
        return TicketNotFound(
            f"ticket {ticket_id} not found (no workflow {workflow_id_for(ticket_id)}); check the "
            "id, the namespace (TEMPORAL_NAMESPACE), or open it with `escalations ticket open`",
            ticket_id,
        )
    if err.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return TemporalUnreachable(
            f"cannot {action} ticket {ticket_id}: the Temporal server did not answer "
            f"({err.message}); is it running? (`escalations dev` starts one)",
            ticket_id,
        )
    return TicketError(f"cannot {action} ticket {ticket_id}: {err.message}", ticket_id)


def unreadable_payload_reason(err: BaseException) -> str | None:
    """What to do when ticket data could not be decoded, or None if ``err`` is another error.

    With encryption on, a process without the keys meets ``binary/encrypted`` payloads that the
    payload converter cannot read (a ``KeyError``, or the ``InvalidInput`` error our converter
    turns it into where a model was expected); one with the wrong keys gets the codec's
    ``DecryptionError``. Either way the fix is the same setting the workers have.
    """
    if isinstance(err, DecryptionError):
        return f"cannot read the ticket's data: {err}"
    if isinstance(err, KeyError | ApplicationError) and ENCODING.decode() in str(err):
        return (
            "the ticket's data is encrypted and this process holds no encryption keys: set "
            "ESCALATIONS_ENCRYPTION_KEYS or ESCALATIONS_ENCRYPTION_KEY_FILE as the workers have "
            "them"
        )
    return None
