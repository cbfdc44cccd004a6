"""``escalations oncall who``: who a role reaches at an instant, on-call rotations resolved.

It resolves the role with the very function a firing level uses
(:func:`policies.contacts.recipients_by_role`), so the answer is what a level firing at that
instant would notify, before quiet hours. One line per recipient, tab-separated: the address or
channel, then where it comes from (a contacts entry, or the rotation's turn or override with its
start and end on the rotation's wall clock).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from escalations.cli.arguments import ArgumentProblem, aware_datetime, policy_name
from escalations.runtime.config import load_settings
from policies.contacts import Recipient, recipients_by_role
from policies.loader import PolicyError, load_named_policy
from policies.model import Policy
from policies.rotations import Rotation, shift_at
from policies.zones import zone

PROG = "escalations oncall who"


def add_oncall_commands(commands: Any) -> None:
    """Register ``oncall who`` on the ``escalations`` subparsers."""
    p = commands.add_parser("oncall", help="on-call rotations: who a role reaches when")
    sub = p.add_subparsers(dest="oncall_command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "who",
        help="who a role (or a rotation) reaches at an instant",
        description="Prints who a level notifying ROLE would reach at --at (default now): its "
        "contacts, each rotation among them resolved to the member on call, one line per "
        "address or channel with where it comes from. Quiet hours are not applied. See "
        "docs/policy-reference.md#rotations.",
    )
    p.add_argument(
        "--policy", type=policy_name, default="default", help="policy name (default: default)"
    )
    p.add_argument("--role", required=True, help="a role under contacts, or a rotation's name")
    p.add_argument("--team", default="", help="the ticket's team, for its overrides under teams")
    p.add_argument(
        "--at",
        type=aware_datetime,
        metavar="ISO8601",
        help="the instant, with its offset, such as 2026-12-24T18:00:00-05:00 (default: now)",
    )
    p.set_defaults(handler=run_who)


def run_who(args: argparse.Namespace) -> int:
    """``escalations oncall who``: 0 when the role reaches someone, 1 when the policy cannot
    be read or the role reaches nobody, 2 for a bad argument."""
    at: datetime = args.at or datetime.now(UTC)
    try:
        policy = load_named_policy(load_settings().policy_dir, args.policy)
    except PolicyError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 1
    try:
        lines = who(policy, args.role, args.team, at)
    except ArgumentProblem as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    if not lines:
        print(
            f"{PROG}: role {args.role} of policy {policy.name} reaches nobody"
            + (f" on team {args.team}" if args.team else ""),
            file=sys.stderr,
        )
        return 1
    for line in lines:
        print(line)
    return 0


def who(policy: Policy, role: str, team: str, at: datetime) -> list[str]:
    """The lines ``oncall who`` prints: ``address<TAB>where it comes from``.

    Raises:
        ArgumentProblem: ``role`` is neither a role nor a rotation of ``policy``, is the
            built-in ``assignee``, or ``at`` lies where dates run out.
    """
    if role == "assignee":
        raise ArgumentProblem(
            "--role: assignee is each ticket's own assignee; `escalations ticket status ID` "
            "shows it"
        )
    if role not in policy.contacts and role not in policy.rotations:
        known = ", ".join([*policy.contacts, *policy.rotations]) or "none"
        raise ArgumentProblem(
            f"--role: {role[:80]!r} is neither a role under contacts nor a rotation of policy "
            f"{policy.name}; it has: {known}"
        )
    try:
        if role in policy.rotations:
            rotation = policy.rotations[role]
            return [f"{shift_at(rotation, at).member}\t{_rotation_source(role, rotation, at)}"]
        recipients = recipients_by_role(policy, [role], team, None, at)
        return [f"{r.address}\t{_source(policy, r, team, at)}" for r in recipients]
    except ValueError as err:  # an instant too near year 1 or 9999
        raise ArgumentProblem(f"--at: {err}") from None


def _source(policy: Policy, recipient: Recipient, team: str, at: datetime) -> str:
    if recipient.rotation is not None:
        return _rotation_source(recipient.rotation, policy.rotations[recipient.rotation], at)
    if recipient.role in policy.teams.get(team, {}):
        return f"teams.{team}.{recipient.role}"
    return f"contacts.{recipient.role}"


def _rotation_source(name: str, rotation: Rotation, at: datetime) -> str:
    shift = shift_at(rotation, at)
    tz = zone(rotation.timezone)

    def wall(moment: datetime) -> str:
        return moment.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z")

    if shift.begins is None:
        return (
            f"rotation {name}: before its first turn at {wall(shift.ends)}, the first member covers"
        )
    what = f"overrides.{shift.override}" if shift.override is not None else f"{rotation.turn} turn"
    return f"rotation {name}: {what} {wall(shift.begins)} to {wall(shift.ends)}"
