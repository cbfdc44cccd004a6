"""Who a level notifies: roles resolved to addresses, with per-team overrides."""

from __future__ import annotations

from collections.abc import Iterable

from policies.model import Policy


def resolve_recipients(
    policy: Policy, roles: Iterable[str], team: str, assignee: str | None
) -> list[str]:
    """Addresses for ``roles`` on ``team``, de-duplicated, in the order the roles are listed.

    A team's override replaces the policy-wide contacts of that role; ``assignee`` is the
    ticket's current assignee, if it has one.
    """
    overrides = policy.teams.get(team, {})
    found: list[str] = []
    for role in roles:
        if role == "assignee":
            addresses = [assignee] if assignee else []
        else:
            addresses = overrides.get(role, policy.contacts.get(role, []))
        found += [a for a in addresses if a.lower() not in {f.lower() for f in found}]
    return found
