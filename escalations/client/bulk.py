"""Updates for many tickets at once, chosen by a visibility query (``escalations tickets``).

An outage pauses a whole team's tickets; a reviewed policy change moves open tickets onto its
new version. Each ticket still takes its own update, so each validates it and answers for
itself: one ticket's refusal (resolved in the meantime, say) never stops the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from temporalio.client import Client

from escalations.client.errors import TicketError, TicketUpdateRejected
from reports.visibility import WORKFLOW_TYPE, quoted_literal
from workflows import search_attributes as sa
from workflows.ticket_messages import TicketStatus
from workflows.ticket_state import TicketStateName

DEFAULT_CONCURRENCY = 16
"""Updates in flight at once: enough to move a thousand tickets in seconds, few enough that
an operator's command never crowds out the workers' own traffic."""


class Skip(Exception):
    """Raised by an action for a ticket that the selection caught but the command leaves be."""


@dataclass(frozen=True)
class Selection:
    """Running tickets, narrowed by any of these (each a list of accepted values)."""

    teams: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    states: tuple[TicketStateName, ...] = ()
    query: str | None = None
    """More conditions in Temporal's visibility query language, ANDed with the rest."""

    def visibility_query(self) -> str:
        """The list filter that selects these tickets."""
        parts = [f"WorkflowType = '{WORKFLOW_TYPE}'", "ExecutionStatus = 'Running'"]
        for key, values in (
            (sa.TEAM, self.teams),
            (sa.PRIORITY, self.priorities),
            (sa.CUSTOMER, self.customers),
            (sa.POLICY, self.policies),
            (sa.SLA_STATE, tuple(state.value for state in self.states)),
        ):
            if values:
                parts.append(f"{key.name} IN ({', '.join(quoted_literal(v) for v in values)})")
        if self.query:
            parts.append(f"({self.query})")
        return " AND ".join(parts)


@dataclass(frozen=True)
class SelectedTicket:
    """One ticket as visibility lists it."""

    ticket_id: str
    priority: str | None
    team: str | None
    state: str | None
    level: str | None


async def select_tickets(
    client: Client, selection: Selection, *, limit: int | None = None
) -> list[SelectedTicket]:
    """The running tickets ``selection`` matches (at most ``limit``), ordered by ticket id.

    Raises:
        temporalio.service.RPCError: the server refused the query (its message says why).
    """
    found = []
    async for execution in client.list_workflows(selection.visibility_query(), limit=limit):
        attributes = execution.typed_search_attributes
        ticket_id = attributes.get(sa.TICKET_ID) or execution.id.removeprefix("ticket-")
        found.append(
            SelectedTicket(
                ticket_id=ticket_id,
                priority=attributes.get(sa.PRIORITY),
                team=attributes.get(sa.TEAM),
                state=attributes.get(sa.SLA_STATE),
                level=attributes.get(sa.ESCALATION_LEVEL),
            )
        )
    return sorted(found, key=lambda ticket: ticket.ticket_id)


@dataclass
class BulkResult:
    """What became of each selected ticket."""

    applied: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    """The ticket said no (the message says why)."""
    failed: dict[str, str] = field(default_factory=dict)
    """No answer: the ticket closed, or the server or workers could not be reached."""

    @property
    def complete(self) -> bool:
        """Whether every ticket that was not skipped took the update."""
        return not self.refused and not self.failed


async def apply_to_each(
    ticket_ids: Sequence[str],
    action: Callable[[str], Awaitable[TicketStatus]],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> BulkResult:
    """Run ``action`` for every ticket, ``concurrency`` at a time, and sort out the answers."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    result = BulkResult()
    gate = asyncio.Semaphore(concurrency)

    async def one(ticket_id: str) -> None:
        async with gate:
            try:
                await action(ticket_id)
            except Skip as why:
                result.skipped[ticket_id] = str(why)
            except TicketUpdateRejected as err:
                result.refused[ticket_id] = str(err)
            except TicketError as err:
                result.failed[ticket_id] = str(err)
            else:
                result.applied.append(ticket_id)

    await asyncio.gather(*(one(ticket_id) for ticket_id in ticket_ids))
    result.applied.sort()
    return result
