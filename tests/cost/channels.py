"""What a channel adds to a ticket's cost: the budget's scenarios measured twice, under the
ladder policy as it is (email only) and with a Slack channel beside every level's address.

A channel notice is an activity of its own (scheduled, started, completed, and the workflow
task its result wakes), and each state change after a notice reached the channel tells it
(one more activity). ``tests/cost/test_channel_cost.py`` holds the difference to exactly that;
run this module to print the figures::

    python -m tests.cost.channels
"""

from __future__ import annotations

import asyncio

from escalations.bench.cost import HistoryCost
from escalations.bench.scenarios import LADDER_POLICY
from tests.cost.measure import measure
from tests.server_setup import start_time_skipping

WITH_SLACK = (
    LADDER_POLICY.replace(
        "contacts:\n",
        'channels:\n  chat: {slack: {channel: "#cost"}}\ncontacts:\n',
    )
    .replace("[lead@example.com]", "[lead@example.com, chat]")
    .replace("[manager@example.com]", "[manager@example.com, chat]")
)
"""The ladder policy with every level's role also reaching a Slack channel (no token: the
outbox answers in its place, with the same activities and results)."""


def figures(cost: HistoryCost) -> dict[str, int]:
    """The figures compared: events, workflow tasks, billable actions, payload bytes."""
    return {
        "history_events": cost.total_events,
        "workflow_tasks": cost.workflow_tasks,
        "billable_actions": cost.total_actions,
        "activities": cost.events.get("ActivityTaskScheduled", 0),
        "payload_bytes": cost.total_payload_bytes,
    }


async def measure_both() -> dict[str, tuple[HistoryCost, HistoryCost]]:
    """Per scenario: (email only, with the Slack channel)."""
    env = await start_time_skipping()
    try:
        plain = await measure(env, floor=False)
        slack = await measure(env, floor=False, policy=WITH_SLACK)
    finally:
        await env.shutdown()
    return {name: (plain[name].ours, slack[name].ours) for name in plain}


def main() -> None:
    """Print each scenario's figures both ways and the difference."""
    for name, (plain, slack) in asyncio.run(measure_both()).items():
        print(f"{name}:")
        before, after = figures(plain), figures(slack)
        for figure, value in before.items():
            print(f"  {figure:<18} {value:>8} -> {after[figure]:>8}  (+{after[figure] - value})")


if __name__ == "__main__":
    main()
