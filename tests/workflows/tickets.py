"""One ticket for the tests of the pure state: its fields are spelled here once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from activities.models import TicketFields
from policies.model import Policy
from workflows.ticket_messages import TicketStatus
from workflows.ticket_state import EscalationRecord, TicketState


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


def email_notices(status: TicketStatus) -> list[EscalationRecord]:
    """The escalation records of email notices: under the shipped policies a level's Slack
    and PagerDuty notices are records of their own beside them."""
    return [e for e in status.escalations if e.channel == "email"]
