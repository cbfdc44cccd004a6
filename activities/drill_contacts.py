"""Who a drill reaches: every point of contact a policy designates, once each, with the roles
(and rotations) that make it one. Pure: the policy and the time in, the list out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from policies.model import BUILTIN_ROLES, Policy
from policies.rotations import override_window


@dataclass
class PointOfContact:
    """An email address or channel a level could notify.

    Attributes:
        contact: The address, or the name of one of the policy's channels.
        roles: The roles that list it (directly or through a rotation), in policy order.
        rotations: The rotations it is a member of, for those roles.
    """

    contact: str
    roles: list[str] = field(default_factory=list)
    rotations: list[str] = field(default_factory=list)

    def add(self, role: str, rotation: str | None) -> None:
        """Record one more way this contact is reached."""
        if role not in self.roles:
            self.roles.append(role)
        if rotation is not None and rotation not in self.rotations:
            self.rotations.append(rotation)


def points_of_contact(
    policy: Policy, team: str | None, now: datetime
) -> tuple[list[PointOfContact], list[str]]:
    """Every point of contact of ``policy``'s roles, and notes on what a drill cannot test.

    A role's contacts are the policy's, or ``team``'s override of them, as when a level fires
    for a ticket of that team. A rotation stands for all its members and the members of its
    overrides that have not ended by ``now``, since any of them may be on call when an
    incident comes. Addresses compare case-insensitively; each contact appears once.

    Args:
        policy: The policy to drill.
        team: The team whose overrides apply, or None for the policy-wide contacts.
        now: The current time (aware): which rotation overrides are still ahead.

    Returns:
        The contacts in policy order, and one line per role the drill cannot reach (the
        built-in ``assignee``, a role with no contact on this team).
    """
    overrides = policy.teams.get(team, {}) if team is not None else {}
    found: dict[str, PointOfContact] = {}
    notes: list[str] = []
    if team is not None and team not in policy.teams:
        notes.append(
            f"team {team} has no overrides in policy {policy.name}: its contacts are the "
            "policy-wide ones"
        )
    for role in policy.contacts:
        entries = overrides.get(role, policy.contacts[role])
        if not entries:
            where = f" on team {team}" if team is not None else ""
            notes.append(f"role {role} has no contact{where}: a level notifying it reaches nobody")
        for entry in entries:
            for member, rotation in _members(policy, entry, now):
                key = member.lower()
                found.setdefault(key, PointOfContact(member)).add(role, rotation)
    notified = {role for level in policy.levels for role in level.notify}
    notes += [
        f"role {role} is the ticket's own {role}, known only when a level fires: not drilled"
        for role in sorted(BUILTIN_ROLES & notified)
    ]
    return list(found.values()), notes


def _members(policy: Policy, entry: str, now: datetime) -> list[tuple[str, str | None]]:
    rotation = policy.rotations.get(entry)
    if rotation is None:
        return [(entry, None)]
    members = list(rotation.members)
    members += [
        override.member
        for override in rotation.overrides
        if override_window(rotation, override)[1] > now
    ]
    return [(member, entry) for member in members]
