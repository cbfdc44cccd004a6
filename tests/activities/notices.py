"""One notification request for the activity tests, with overrides per test module."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from activities.models import NotificationRequest, TicketSnapshot
from tests.workflows.tickets import ticket_fields

OPENED = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def make_request(**changes: Any) -> NotificationRequest:
    """A response-breached notice for ticket T-1042; ``changes`` may name request or ticket
    fields (``title=...`` changes the ticket, ``recipients=...`` the request)."""
    fields = ticket_fields(
        ticket_id="T-1042",
        customer="Acme Corp",
        requester="ops@acme.example",
        affected_users=1200,
        critical_service=True,
    )
    ticket = TicketSnapshot(**fields.model_dump(), state="open", opened_at=OPENED)
    request = NotificationRequest(
        idempotency_key=f"T-1042/response-breached/0/{uuid.uuid4()}",
        recipients=["lead@example.com", "manager@example.com"],
        level="response-breached",
        reason="first response overdue",
        due_at=OPENED + timedelta(minutes=15),
        ticket=ticket,
        policy="default",
        policy_version="3",
    )
    ticket_changes = {k: changes.pop(k) for k in list(changes) if k in TicketSnapshot.model_fields}
    return request.model_copy(
        update={"ticket": ticket.model_copy(update=ticket_changes), **changes}
    )
