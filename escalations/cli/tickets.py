"""``escalations tickets ...``: list, pause, resume or migrate many running tickets at once.

Tickets are chosen with the same search attributes the Web UI filters on (``--team``,
``--priority``, ``--customer``, ``--policy``, or any ``--query``). ``--dry-run`` lists them and
changes nothing. Exit codes: 0 every chosen ticket took the update (or was skipped by design),
1 some refused or did not answer (each is listed), 2 a bad argument.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from temporalio.service import RPCError

from escalations.cli.arguments import ArgumentProblem, positive_int
from escalations.cli.ticket import build_request, release_clients
from escalations.client.bulk import (
    DEFAULT_CONCURRENCY,
    BulkResult,
    SelectedTicket,
    Selection,
    Skip,
    apply_to_each,
    select_tickets,
)
from escalations.client.errors import TicketError
from escalations.client.tickets import TicketClient
from escalations.runtime.config import load_settings
from policies.durations import format_duration
from workflows.ticket_messages import MigratePolicyRequest, PauseRequest, TicketStatus
from workflows.ticket_state import TicketStateName

TicketAction = Callable[[TicketClient, str], Awaitable[TicketStatus]]


def _selection(args: argparse.Namespace, states: tuple[TicketStateName, ...]) -> Selection:
    try:
        selection = Selection(
            teams=tuple(args.team or ()),
            priorities=tuple(args.priority or ()),
            customers=tuple(args.customer or ()),
            policies=tuple(args.policy or ()),
            states=states,
            query=args.query,
        )
        selection.visibility_query()
    except ValueError as err:
        raise ArgumentProblem(str(err)) from None
    if args.command_needs_filter and selection == Selection(states=states):
        # Pausing every running ticket in the namespace is never what a typo should do.
        raise ArgumentProblem(
            "choose tickets with --team, --priority, --customer, --policy or --query "
            "(all tickets at once must be asked for explicitly: --query \"TicketId != ''\")"
        )
    return selection


def _plan(args: argparse.Namespace) -> tuple[Selection, TicketAction | None]:
    """What ``args`` asks for: the selection, and the update to send each ticket (None: list)."""
    command = args.tickets_command
    if command == "list":
        return _selection(args, ()), None
    if command == "paused":
        return _selection(args, (TicketStateName.PAUSED,)), None
    if command == "pause":
        pause = build_request(PauseRequest, {"reason": args.reason}, {})
        active = (TicketStateName.OPEN, TicketStateName.ACKNOWLEDGED)
        return _selection(args, active), lambda client, tid: client.pause(tid, pause)
    if command == "resume":
        paused_for: str | None = args.paused_for

        async def resume(client: TicketClient, ticket_id: str) -> TicketStatus:
            if paused_for is not None:
                # Only the tickets this outage paused: others wait on their customer still.
                status = await client.status(ticket_id)
                if status.paused_reason != paused_for:
                    raise Skip(f"paused for {status.paused_reason!r}")
            return await client.resume(ticket_id)

        return _selection(args, (TicketStateName.PAUSED,)), resume
    if len(args.policy or ()) != 1:
        # A version number means something only for one policy file.
        raise ArgumentProblem("--policy: name exactly one policy, the one --to-version is of")
    migrate = build_request(
        MigratePolicyRequest,
        {"to_version": args.to_version, "by": args.by, "reason": args.reason},
        {},
    )
    states = (TicketStateName.OPEN, TicketStateName.ACKNOWLEDGED, TicketStateName.PAUSED)
    return _selection(args, states), lambda client, tid: client.migrate_policy(tid, migrate)


def _print_tickets(tickets: list[SelectedTicket], as_json: bool) -> None:
    if as_json:
        print(json.dumps([ticket.__dict__ for ticket in tickets], indent=2))
        return
    for t in tickets:
        print("\t".join([t.ticket_id, *(v or "-" for v in (t.priority, t.team, t.state, t.level))]))
    print(f"{len(tickets)} ticket(s)", file=sys.stderr)


async def _paused_longest_first(
    client: TicketClient, tickets: list[SelectedTicket], concurrency: int
) -> list[TicketStatus]:
    """The status of each paused ticket, longest paused first (visibility has no pause start)."""
    statuses: list[TicketStatus] = []

    async def read(ticket_id: str) -> TicketStatus:
        status = await client.status(ticket_id)
        statuses.append(status)
        return status

    await apply_to_each([t.ticket_id for t in tickets], read, concurrency=concurrency)
    paused = [s for s in statuses if s.paused_at is not None]
    return sorted(paused, key=lambda s: (s.paused_at, s.ticket_id))


def _print_paused(statuses: list[TicketStatus], now: datetime) -> None:
    for status in statuses:
        since = status.paused_at or now
        held = timedelta(seconds=int((now - since).total_seconds()))
        print(
            "\t".join(
                [
                    status.ticket_id,
                    status.priority,
                    status.team,
                    f"paused {format_duration(held)}",
                    f"since {since.astimezone(UTC):%Y-%m-%d %H:%M}Z",
                    status.paused_reason or "-",
                ]
            )
        )
    print(f"{len(statuses)} paused ticket(s)", file=sys.stderr)


def _print_result(verb: str, result: BulkResult) -> None:
    print(f"{verb}: {len(result.applied)} ticket(s)")
    for ticket_id in result.applied:
        print(f"  {ticket_id}")
    for title, entries in (
        ("skipped", result.skipped),
        ("refused", result.refused),
        ("no answer", result.failed),
    ):
        if entries:
            stream = sys.stdout if title == "skipped" else sys.stderr
            print(f"{title}: {len(entries)} ticket(s)", file=stream)
            for ticket_id, why in sorted(entries.items()):
                print(f"  {ticket_id}: {why}", file=stream)


def run_tickets_command(args: argparse.Namespace) -> int:
    """Run one ``tickets`` subcommand; see the module docstring for exit codes."""
    name = f"escalations tickets {args.tickets_command}"
    try:
        selection, action = _plan(args)
    except ArgumentProblem as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2
    settings = load_settings()

    paused: list[TicketStatus] = []

    async def run() -> tuple[list[SelectedTicket], BulkResult | None]:
        client = await TicketClient.connect(settings)
        tickets = await select_tickets(client.client, selection)
        if args.tickets_command == "paused":
            paused.extend(await _paused_longest_first(client, tickets, DEFAULT_CONCURRENCY))
            return tickets, None
        if action is None or args.dry_run:
            return tickets, None

        def send(ticket_id: str) -> Awaitable[TicketStatus]:
            assert action is not None
            return action(client, ticket_id)

        ids = [ticket.ticket_id for ticket in tickets]
        return tickets, await apply_to_each(ids, send, concurrency=args.concurrency)

    try:
        tickets, result = asyncio.run(run())
    except TicketError as err:
        print(f"escalations: {err}", file=sys.stderr)
        return 1
    except RPCError as err:
        # An invalid --query: the server's message names the problem.
        print(f"{name}: the server refused the selection: {err.message}", file=sys.stderr)
        return 2 if args.query else 1
    finally:
        release_clients()
    if args.tickets_command == "paused":
        _print_paused(paused, datetime.now(UTC))
        return 0
    if result is None:
        _print_tickets(tickets, getattr(args, "json", False))
        if args.tickets_command != "list":
            print("dry run: nothing was changed", file=sys.stderr)
        return 0
    _print_result(
        {"pause": "paused", "resume": "resumed"}.get(args.tickets_command, "migrated"), result
    )
    return 0 if result.complete else 1


def add_tickets_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tickets`` (many tickets at once) to the top-level parser's subcommands."""
    tickets = commands.add_parser(
        "tickets", help="list, pause, resume or migrate many running tickets at once"
    )
    sub = tickets.add_subparsers(dest="tickets_command", required=True, metavar="COMMAND")
    choose = argparse.ArgumentParser(add_help=False)
    group = choose.add_argument_group("which tickets (running ones; flags combine with AND)")
    group.add_argument("--team", action="append", help="owning team (repeat for several)")
    group.add_argument("--priority", action="append", help="priority, e.g. P1 (repeatable)")
    group.add_argument("--customer", action="append", help="customer name (repeatable)")
    group.add_argument("--policy", action="append", help="policy name (repeatable)")
    group.add_argument("--query", help="more conditions in Temporal's visibility query language")
    change = argparse.ArgumentParser(add_help=False)
    change.add_argument(
        "--dry-run", action="store_true", help="list the tickets it would change; change nothing"
    )
    change.add_argument(
        "--concurrency",
        type=positive_int,
        default=DEFAULT_CONCURRENCY,
        help=f"updates in flight at once ({DEFAULT_CONCURRENCY})",
    )

    def command(
        name: str, text: str, parents: list[argparse.ArgumentParser], needs_filter: bool
    ) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, parents=parents, help=text, description=text)
        parser.set_defaults(handler=run_tickets_command, command_needs_filter=needs_filter)
        return parser

    p = command("list", "list running tickets: id, priority, team, state, level", [choose], False)
    p.add_argument("--json", action="store_true", help="print them as JSON")

    command(
        "paused",
        "the chosen paused tickets, longest paused first, with the reason",
        [choose],
        False,
    )

    p = command(
        "pause",
        "hold the clocks and escalations of the chosen open tickets (an outage, for example)",
        [choose, change],
        True,
    )
    p.add_argument("--reason", required=True, help="why, e.g. 'outage INC-42'; resume uses it")

    p = command(
        "resume", "let the chosen paused tickets' clocks count again", [choose, change], True
    )
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--paused-for",
        metavar="REASON",
        help="only tickets paused with exactly this reason (the outage's)",
    )
    which.add_argument(
        "--any-reason",
        action="store_true",
        help="every chosen paused ticket, also those waiting on their customer",
    )

    p = command(
        "migrate-policy",
        "move the chosen open tickets onto the policy version the workers now have",
        [choose, change],
        True,
    )
    p.add_argument(
        "--to-version", required=True, metavar="VERSION", help="the version now deployed"
    )
    p.add_argument("--by", required=True, help="who decided the migration")
    p.add_argument("--reason", required=True, help="why, e.g. 'new P1 targets, change 4711'")
