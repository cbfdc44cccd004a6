"""A ticket's cost in each fixed scenario stays within the committed budget (counts, never times).

The scenarios run on the time-skipping server with the production worker; see
``tests/cost/budget.py`` for what the budget holds and how to raise it with a reason.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from escalations.bench.cost import HistoryCost
from escalations.bench.scenarios import SCENARIOS
from tests.cost.budget import HOW_TO_RAISE, figures, load, problems, rewritten
from tests.cost.measure import measure


async def test_each_scenario_costs_what_the_budget_says(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    measured = await measure(time_skipping_env, floor=False)
    found = problems(load(), {name: m.ours for name, m in measured.items()})
    assert not found, "\n".join(["cost budget:", *found, HOW_TO_RAISE])


def test_every_scenario_has_a_budget_with_a_reason() -> None:
    budget = load()
    assert set(budget) == {scenario.name for scenario in SCENARIOS}
    for name, entry in budget.items():
        assert entry["reason"].strip(), f"{name}: the budget's last change gives no reason"


def _cost() -> HistoryCost:
    return HistoryCost(
        events={"TimerStarted": 2, "WorkflowExecutionStarted": 1},
        commands={"StartTimer": 2},
        workflow_tasks=2,
        attribute_bytes=1000,
        payload_bytes={"WorkflowExecutionStarted": 500},
        actions={"timer started": 2, "workflow started": 1},
    )


def _budget(**changes: Any) -> dict[str, Any]:
    entry = {"reason": "measured", **figures(_cost()), **changes}
    return {"s": entry}


def test_a_cost_equal_to_the_budget_passes() -> None:
    assert problems(_budget(), {"s": _cost()}) == []


@pytest.mark.parametrize(
    ("figure", "ceiling"),
    [
        ("history_events", 2),
        ("workflow_tasks", 1),
        ("billable_actions", 2),
        ("attribute_bytes", 999),
        ("payload_bytes", 499),
    ],
)
def test_a_figure_over_its_ceiling_fails_naming_it(figure: str, ceiling: int) -> None:
    found = problems(_budget(**{figure: ceiling}), {"s": _cost()})
    assert any(f"s: {figure} measured" in line and "over budget" in line for line in found)


def test_a_new_kind_of_command_is_over_a_budget_of_zero() -> None:
    cost = _cost()
    cost.commands["CancelTimer"] = 1
    found = problems(_budget(), {"s": cost})
    assert found == ["s: commands 'CancelTimer' measured 1, budget 0: over budget"]


@pytest.mark.parametrize("figure", ["history_events", "billable_actions"])
def test_events_or_actions_below_the_ceiling_say_the_budget_is_stale(figure: str) -> None:
    found = problems(_budget(**{figure: 10}), {"s": _cost()})
    assert len(found) == 1
    assert "stale" in found[0]


def test_bytes_may_sit_below_the_ceiling_by_a_tenth() -> None:
    assert problems(_budget(payload_bytes=550), {"s": _cost()}) == []
    assert "stale" in problems(_budget(payload_bytes=560), {"s": _cost()})[0]


def test_a_missing_or_unmeasured_scenario_fails() -> None:
    assert problems({}, {"s": _cost()}) == ["s: measured but has no budget"]
    assert problems(_budget(), {})[0].startswith("s: in the budget file but not measured")


def test_rewriting_keeps_the_reason_of_unchanged_scenarios() -> None:
    budget = rewritten({}, {"s": _cost()}, "first")
    assert budget["s"]["reason"] == "first"
    assert budget["s"]["payload_bytes"] >= 500
    assert rewritten(budget, {"s": _cost()}, "second")["s"]["reason"] == "first"
    dearer = copy.deepcopy(_cost())
    dearer.events["TimerStarted"] = 3
    assert rewritten(budget, {"s": dearer}, "a third timer")["s"]["reason"] == "a third timer"
    assert problems(rewritten(budget, {"s": dearer}, "x"), {"s": dearer}) == []
