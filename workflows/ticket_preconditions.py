"""When a ticket refuses an update: pure checks of its state, each a message or None.

The workflow's update validators call these and reject the update with the message (type
``InvalidUpdate``), so a refused update never reaches history; the handlers call them again
where the ticket may have changed while they waited. Being pure, every rule is tested without
a server (``tests/workflows/test_ticket_preconditions.py``). ``state`` is None while the ticket
is still opening (loading its policy): then only the checks that need no state apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from workflows import timeouts
from workflows.ticket_messages import MAX_ATTRIBUTES, feedback_closes_at
from workflows.ticket_state import TicketState


def event_time(at: datetime | None, now: datetime) -> datetime:
    """The instant an event happened: ``at`` if the caller gave one (in UTC, never after
    ``now``: a clock skew within ``FUTURE_SKEW`` counts as now), else ``now``."""
    if at is None:
        return now
    # In UTC: a caller's offset (+14:00) must not leak into the times status shows as UTC.
    return min(at, now).astimezone(UTC)


def event_time_problem(
    state: TicketState | None, what: str, at: datetime | None, now: datetime
) -> str | None:
    """``at`` lies in the future, or before the ticket opened."""
    if at is None:
        return None
    if at > now + timeouts.FUTURE_SKEW:
        return f"{what}.at {at.isoformat()} is in the future (now {now.isoformat()})"
    if state is not None and at < state.opened_at:
        return (
            f"{what}.at {at.isoformat()} is before the ticket opened "
            f"({state.opened_at.isoformat()})"
        )
    return None


def resolved_problem(state: TicketState | None, what: str) -> str | None:
    """The ticket is resolved, and ``what`` applies to open tickets only."""
    if state is not None and state.resolved:
        return f"{what}: ticket {state.fields.ticket_id} is already resolved"
    return None


def timed_event_problem(
    state: TicketState | None, what: str, at: datetime | None, now: datetime
) -> str | None:
    """An update that reports an event: the ticket must be open and ``at`` sane."""
    return resolved_problem(state, what) or event_time_problem(state, what, at, now)


def feedback_window_problem(state: TicketState, what: str, now: datetime) -> str | None:
    """``what`` (feedback, reopen) needs a resolved ticket whose feedback window is open."""
    if not state.resolved:
        return (
            f"{what}: ticket {state.fields.ticket_id} is not resolved (it is "
            f"{state.state.value}); {what} applies to resolved tickets"
        )
    closes_at = feedback_closes_at(state)
    if closes_at is not None and now >= closes_at:
        return (
            f"{what}: the feedback window of ticket {state.fields.ticket_id} closed at "
            f"{closes_at.isoformat()}"
        )
    return None


def feedback_problem(state: TicketState, at: datetime | None, now: datetime) -> str | None:
    """Feedback comes within the window, at a sane time."""
    return feedback_window_problem(state, "feedback", now) or event_time_problem(
        state, "feedback", at, now
    )


def reopen_problem(state: TicketState, at: datetime | None, now: datetime) -> str | None:
    """A reopening comes within the window, and not before the resolution it undoes."""
    problem = feedback_window_problem(state, "reopen", now) or event_time_problem(
        state, "reopen", at, now
    )
    if problem is not None:
        return problem
    when = event_time(at, now)
    if state.resolved_at is not None and when < state.resolved_at:
        return (
            f"reopen.at {when.isoformat()} is before the ticket was resolved "
            f"({state.resolved_at.isoformat()})"
        )
    return None


def resolve_problem(state: TicketState | None, at: datetime | None, now: datetime) -> str | None:
    """A resolution of an open ticket, not before its latest reopening."""
    problem = timed_event_problem(state, "resolve", at, now)
    if problem is not None or state is None or not state.reopens:
        return problem
    when = event_time(at, now)
    if when < state.reopens[-1].at:
        return (
            f"resolve.at {when.isoformat()} is before the ticket was reopened "
            f"({state.reopens[-1].at.isoformat()})"
        )
    return None


def pause_problem(state: TicketState | None) -> str | None:
    """Only an open ticket that is not paused can be paused."""
    problem = resolved_problem(state, "pause")
    if problem is None and state is not None and state.paused:
        return f"pause: the ticket is already paused ({state.paused_reason}); resume first"
    return problem


def resume_problem(state: TicketState | None) -> str | None:
    """Only a paused ticket can be resumed."""
    problem = resolved_problem(state, "resume")
    if problem is None and state is not None and not state.paused:
        return f"resume: the ticket is not paused (it is {state.state.value})"
    return problem


def customer_replied_problem(
    state: TicketState | None, at: datetime | None, now: datetime
) -> str | None:
    """A customer message on an open ticket that still has room for escalation records.

    Checked in the validator only: a refused update leaves no trace in history, so tickets
    already past the limit replay as they ran.
    """
    problem = timed_event_problem(state, "customer_replied", at, now)
    full = state is not None and len(state.escalations) >= timeouts.MAX_ESCALATION_RECORDS
    if problem is None and state is not None and full:
        return (
            f"customer_replied: ticket {state.fields.ticket_id} already holds "
            f"{len(state.escalations)} escalation records, the most one ticket keeps "
            "within Temporal's payload limits; resolve it and open a follow-up ticket"
        )
    return problem


def change_priority_problem(state: TicketState | None, priority: str) -> str | None:
    """The new priority must be one the ticket's policy defines."""
    problem = resolved_problem(state, "change_priority")
    if problem is None and state is not None and priority not in state.policy.targets:
        return (
            f"change_priority.priority: {priority!r} is not defined by policy "
            f"{state.policy.name!r}; defined: {', '.join(state.policy.targets)}"
        )
    return problem


def update_attributes_problem(
    state: TicketState | None, attributes: Mapping[str, str | None]
) -> str | None:
    """An open ticket whose attributes stay within their bound once these are set."""
    problem = resolved_problem(state, "update_attributes")
    if problem is not None or state is None:
        return problem
    kept = {name for name in state.attributes if attributes.get(name, "") is not None}
    added = {name for name, value in attributes.items() if value is not None}
    if len(kept | added) > MAX_ATTRIBUTES:
        return (
            f"update_attributes.attributes: the ticket would hold {len(kept | added)} attributes, "
            f"more than {MAX_ATTRIBUTES}; remove some (set them to null) first"
        )
    return None


def migrate_policy_problem(state: TicketState | None, to_version: str) -> str | None:
    """A migration of an open ticket onto a version it does not run yet."""
    problem = resolved_problem(state, "migrate_policy")
    if problem is None and state is not None and state.policy.version == to_version:
        return (
            f"migrate_policy.to_version: the ticket already runs policy "
            f"{state.policy.name!r} v{to_version}"
        )
    return problem


def report_event_problem(
    state: TicketState | None, event: str, at: datetime, now: datetime
) -> str | None:
    """A helpdesk report: ``at`` sane, a ticket that keeps a timeline, room for records.

    A report is not refused for where the ticket stands (a resume of a ticket not paused):
    it folds in at its ``at``, and applies there or not at all. A resolved ticket takes
    reports until its feedback window closes, since one may reopen it.
    """
    problem = event_time_problem(state, f"report_event.{event}", at, now)
    if problem is not None or state is None:
        return problem
    if state.timeline is None:
        return (
            f"report_event: ticket {state.fields.ticket_id} opened before helpdesk reports "
            "were kept in its timeline; send acknowledge, pause, resume or resolve instead"
        )
    if event == "customer_replied" and len(state.escalations) >= timeouts.MAX_ESCALATION_RECORDS:
        return customer_replied_problem(state, None, now)
    return None
