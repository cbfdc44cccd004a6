"""``escalations channels list|test``: see which channels are live, and send one message,
marked as a test, through a channel before an incident needs it."""

from __future__ import annotations

import argparse
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from temporalio.exceptions import ApplicationError

from activities.channels.dispatch import channel_mode
from activities.probes import probe_notice, probe_request
from escalations.runtime.config import load_settings
from escalations.runtime.worker import build_channel_activities
from policies.loader import PolicyError, load_named_policy
from policies.model import Policy


def add_channels_commands(commands: Any) -> None:
    """Register ``channels list`` and ``channels test`` on the ``escalations`` subparsers."""
    p = commands.add_parser("channels", help="list a policy's channels, or test one")
    sub = p.add_subparsers(dest="channels_command", required=True, metavar="COMMAND")
    p = sub.add_parser("list", help="the policy's channels: kind, and live or outbox")
    p.add_argument("--policy", default="default", help="policy name (default)")
    p.set_defaults(handler=_list)
    p = sub.add_parser(
        "test",
        help="send one message, marked as a test, through a channel",
        description="Sends a test notice (a Slack message, a PagerDuty alert of severity info "
        "that is resolved at once, a Teams card, a signed webhook of type channel.test) "
        "through the named channel of a policy, as the worker would: live when its "
        "credentials are set, to the outbox otherwise.",
    )
    p.add_argument("name", help="the channel's name under the policy's channels")
    p.add_argument("--policy", default="default", help="policy name (default)")
    p.set_defaults(handler=_test)


def _policy(name: str) -> Policy | None:
    settings = load_settings()
    try:
        return load_named_policy(settings.policy_dir, name)
    except PolicyError as err:
        print(f"escalations channels: {err}", file=sys.stderr)
        return None


def _list(args: argparse.Namespace) -> int:
    policy = _policy(args.policy)
    if policy is None:
        return 1
    if not policy.channels:
        print(f"policy {policy.name} names no channels")
    for name, channel in policy.channels.items():
        print(f"{name}\t{channel.kind}\t{channel_mode(channel)}")
    return 0


def _test(args: argparse.Namespace) -> int:
    policy = _policy(args.policy)
    if policy is None:
        return 1
    channel = policy.channels.get(args.name)
    if channel is None:
        known = ", ".join(policy.channels) or "none"
        print(
            f"escalations channels test: no channel {args.name[:80]!r} in policy "
            f"{policy.name}; its channels: {known}",
            file=sys.stderr,
        )
        return 1
    settings = load_settings()
    key = f"channel-test-{uuid.uuid4()}"
    request = probe_request(
        policy,
        key=key,
        channel=args.name,
        recipients=[args.name],
        level="channel-test",
        reason=f"a test of channel {args.name} of policy {policy.name}; no action needed",
        ticket_id="TEST",
        title="Test of an escalation channel",
        priority=next(iter(policy.targets)),
        team="test",
        requester="escalations channels test",
        now=datetime.now(UTC).replace(microsecond=0),
    )
    notice = probe_notice(args.name, channel, request)
    try:
        result = build_channel_activities(settings).deliver(notice, None)
    except ApplicationError as err:
        kind = "rejected" if err.non_retryable else "failed (a retry may succeed)"
        print(f"escalations channels test: {args.name} {kind}: {err}", file=sys.stderr)
        return 1
    shown = f" (id {result.message_id})" if result.message_id else ""
    print(f"{args.name} ({channel.kind}): {result.status} by {result.provider}{shown}")
    if result.detail:
        print(result.detail)
    return 0
