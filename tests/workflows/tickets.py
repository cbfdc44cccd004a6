"""One ticket for the tests of the pure state: its fields are spelled here once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from activities.models import TicketFields
from policies.model import Policy
from workflows.ticket_state import TicketState


def ticket_fields(priority: str = "P1", **changes: Any) -> TicketFields:
    """A payments ticket of Acme's (T-1), with ``changes``."""
    values: dict[str, Any] = {
        "ticket_id": "T-1",
        "title": "Checkout down",
        "priority": priority,
        "team": "payments",
        "customer": "Acme",
        "requester": "buyer@acme.example",
    }
    return TicketFields(**(values | changes))


def open_state(
    policy: Policy, opened_at: datetime, priority: str = "P1", **changes: Any
) -> TicketState:
    """That ticket opened at ``opened_at`` under ``policy``, as the workflow opens it."""
    return TicketState.open(
        ticket_fields(priority, **changes), policy, opened_at, notice_key="run-1"
    )
