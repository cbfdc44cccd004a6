"""The events that move a ticket's clocks, kept in the order the ticket learned of them.

Updates such as ``acknowledge`` and ``customer_replied`` may report an event late (``at`` in the
past). The rule the ticket keeps is that its clocks end up exactly as if every event had arrived
in the order of its ``at`` (ties keep the order of arrival). An event that arrives in order is
applied at once; a late one is inserted where its ``at`` puts it and the clocks are folded again
from the opening (see :meth:`workflows.ticket_state.TicketState.refold`). This module holds the
event record and the pure questions asked of the log: which facts held when (for field
conditions) and which targets and calendars were ever in force (for policy migrations).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, model_serializer
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from policies.ladder import FactsHistory, TicketFacts
from policies.model import Targets

EventKind = Literal[
    "open",
    "pause",
    "resume",
    "priority",
    "migrate",
    "acknowledge",
    "resolve",
    "reopen",
    "customer",
    "agent",
    "impact",
    "reassign",
    "active",
    "plan",
]

TABLE_CHANGES = ("migrate", "plan")
"""The kinds of event that change the targets table (a policy migration, another SLA plan); each
carries the table in force before it as ``previous_targets``."""

HelpdeskEvent = Literal["waiting", "active", "solved", "agent_replied", "customer_replied"]
"""What a helpdesk reports: the ticket's status became waiting (on the customer), active or
solved, or an agent or the customer wrote a public reply."""


class TimelineEvent(BaseModel):
    """One event of the ticket, at the instant it happened (``at``), with what it carried.

    Only the fields its kind uses are set. ``previous_targets`` (on ``migrate`` and ``plan``) is
    the targets table in force before it, so a refold can measure earlier stretches on it; a
    ``plan`` event's ``text`` names the plan the ticket moved to.
    """

    model_config = ConfigDict(extra="forbid")

    kind: EventKind
    at: datetime
    by: str | None = None
    text: str | None = None
    priority: str | None = None
    team: str | None = None
    affected_users: int | None = None
    critical_service: bool | None = None
    previous_targets: dict[str, Targets] | None = None

    @model_serializer(mode="wrap")
    def _without_unset(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The log travels in every continue-as-new input: leave out the fields a kind does
        # not use rather than write a row of nulls per event.
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None}


def in_at_order(timeline: Iterable[TimelineEvent]) -> list[TimelineEvent]:
    """The events sorted by ``at``; ``sorted`` is stable, so ties keep their arrival order."""
    return sorted(timeline, key=lambda event: event.at)


def facts_history(timeline: list[TimelineEvent], customer: str) -> FactsHistory:
    """Each instant the condition-relevant facts changed, with the facts from then on.

    Facts change only through updates applied at the instant they arrive (``update_impact``,
    ``reassign``, ``change_priority`` and a level's actions), so arrival order is time order.
    """
    opening = timeline[0]
    assert opening.kind == "open"
    assert opening.priority is not None
    assert opening.team is not None
    facts = TicketFacts(
        priority=opening.priority,
        team=opening.team,
        customer=customer,
        affected_users=opening.affected_users or 0,
        critical_service=bool(opening.critical_service),
    )
    history: FactsHistory = [(opening.at, facts)]
    for event in timeline[1:]:
        changed = facts
        if event.kind == "priority" and event.priority is not None:
            changed = _replace(facts, priority=event.priority)
        elif event.kind == "reassign" and event.team is not None:
            changed = _replace(facts, team=event.team)
        elif event.kind == "impact":
            if event.affected_users is not None:
                changed = _replace(changed, affected_users=event.affected_users)
            if event.critical_service is not None:
                changed = _replace(changed, critical_service=event.critical_service)
        if changed != facts:
            facts = changed
            history.append((event.at, facts))
    return history


def _replace(facts: TicketFacts, **changes: Any) -> TicketFacts:
    return TicketFacts(**(facts.__dict__ | changes))


def targets_before(
    timeline: list[TimelineEvent], current: dict[str, Targets]
) -> dict[str, Targets]:
    """The targets table in force when the ticket opened (before any migration or plan change)."""
    for event in timeline:
        if event.kind in TABLE_CHANGES and event.previous_targets is not None:
            return event.previous_targets
    return current


def calendars_in_force(timeline: list[TimelineEvent], current: dict[str, Targets]) -> set[str]:
    """Every calendar the ticket's priority named at some instant, under any policy version
    and SLA plan.

    A late event folds the clocks again from the opening, so each of these calendars may be
    measured again, wherever a late event's stretch falls.
    """
    table = targets_before(timeline, current)
    priority = timeline[0].priority
    assert priority is not None
    used = {table[priority].calendar}
    migrations = [e for e in timeline if e.kind in TABLE_CHANGES]
    for event in timeline:
        if event.kind in TABLE_CHANGES:
            later = migrations[migrations.index(event) + 1 :]
            table = later[0].previous_targets or current if later else current
        elif event.kind == "priority" and event.priority is not None:
            priority = event.priority
        if priority in table:
            used.add(table[priority].calendar)
    return used
