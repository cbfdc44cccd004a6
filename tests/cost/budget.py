"""The cost budget: what a ticket may spend in each fixed scenario, and how to raise it.

``budget.json`` holds, per scenario of :mod:`escalations.bench.scenarios`, the ceilings of the
figures counted from the ticket's history (:mod:`escalations.bench.cost`) and the reason for
its last change. ``tests/cost/test_budget.py`` measures the scenarios and fails when a figure
exceeds its ceiling. It also fails when history events or billable actions fall below their
ceilings, or bytes fall more than :data:`BYTES_SLACK` below theirs: the file then says more
than a ticket costs, and should be lowered so it keeps saying what a ticket costs now.

To change the budget, measure and rewrite it in the commit that changes the cost::

    python -m tests.cost.budget --write "why the ticket now spends this"

Without ``--write`` the command prints the figures, ours beside the floor's, and what the
check would say. Counts are written as measured; bytes with :data:`BYTES_HEADROOM` on top,
because timestamps in payloads vary their length by a few bytes from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
from pathlib import Path
from typing import Any

from escalations.bench.cost import HistoryCost

BUDGET_FILE = Path(__file__).with_name("budget.json")
BYTES_HEADROOM = 0.02
BYTES_SLACK = 0.10
HOW_TO_RAISE = (
    "If the ticket should spend this, raise the budget in the same commit, with the reason: "
    'python -m tests.cost.budget --write "<reason>" (or edit tests/cost/budget.json by hand)'
)
COUNTS = ("history_events", "workflow_tasks", "billable_actions")
BYTES = ("attribute_bytes", "payload_bytes")
EXACT = ("history_events", "billable_actions")
"""Counts that fail when below their ceiling too: the file must say what a ticket costs now."""


def figures(cost: HistoryCost) -> dict[str, Any]:
    """The budgeted figures of one measured ticket."""
    return {
        "history_events": cost.total_events,
        "workflow_tasks": cost.workflow_tasks,
        "billable_actions": cost.total_actions,
        "attribute_bytes": cost.attribute_bytes,
        "payload_bytes": cost.total_payload_bytes,
        "commands": dict(cost.commands),
    }


def problems(budget: dict[str, Any], measured: dict[str, HistoryCost]) -> list[str]:
    """Every way ``measured`` breaks ``budget`` (as loaded from ``budget.json``), one line each."""
    found: list[str] = []
    for scenario in sorted(set(budget) | set(measured)):
        if scenario not in measured:
            found.append(f"{scenario}: in the budget file but not measured (a stale scenario)")
            continue
        if scenario not in budget:
            found.append(f"{scenario}: measured but has no budget")
            continue
        found += _scenario_problems(scenario, budget[scenario], figures(measured[scenario]))
    return found


def _scenario_problems(scenario: str, ceilings: dict[str, Any], got: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def over(figure: str, value: int, ceiling: int) -> None:
        if value > ceiling:
            found.append(f"{scenario}: {figure} measured {value}, budget {ceiling}: over budget")

    for figure in (*COUNTS, *BYTES):
        ceiling = int(ceilings.get(figure, 0))
        value = int(got[figure])
        over(figure, value, ceiling)
        if figure in EXACT and value < ceiling:
            found.append(
                f"{scenario}: {figure} measured {value}, budget {ceiling}: the budget is stale, "
                "lower it"
            )
        if figure in BYTES and value < ceiling * (1 - BYTES_SLACK):
            found.append(
                f"{scenario}: {figure} measured {value}, budget {ceiling}: more than "
                f"{BYTES_SLACK:.0%} below, the budget is stale, lower it"
            )
    commands: dict[str, int] = ceilings.get("commands", {})
    for kind, value in sorted(got["commands"].items()):
        over(f"commands {kind!r}", value, int(commands.get(kind, 0)))
    return found


def load(path: Path = BUDGET_FILE) -> dict[str, Any]:
    """The budget file's scenarios."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def rewritten(
    budget: dict[str, Any], measured: dict[str, HistoryCost], reason: str
) -> dict[str, Any]:
    """A budget holding ``measured``, with ``reason`` on each scenario whose figures changed."""
    result: dict[str, Any] = {}
    for scenario, cost in measured.items():
        entry = figures(cost)
        for figure in BYTES:
            entry[figure] = math.ceil(entry[figure] * (1 + BYTES_HEADROOM))
        old = budget.get(scenario, {})
        unchanged = {k: v for k, v in old.items() if k != "reason"} == entry
        result[scenario] = {"reason": old["reason"] if unchanged else reason, **entry}
    return result


def render(measured: dict[str, tuple[HistoryCost, HistoryCost]]) -> str:
    """Each scenario's figures, ours beside the floor's."""
    lines = []
    for scenario, (ours, floor) in measured.items():
        lines.append(f"{scenario}:  ours / floor")
        mine, theirs = figures(ours), figures(floor)
        for figure in (*COUNTS, *BYTES):
            lines.append(f"  {figure:<58} {mine[figure]:>7} / {theirs[figure]}")
        for kind in sorted(set(mine["commands"]) | set(theirs["commands"])):
            a, b = mine["commands"].get(kind, 0), theirs["commands"].get(kind, 0)
            lines.append(f"  command {kind:<50} {a:>7} / {b}")
        for rule in sorted(set(ours.actions) | set(floor.actions)):
            a, b = ours.actions.get(rule, 0), floor.actions.get(rule, 0)
            lines.append(f"  action {rule:<51} {a:>7} / {b}")
    return "\n".join(lines)


async def _measure() -> dict[str, tuple[HistoryCost, HistoryCost]]:
    from tests.cost.measure import measure
    from tests.server_setup import start_time_skipping

    env = await start_time_skipping()
    try:
        measured = await measure(env)
    finally:
        await env.shutdown()
    return {name: (m.ours, m.floor) for name, m in measured.items()}


def main() -> None:
    """Command line: ``python -m tests.cost.budget [--write REASON]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="REASON", help="rewrite budget.json from a measurement")
    args = parser.parse_args()
    measured = asyncio.run(_measure())
    print(render(measured))
    ours = {name: pair[0] for name, pair in measured.items()}
    budget = load() if BUDGET_FILE.exists() else {}
    if args.write:
        BUDGET_FILE.write_text(json.dumps(rewritten(budget, ours, args.write), indent=2) + "\n")
        print(f"wrote {BUDGET_FILE}")
    else:
        print("\n".join(problems(budget, ours)) or "within budget")
    # The SDK's runtime can abort the interpreter at exit while its threads still hold
    # references; collecting them first avoids that (the same workaround as the CLI's).
    gc.collect()


if __name__ == "__main__":
    main()
