"""Who a level notifies: roles resolved to addresses, per-team overrides, and quiet hours."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from policies.business_timeline import BeyondReach
from policies.calendar import CalendarSet
from policies.model import Policy


def recipients_by_role(
    policy: Policy, roles: Iterable[str], team: str, assignee: str | None
) -> list[tuple[str, str]]:
    """``(role, address)`` for ``roles`` on ``team``, each address once, in role order.

    A team's override replaces the policy-wide contacts of that role; ``assignee`` is the
    ticket's current assignee, if it has one.
    """
    overrides = policy.teams.get(team, {})
    found: list[tuple[str, str]] = []
    seen: set[str] = set()
    for role in roles:
        if role == "assignee":
            addresses = [assignee] if assignee else []
        else:
            addresses = overrides.get(role, policy.contacts.get(role, []))
        for address in addresses:
            if address.lower() not in seen:
                seen.add(address.lower())
                found.append((role, address))
    return found


def resolve_recipients(
    policy: Policy, roles: Iterable[str], team: str, assignee: str | None
) -> list[str]:
    """The addresses of :func:`recipients_by_role`."""
    return [address for _, address in recipients_by_role(policy, roles, team, assignee)]


def split_by_quiet_hours(
    policy: Policy,
    recipients: Iterable[tuple[str, str]],
    priority: str,
    now: datetime,
    calendars: CalendarSet,
) -> tuple[list[str], dict[datetime, list[str]]]:
    """Who to notify now, and who waits until their quiet hours end (by release time).

    A recipient waits when ``policy.quiet_hours`` gives them (or their role) a calendar that
    is closed at ``now``, unless ``priority`` is one of that entry's ``page_any_time``.
    """
    now_list: list[str] = []
    held: dict[datetime, list[str]] = {}
    for role, address in recipients:
        quiet = policy.quiet_hours_for(role, address)
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
