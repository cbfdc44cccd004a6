"""Sending a :class:`~escalations.intake.translate.Plan` to its ticket, and what came of it."""

from __future__ import annotations

import dataclasses
from http import HTTPStatus

from escalations.client.errors import (
    TicketAlreadyOpen,
    TicketClosed,
    TicketError,
    TicketNotFound,
    TicketUpdateRejected,
)
from escalations.client.tickets import TicketClient
from escalations.intake.translate import OPEN, Plan
from workflows.ticket_messages import TicketInput


@dataclasses.dataclass
class Outcome:
    """What a delivery did: the HTTP status to answer and what to say and log.

    ``applied`` names the steps the ticket took (a repeat of a delivery is applied again as
    far as the answer goes: Temporal returns the first result of an update id);
    ``skipped`` says why a step or the event changed nothing.
    """

    status: HTTPStatus
    ticket_id: str | None
    applied: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None

    def body(self) -> dict[str, object]:
        """The JSON answer."""
        body: dict[str, object] = {
            "ticket_id": self.ticket_id,
            "applied": self.applied,
            "skipped": self.skipped,
        }
        if self.error is not None:
            body["error"] = self.error
        return body


async def apply_plan(client: TicketClient, plan: Plan) -> Outcome:
    """Send each step of ``plan`` in order.

    The answer tells the helpdesk whether to retry: ``200`` something applied, ``202``
    nothing to do (with the reasons), ``404`` no such ticket yet (a retry after the ticket's
    creation arrives will apply it), ``503`` Temporal did not answer (retry later).
    """
    outcome = Outcome(HTTPStatus.OK, plan.ticket_id, skipped=list(plan.skipped))
    for step in plan.steps:
        assert plan.ticket_id is not None
        try:
            if step.name == OPEN:
                assert isinstance(step.request, TicketInput)
                opened = await client.open_once(step.request, step.update_id)
                outcome.applied.append("open" if opened else "open (repeated delivery)")
            else:
                await client.apply(
                    plan.ticket_id, step.name, step.request, update_id=step.update_id
                )
                outcome.applied.append(step.label)
        except TicketAlreadyOpen:
            outcome.skipped.append(f"{step.label}: the ticket was already open")
        except (TicketClosed, TicketUpdateRejected) as err:
            outcome.skipped.append(f"{step.label}: {err.message}")
        except TicketNotFound as err:
            return dataclasses.replace(outcome, status=HTTPStatus.NOT_FOUND, error=err.message)
        except TicketError as err:
            return dataclasses.replace(
                outcome, status=HTTPStatus.SERVICE_UNAVAILABLE, error=err.message
            )
    if not outcome.applied:
        outcome.status = HTTPStatus.ACCEPTED
    return outcome
