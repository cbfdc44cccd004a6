"""Firing a ticket's due levels: who each notice goes to, now or once quiet hours end.

Pure, like :mod:`workflows.ticket_state`: the ``TicketEscalation`` workflow fires levels
through :func:`fire_due_levels` and then sends the notices, and ``escalations policy simulate``
runs the very same function over virtual time, so a simulated timeline cannot drift from what
tickets do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from policies.calendar import CalendarSet
from policies.contacts import Recipient, recipients_by_role, split_by_quiet_hours
from policies.ladder import describe_condition
from workflows.ticket_state import DueLevel, EscalationRecord, TicketState


@dataclass(frozen=True)
class Firing:
    """One firing of one level, as booked in the ticket's state."""

    due: DueLevel
    at: datetime
    priority: str
    """The ticket's priority as the level fired, before the level's own actions: it decides
    who may be paged during quiet hours."""
    recipients: list[Recipient]
    """Everyone the level reached (an on-call rotation's member as of ``at``), an address once,
    with the first role that reached it."""
    now_list: list[str]
    """Addresses and channels notified at once."""
    held: dict[datetime, list[str]]
    """Addresses and channels held for quiet hours, by release time."""
    first: int
    """The index in ``TicketState.escalations`` of the first of ``records``."""
    records: list[EscalationRecord]


def fire_level(state: TicketState, due: DueLevel, now: datetime, calendars: CalendarSet) -> Firing:
    """Fire ``due`` at ``now``: resolve its roles, hold who is in quiet hours, book the records
    and apply the level's actions."""
    fields = state.fields
    priority = fields.priority
    recipients = recipients_by_role(
        state.policy, due.level.notify, fields.team, fields.assignee, now
    )
    now_list, held = split_by_quiet_hours(state.policy, recipients, priority, now, calendars)
    first = len(state.escalations)
    records = state.record_fire(due, now, now_list, describe_condition(due.level.when), held=held)
    return Firing(due, now, priority, recipients, now_list, held, first, records)


def fire_due_levels(state: TicketState, now: datetime, calendars: CalendarSet) -> Iterator[Firing]:
    """Fire every level due at ``now``, in policy order, yielding each firing as it is booked.

    A generator, so that whoever sends the notices does so before the next level fires (a
    notice shows the ticket as its own level left it). A level's actions (a priority raise)
    can make another level due at once; the ladder is finite and each firing consumes a
    repeat, so the rounds settle.
    """
    rounds = 1 + sum(1 + (lvl.repeat.times if lvl.repeat else 0) for lvl in state.policy.levels)
    for _ in range(rounds):
        due = state.due_levels(now, calendars)
        if not due:
            return
        for item in due:
            yield fire_level(state, item, now, calendars)
