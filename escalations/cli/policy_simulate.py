"""``escalations policy simulate``: what a policy would fire for one ticket, when and to whom,
and with ``--compare`` what a change to the policy would alter, for review before it ships.

The timeline comes from :func:`escalations.procedure.simulation.simulate`, which drives the
workflow's own pure code over virtual time; this module only reads arguments and prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from escalations.cli.arguments import ArgumentProblem, aware_datetime
from escalations.procedure.compare import compare
from escalations.procedure.scenario import (
    EVENT_FORMS,
    EXAMPLE_ASSIGNEE,
    Scenario,
    ScenarioError,
    parse_attributes,
    parse_event,
    parse_when,
)
from escalations.procedure.simulation import simulate
from escalations.procedure.timeline_text import render_comparison, render_simulation
from escalations.runtime.config import load_settings
from policies.loader import POLICY_SUFFIXES, PolicyError, load_named_policy, read_policy_file
from policies.model import Policy
from policies.zones import zone as load_zone

PROG = "escalations policy simulate"
_FLAGS = {
    "priority": "--priority",
    "opened_at": "--opened",
    "team": "--team",
    "customer": "--customer",
    "assignee": "--assignee",
    "tags": "--tag",
    "attributes": "--attribute",
    "affected_users": "--affected-users",
    "events": "--event",
    "until": "--until",
}


def add_policy_simulate_command(policy_commands: Any) -> None:
    """Register ``simulate`` on the ``escalations policy`` subparsers."""
    p = policy_commands.add_parser(
        "simulate",
        help="the timeline of what a policy would fire for one ticket, and to whom",
        description="Runs one ticket through a policy over virtual time, with the workflow's "
        "own rules, and prints every level that would fire: when, to whom (role and address "
        "or channel), and who is held for quiet hours until when; then the clocks. "
        "--compare runs the same ticket through another policy and shows what changes.",
        epilog=f"events (--event, repeatable):\n{EVENT_FORMS}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "policy", metavar="NAME", help="a policy in the policy directory, or a .yaml file's path"
    )
    p.add_argument("--priority", required=True, help="the ticket's priority, such as P2")
    p.add_argument(
        "--opened",
        required=True,
        type=aware_datetime,
        metavar="TIME",
        help="when the ticket opens: an ISO time with a zone (2026-11-16T11:00-05:00)",
    )
    p.add_argument("--team", default="support", help="the ticket's team (support)")
    p.add_argument("--customer", default="Example customer", help="the ticket's customer")
    p.add_argument(
        "--assignee",
        default=EXAMPLE_ASSIGNEE,
        help=f"the ticket's assignee (a stand-in, {EXAMPLE_ASSIGNEE}); '' for none",
    )
    p.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    p.add_argument(
        "--attribute",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an attribute, such as customer_tier=gold (repeatable)",
    )
    p.add_argument("--affected-users", type=int, default=1, metavar="N", help="(1)")
    p.add_argument("--critical-service", action="store_true", help="a critical service is hit")
    p.add_argument(
        "--event", action="append", default=[], metavar="EVENT", help="such as 'ack at +3h'"
    )
    p.add_argument(
        "--until",
        metavar="WHEN",
        help="stop here (+3d, or an ISO time); default: once nothing is left to fire",
    )
    p.add_argument(
        "--compare", metavar="OTHER", help="another policy (a name or a .yaml path) to compare"
    )
    p.add_argument("--zone", help="show wall times in this zone (default: the policy's)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="(text)")
    p.set_defaults(handler=_simulate)


def _simulate(args: argparse.Namespace) -> int:
    try:
        scenario = _scenario(args)
        if args.zone is not None:
            try:
                load_zone(args.zone)
            except ValueError as err:
                raise ArgumentProblem(f"--zone: {err}") from None
    except ArgumentProblem as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return 2
    policy = _read(args.policy)
    other = _read(args.compare) if args.compare is not None else None
    if policy is None or (args.compare is not None and other is None):
        return 1
    try:
        sim = simulate(policy, scenario)
    except ScenarioError as err:
        print(f"{PROG}: {_flagged(err)}", file=sys.stderr)
        return 2
    if other is None:
        if args.format == "json":
            print(sim.model_dump_json(indent=2))
        else:
            print(render_simulation(sim, args.zone), end="")
        return 0
    try:
        comparison = compare(sim, simulate(other, scenario))
    except ScenarioError as err:
        print(f"{PROG}: --compare {args.compare}: {_flagged(err)}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(comparison.model_dump_json(indent=2))
    else:
        print(render_simulation(sim, args.zone))
        print(render_comparison(comparison, args.compare, args.zone), end="")
    return 0


def _scenario(args: argparse.Namespace) -> Scenario:
    """The scenario the arguments describe.

    Raises:
        ArgumentProblem: starting with the flag at fault.
    """
    opened = args.opened
    attributes: dict[str, str] = {}
    for text in args.attribute:
        try:
            attributes |= parse_attributes(text)
        except ValueError as err:
            raise ArgumentProblem(f"--attribute: {err}") from None
    try:
        events = [parse_event(text, opened) for text in args.event]
    except ScenarioError as err:
        # Its message starts with "event '<the event>'", which the flag's name completes.
        raise ArgumentProblem(f"--{err}") from None
    until = None
    if args.until is not None:
        try:
            until = parse_when(args.until, opened)
        except ValueError as err:
            raise ArgumentProblem(f"--until: {err}") from None
    return Scenario(
        priority=args.priority,
        opened_at=opened,
        team=args.team,
        customer=args.customer,
        tags=list(args.tag),
        attributes=attributes,
        affected_users=args.affected_users,
        critical_service=args.critical_service,
        assignee=args.assignee or None,
        events=events,
        until=until,
    )


def _read(name: str) -> Policy | None:
    """Policy ``name`` from the policy directory, or the file ``name`` is the path of."""
    try:
        if name.endswith(POLICY_SUFFIXES) or "/" in name:
            return read_policy_file(Path(name))
        return load_named_policy(load_settings().policy_dir, name)
    except PolicyError as err:
        print(f"{PROG}: {err}", file=sys.stderr)
        return None


def _flagged(err: ScenarioError) -> str:
    """The scenario's problem, naming the flag that set the field at fault."""
    field, sep, rest = str(err).partition(": ")
    flag = _FLAGS.get(field.split(".")[0])
    return f"{flag}: {rest}" if sep and flag else str(err)
