"""``escalations drill --policy NAME [--team T]``: a notice marked ``[DRILL]`` to every point of
contact of a policy, through every channel it names, and a report of who could not be reached
(:mod:`activities.drill`). Exit 0 when every contact was reached, 1 otherwise."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any

from activities.drill import ContactResult, Drill, DrillMailer, DrillReport
from activities.outbox import OutboxWriter
from activities.sendgrid_email import SendGridSender
from escalations.runtime.config import Settings, load_settings
from escalations.runtime.worker import build_channel_activities
from policies.loader import PolicyError, load_named_policy

_OUTCOME_WORDS = {
    "reached": "reached",
    "rejected": "rejected",
    "unreachable": "unreachable",
    "not_configured": "not configured",
}


def add_drill_command(commands: Any) -> None:
    """Register ``drill`` on the ``escalations`` subparsers."""
    p = commands.add_parser(
        "drill",
        help="send a [DRILL] notice to every point of contact of a policy; report who was "
        "not reached",
        description="Sends one notice marked [DRILL] to each email address and channel (Slack, "
        "PagerDuty, Teams, signed webhooks) the policy's roles list, with the team's overrides "
        "when --team is given and every member of a rotation, through the worker's senders "
        "and credentials. PagerDuty alerts are triggered at severity info and resolved at "
        "once. A channel without credentials writes to the outbox, which reaches nobody. "
        "Exit 0 when every contact was reached, 1 otherwise.",
    )
    p.add_argument("--policy", required=True, help="the policy's name")
    p.add_argument("--team", help="drill this team's contacts (its overrides of the roles)")
    p.add_argument(
        "--format", choices=["text", "json"], default="text", help="report format (text)"
    )
    p.set_defaults(handler=_drill)


def build_drill(settings: Settings) -> Drill:
    """A drill sending as the worker would: SendGrid when a key is set, channels live when
    their secrets are, the outbox otherwise."""
    outbox = OutboxWriter(settings.outbox_dir, settings.sendgrid_from)
    key = settings.sendgrid_api_key.get_secret_value().strip() if settings.sendgrid_api_key else ""
    sendgrid = None
    if key:
        sendgrid = SendGridSender(
            key,
            settings.sendgrid_from,
            host=settings.sendgrid_host,
            sandbox=settings.sendgrid_sandbox,
        )
    mailer = DrillMailer(outbox, sendgrid, sandbox=settings.sendgrid_sandbox)
    # No delivery ledger: a drill's keys are new on every run, so there is nothing to dedupe,
    # and the command leaves the workers' ledger file alone.
    channels = build_channel_activities(dataclasses.replace(settings, delivery_ledger=None))
    return Drill(mailer, channels)


def _drill(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        policy = load_named_policy(settings.policy_dir, args.policy)
    except PolicyError as err:
        print(f"escalations drill: {err}", file=sys.stderr)
        return 1
    report = build_drill(settings).run(policy, args.team)
    if args.format == "json":
        document = report.model_dump(mode="json")
        document["all_reached"] = report.all_reached
        print(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        print(render_text(report))
    return 0 if report.all_reached else 1


def render_text(report: DrillReport) -> str:
    """The report as lines a person reads: one per contact, then what was not reached."""
    scope = f"team {report.team}" if report.team else "policy-wide contacts"
    lines = [
        f"Drill {report.drill_id} of policy {report.policy} v{report.policy_version}, {scope}, "
        f"at {report.started_at.isoformat()}"
    ]
    lines += [f"{_OUTCOME_WORDS[c.outcome]:<15} {_line(c)}" for c in report.contacts]
    lines += [f"note: {note}" for note in report.notes]
    missed = report.not_reached
    if not report.contacts:
        lines.append(f"policy {report.policy} lists no point of contact to drill")
    elif missed:
        names = "; ".join(f"{c.contact} ({_holders(c)})" for c in missed)
        reached = len(report.contacts) - len(missed)
        lines.append(f"{reached} of {len(report.contacts)} reached; NOT reached: {names}")
    else:
        lines.append(f"all {len(report.contacts)} points of contact reached")
    return "\n".join(lines)


def _holders(contact: ContactResult) -> str:
    roles = ", ".join(contact.roles)
    if contact.rotations:
        roles += f" via rotation {', '.join(contact.rotations)}"
    return roles


def _line(contact: ContactResult) -> str:
    what = f"{contact.contact} ({contact.kind}) for {_holders(contact)}"
    shown = f"id {contact.provider_id}" if contact.provider_id else ""
    detail = "; ".join(part for part in (shown, contact.detail) if part)
    return f"{what}: {detail}" if detail else what
