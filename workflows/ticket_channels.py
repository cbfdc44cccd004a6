"""A ticket's channels: which contacts are channels, which channels hear of a state change,
and what the ticket remembers of each (its Slack thread, the last event sent). Pure rules,
used by :mod:`workflows.ticket_state` and the workflow."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from activities.channels.models import ChannelEvent, SlackThread
from activities.models import Message
from policies.channels import ChannelKind
from policies.model import Policy

if TYPE_CHECKING:
    from workflows.ticket_state import EscalationRecord

EMAIL = "email"
"""The ``channel`` of an escalation record whose notice is an email to its recipients."""

STATE_EVENTS: dict[ChannelKind, frozenset[ChannelEvent]] = {
    # The root message shows where the ticket stands.
    "slack": frozenset({"acknowledged", "paused", "resumed", "resolved", "reopened"}),
    # The alert is acknowledged and resolved with the ticket; a pause changes nothing there,
    # and after a reopening the next level's trigger opens a new incident under the same key.
    "pagerduty": frozenset({"acknowledged", "resolved"}),
    # A card posted through a webhook cannot be edited.
    "teams": frozenset(),
    # Receivers get every change, to mirror the ticket.
    "webhook": frozenset({"acknowledged", "paused", "resumed", "resolved", "reopened"}),
}
"""The ticket's state changes each kind of channel is told about (after a level reached it)."""

# Notices whose activity ran, or may have: the provider may know of the ticket.
_REACHED = frozenset({"pending", "sent", "written", "failed", "cancelled"})


class ChannelState(Message):
    """What a ticket keeps about one channel it has notified."""

    thread: SlackThread | None = None
    """Slack: the root message every later notice replies under and state changes rewrite."""
    last_event: ChannelEvent | None = None
    """The last state change sent to the channel."""
    last_event_status: str | None = None
    """What became of it: ``sent``, ``written``, ``skipped``, ``failed``."""
    last_event_detail: str | None = None


def split_contacts(policy: Policy, contacts: Iterable[str]) -> tuple[list[str], list[str]]:
    """``(email addresses, channel names)`` among ``contacts``, each in its order."""
    emails: list[str] = []
    channels: list[str] = []
    for contact in contacts:
        (channels if contact in policy.channels else emails).append(contact)
    return emails, channels


def channels_told_of(
    policy: Policy, escalations: Iterable[EscalationRecord], event: ChannelEvent
) -> list[str]:
    """The channels to tell of ``event``: those a notice of this ticket reached (or may
    have) whose kind takes that event, in the policy's order."""
    reached = {
        record.channel
        for record in escalations
        if record.channel != EMAIL and record.delivery.status in _REACHED
    }
    return [
        name
        for name, channel in policy.channels.items()
        if name in reached and event in STATE_EVENTS[channel.kind]
    ]
