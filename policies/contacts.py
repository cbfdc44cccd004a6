"""Who a level notifies: roles resolved to addresses, per-team overrides, on-call rotations,
and quiet hours."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from policies.business_timeline import BeyondReach
from policies.calendar import CalendarSet
from policies.model import Policy
from policies.rotations import on_call


class Recipient(NamedTuple):
    """One address (or channel) a level notifies, and how the level reached it."""

    role: str
    address: str
    rotation: str | None = None
    """The rotation whose member on call ``address`` is, if it came through one."""


def recipients_by_role(
    policy: Policy, roles: Iterable[str], team: str, assignee: str | None, at: datetime
) -> list[Recipient]:
    """The recipients of ``roles`` on ``team`` at ``at``, each address once, in role order.

    A team's override replaces the policy-wide contacts of that role; ``assignee`` is the
    ticket's current assignee, if it has one. A contact entry naming one of the policy's
    ``rotations`` is its member on call at ``at`` (aware; a workflow passes ``workflow.now()``).
    """
    overrides = policy.teams.get(team, {})
    found: list[Recipient] = []
    seen: set[str] = set()
    for role in roles:
        if role == "assignee":
            entries = [assignee] if assignee else []
        else:
            entries = overrides.get(role, policy.contacts.get(role, []))
        for entry in entries:
            rotation = policy.rotations.get(entry)
            address = entry if rotation is None else on_call(rotation, at)
            if address.lower() not in seen:
                seen.add(address.lower())
                found.append(Recipient(role, address, entry if rotation else None))
    return found


def resolve_recipients(
    policy: Policy, roles: Iterable[str], team: str, assignee: str | None, at: datetime
) -> list[str]:
    """The addresses of :func:`recipients_by_role`."""
    return [r.address for r in recipients_by_role(policy, roles, team, assignee, at)]


def split_by_quiet_hours(
    policy: Policy,
    recipients: Iterable[Recipient],
    priority: str,
    now: datetime,
    calendars: CalendarSet,
) -> tuple[list[str], dict[datetime, list[str]]]:
    """Who to notify now, and who waits until their quiet hours end (by release time).

    A recipient waits when ``policy.quiet_hours`` gives them (or the rotation or role that
    reached them) a calendar that is closed at ``now``, unless ``priority`` is one of that
    entry's ``page_any_time``.
    """
    now_list: list[str] = []
    held: dict[datetime, list[str]] = {}
    for role, address, rotation in recipients:
        quiet = policy.quiet_hours_for(role, address, rotation)
        if quiet is None or priority in quiet.page_any_time:
            now_list.append(address)
            continue
        try:
            release = calendars[quiet.calendar].next_open(now)
        except BeyondReach:  # a calendar that never opens again cannot hold anyone forever
            release = now
        if release <= now:
            now_list.append(address)
        else:
            held.setdefault(release, []).append(address)
    return now_list, held
