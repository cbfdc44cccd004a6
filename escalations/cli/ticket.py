"""``escalations ticket ...``: open tickets, send them updates and read their status from a shell.

Arguments become the workflow's own pydantic models, so the CLI accepts exactly what the
contract accepts; a validation error is reported against the flag that carried the bad value.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError
from temporalio.exceptions import ApplicationError

from escalations.cli.arguments import ArgumentProblem, aware_datetime
from escalations.cli.status_text import describe_status
from escalations.client.errors import TicketError, unreadable_payload_reason
from escalations.client.tickets import TicketClient
from escalations.runtime.config import load_settings
from workflows import ticket_messages as messages
from workflows.ticket_messages import TicketId, TicketInput, TicketStatus

_M = TypeVar("_M", bound=BaseModel)
Action = Callable[[TicketClient], Awaitable[TicketStatus]]

_TICKET_ID: TypeAdapter[str] = TypeAdapter(TicketId)


def true_false(text: str) -> bool:
    """``true`` or ``false`` (also yes/no, 1/0), for flags that may switch something off."""
    lowered = text.strip().lower()
    if lowered in {"true", "yes", "1"}:
        return True
    if lowered in {"false", "no", "0"}:
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: use true or false")


def _flag(field: str, flags: Mapping[str, str]) -> str:
    return flags.get(field, "--" + field.replace("_", "-"))


def build_request(model: type[_M], data: dict[str, Any], flags: Mapping[str, str]) -> _M:
    """Validate ``data`` (unset arguments left out) as ``model``.

    Args:
        model: The contract's request model.
        data: Field values from the command line; ``None`` values are dropped.
        flags: Field name to flag, where the flag is not ``--field-name``.

    Raises:
        ArgumentProblem: every problem on one line ("--a: ...; --b: ..."), each starting
            with the flag it concerns.
    """
    try:
        return model.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            message = err["msg"].removeprefix("Value error, ")
            if err["loc"]:
                problems.append(f"{_flag(str(err['loc'][0]), flags)}: {message}")
            else:
                # A rule about several fields ("give affected_users, critical_service or
                # both"): speak of flags, which are what the person typed.
                for field in model.model_fields:
                    message = re.sub(rf"\b{field}\b", _flag(field, flags), message)
                problems.append(message)
        raise ArgumentProblem("; ".join(problems)) from None


def ticket_id_argument(value: str) -> str:
    """Check a positional ticket ``ID`` before it becomes a workflow id."""
    try:
        return _TICKET_ID.validate_python(value)
    except ValidationError as exc:
        raise ArgumentProblem(
            "ID: " + exc.errors()[0]["msg"].removeprefix("Value error, ")
        ) from None


# -- one builder per subcommand: arguments in, client call out --------------------------------


def _open(args: argparse.Namespace) -> Action:
    ticket = build_request(
        TicketInput,
        {
            "ticket_id": args.ticket_id,
            "title": args.title,
            "priority": args.priority,
            "team": args.team,
            "customer": args.customer,
            "requester": args.requester,
            "assignee": args.assignee,
            "affected_users": args.affected_users,
            "critical_service": args.critical_service,
            "policy": args.policy,
            "opened_at": args.opened_at,
            "tags": args.tag,
            "attributes": _attribute_pairs(args.attribute),
        },
        {"ticket_id": "--id", "tags": "--tag", "attributes": "--attribute"},
    )
    return lambda client: client.open(ticket)


def _attribute_pairs(pairs: list[str] | None) -> dict[str, str | None] | None:
    """``--attribute customer_tier=gold`` (``name=`` with nothing after it removes one)."""
    if pairs is None:
        return None
    found: dict[str, str | None] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ArgumentProblem(f"--attribute: {pair[:80]!r} is not NAME=VALUE")
        found[name.strip()] = value if value else None
    return found


def _attributes(args: argparse.Namespace) -> Action:
    request = build_request(
        messages.UpdateAttributesRequest,
        {"tags": args.tag, "attributes": _attribute_pairs(args.attribute)},
        {"tags": "--tag", "attributes": "--attribute"},
    )
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.update_attributes(ticket_id, request)


def _ack(args: argparse.Namespace) -> Action:
    request = build_request(messages.AcknowledgeRequest, {"by": args.by, "at": args.at}, {})
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.acknowledge(ticket_id, request)


def _customer_replied(args: argparse.Namespace) -> Action:
    request = build_request(messages.CustomerRepliedRequest, {"at": args.at}, {})
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.customer_replied(ticket_id, request)


def _agent_replied(args: argparse.Namespace) -> Action:
    request = build_request(messages.AgentRepliedRequest, {"by": args.by, "at": args.at}, {})
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.agent_replied(ticket_id, request)


def _resolve(args: argparse.Namespace) -> Action:
    request = build_request(
        messages.ResolveRequest, {"by": args.by, "at": args.at, "note": args.note}, {}
    )
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.resolve(ticket_id, request)


def _feedback(args: argparse.Namespace) -> Action:
    request = build_request(
        messages.FeedbackRequest, {"csat": args.csat, "comment": args.comment, "at": args.at}, {}
    )
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.feedback(ticket_id, request)


def _reopen(args: argparse.Namespace) -> Action:
    request = build_request(
        messages.ReopenRequest, {"by": args.by, "reason": args.reason, "at": args.at}, {}
    )
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.reopen(ticket_id, request)


def _pause(args: argparse.Namespace) -> Action:
    request = build_request(messages.PauseRequest, {"reason": args.reason}, {})
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.pause(ticket_id, request)


def _resume(args: argparse.Namespace) -> Action:
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.resume(ticket_id)


def _priority(args: argparse.Namespace) -> Action:
    request = build_request(
        messages.ChangePriorityRequest, {"priority": args.priority}, {"priority": "PRIORITY"}
    )
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.change_priority(ticket_id, request)


def _impact(args: argparse.Namespace) -> Action:
    request = build_request(
        messages.UpdateImpactRequest,
        {"affected_users": args.affected_users, "critical_service": args.critical_service},
        {},
    )
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.update_impact(ticket_id, request)


def _reassign(args: argparse.Namespace) -> Action:
    request = build_request(
        messages.ReassignRequest, {"assignee": args.assignee, "team": args.team}, {}
    )
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.reassign(ticket_id, request)


def _migrate_policy(args: argparse.Namespace) -> Action:
    request = build_request(
        messages.MigratePolicyRequest,
        {"to_version": args.to_version, "by": args.by, "reason": args.reason},
        {},
    )
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.migrate_policy(ticket_id, request)


def _status(args: argparse.Namespace) -> Action:
    ticket_id = ticket_id_argument(args.id)
    return lambda client: client.status(ticket_id)


def add_ticket_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``ticket`` and its subcommands to the top-level parser's subcommands."""
    ticket = commands.add_parser("ticket", help="open tickets, update them, show their status")
    sub = ticket.add_subparsers(dest="ticket_command", required=True, metavar="COMMAND")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--json", action="store_true", help="print the full status as JSON")

    def command(
        name: str, build: Callable[[argparse.Namespace], Action], text: str
    ) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, parents=[output], help=text, description=text)
        parser.set_defaults(handler=run_ticket_command, build=build)
        if name != "open":
            parser.add_argument("id", metavar="ID", help="the ticket id, e.g. T-1042")
        return parser

    p = command("open", _open, "open a ticket: start its escalation workflow")
    p.add_argument(
        "--id", dest="ticket_id", metavar="ID", required=True, help="ticket id, e.g. T-1042"
    )
    p.add_argument("--title", required=True, help="one-line summary")
    p.add_argument("--priority", required=True, help="a priority the policy defines, e.g. P1")
    p.add_argument("--team", required=True, help="owning team, e.g. payments")
    p.add_argument("--customer", required=True, help="customer name")
    p.add_argument("--requester", required=True, help="requester's email address")
    p.add_argument("--assignee", help="assignee's email address")
    p.add_argument(
        "--affected-users", type=int, metavar="N", help="how many users are affected (default 1)"
    )
    p.add_argument(
        "--critical-service", action="store_true", default=None, help="a critical service is down"
    )
    p.add_argument("--policy", help="escalation policy name (default: default)")
    p.add_argument("--tag", action="append", metavar="TAG", help="a tag, e.g. vip (repeatable)")
    p.add_argument(
        "--attribute",
        action="append",
        metavar="NAME=VALUE",
        help="a named attribute, e.g. customer_tier=gold (repeatable)",
    )
    p.add_argument(
        "--opened-at",
        type=aware_datetime,
        metavar="ISO8601",
        help="when it opened, ISO 8601 with zone",
    )

    p = command("ack", _ack, "a first response reached the customer")
    p.add_argument("--by", required=True, help="who responded")
    p.add_argument(
        "--at", type=aware_datetime, metavar="ISO8601", help="when, if not now (ISO 8601 with zone)"
    )

    p = command(
        "customer-replied",
        _customer_replied,
        "a customer message: start the next-reply clock (resumes a paused ticket)",
    )
    p.add_argument(
        "--at", type=aware_datetime, metavar="ISO8601", help="when, if not now (ISO 8601 with zone)"
    )

    p = command("agent-replied", _agent_replied, "an agent replied: stop the next-reply clock")
    p.add_argument("--by", required=True, help="who replied")
    p.add_argument(
        "--at", type=aware_datetime, metavar="ISO8601", help="when, if not now (ISO 8601 with zone)"
    )

    p = command("resolve", _resolve, "the ticket is solved: stop its clocks and escalations")
    p.add_argument("--by", required=True, help="who resolved it")
    p.add_argument(
        "--at", type=aware_datetime, metavar="ISO8601", help="when, if not now (ISO 8601 with zone)"
    )
    p.add_argument("--note", help="resolution note")

    p = command("feedback", _feedback, "the customer rated a resolved ticket (CSAT 1-5)")
    p.add_argument("--csat", required=True, type=int, metavar="1-5", help="the rating")
    p.add_argument("--comment", help="the customer's comment")
    p.add_argument(
        "--at", type=aware_datetime, metavar="ISO8601", help="when, if not now (ISO 8601 with zone)"
    )

    p = command(
        "reopen", _reopen, "a resolved ticket needs more work: its resolution clock runs again"
    )
    p.add_argument("--by", required=True, help="who reopened it")
    p.add_argument("--reason", required=True, help="why, e.g. 'the fix did not hold'")
    p.add_argument(
        "--at", type=aware_datetime, metavar="ISO8601", help="when, if not now (ISO 8601 with zone)"
    )

    p = command("pause", _pause, "waiting on the customer: hold clocks and escalations")
    p.add_argument("--reason", required=True, help="why, e.g. 'waiting for logs'")

    command("resume", _resume, "the customer answered: clocks count again")

    p = command("priority", _priority, "change the ticket's priority")
    p.add_argument("priority", metavar="PRIORITY", help="the new priority, e.g. P2")

    p = command("impact", _impact, "update affected users and/or critical-service flag")
    p.add_argument("--affected-users", type=int, metavar="N", help="how many users are affected")
    p.add_argument("--critical-service", type=true_false, metavar="true|false", help="critical?")

    p = command(
        "attributes",
        _attributes,
        "set tags and attributes; the SLA plan they choose takes over the running clocks",
    )
    p.add_argument(
        "--tag",
        action="append",
        metavar="TAG",
        help="the ticket's tags from now on (repeatable; replaces them all)",
    )
    p.add_argument(
        "--attribute",
        action="append",
        metavar="NAME=VALUE",
        help="set an attribute; NAME= removes it (repeatable)",
    )

    p = command("reassign", _reassign, "hand the ticket to another assignee and/or team")
    p.add_argument("--assignee", help="new assignee's email address")
    p.add_argument("--team", help="new owning team")

    p = command(
        "migrate-policy",
        _migrate_policy,
        "move an open ticket onto the version of its policy the workers now have",
    )
    p.add_argument(
        "--to-version", required=True, metavar="VERSION", help="the version the file now has"
    )
    p.add_argument("--by", required=True, help="who decided the migration")
    p.add_argument("--reason", required=True, help="why, e.g. 'new P1 targets, change 4711'")

    command("status", _status, "show the ticket's state, clocks and escalations")


def release_clients() -> None:
    """Free Temporal clients left in reference cycles, before the interpreter shuts down.

    A client freed during interpreter shutdown lets a Rust thread of the SDK touch Python after
    it is gone, and the process aborts with "PyGILState_Release" (temporalio/sdk-python#300;
    about one short command in three here). Freeing them while Python is alive avoids that.
    """
    gc.collect()


def run_ticket_command(args: argparse.Namespace) -> int:
    """Run one ``ticket`` subcommand and print the ticket's status.

    Returns:
        0 on success, 1 when the ticket or the server refused, 2 for a bad argument.

    Raises:
        ConfigError: an environment variable has an unusable value.
    """
    try:
        action: Action = args.build(args)
    except ArgumentProblem as err:
        print(f"escalations ticket {args.ticket_command}: error: {err}", file=sys.stderr)
        return 2
    settings = load_settings()

    async def run() -> TicketStatus:
        client = await TicketClient.connect(settings)
        return await action(client)

    status: TicketStatus | None = None
    problem = ""
    try:
        status = asyncio.run(run())
    except TicketError as err:
        problem = str(err)
    except (KeyError, ValueError, ApplicationError) as err:
        reason = unreadable_payload_reason(err)
        if reason is None:
            raise
        problem = reason
    release_clients()
    if status is None:
        print(f"escalations: {problem}", file=sys.stderr)
        return 1
    print(status.model_dump_json(indent=2) if args.json else describe_status(status))
    return 0
