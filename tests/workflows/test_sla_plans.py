"""SLA plans on a running ticket: chosen at opening, moved by ``update_attributes`` keeping the
business time already counted (policy ``plans``: 24x7, so elapsed time is exact)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from tests.workflows.conftest import Harness
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import (
    AcknowledgeRequest,
    ChangePriorityRequest,
    UpdateAttributesRequest,
)
from workflows.ticket_outcome import OUTCOME_MEMO, TicketOutcome

# Server time passes a little between a skip and the update that follows it.
JITTER = timedelta(seconds=5)


@pytest.mark.parametrize(
    ("tags", "attributes", "plan", "response", "resolution"),
    [
        ([], {"customer_tier": "gold"}, "gold", timedelta(minutes=15), timedelta(hours=2)),
        (["standard-sla"], {}, "standard", timedelta(minutes=30), timedelta(hours=4)),
        (["standard-sla"], {"customer_tier": "Gold"}, "gold", timedelta(minutes=15), None),
        (["vip"], {"customer_tier": "silver"}, "default", timedelta(hours=1), timedelta(hours=8)),
    ],
)
async def test_a_ticket_opens_on_the_plan_its_tags_and_attributes_choose(
    harness: Harness,
    tags: list[str],
    attributes: dict[str, str],
    plan: str,
    response: timedelta,
    resolution: timedelta | None,
) -> None:
    handle = await harness.open(policy="plans", tags=tags, attributes=attributes)
    status = await handle.query(TicketEscalation.status)
    assert status.plan == plan
    assert status.tags == tags
    assert status.attributes == attributes
    assert status.clocks["first_response"].target == response
    if resolution is not None:
        assert status.clocks["resolution"].target == resolution


async def test_update_attributes_moves_the_ticket_to_another_plan_keeping_elapsed_time(
    harness: Harness,
) -> None:
    handle = await harness.open(policy="plans")
    assert (await handle.query(TicketEscalation.status)).plan == "default"
    before = await harness.status_after(handle, timedelta(minutes=10))
    assert before.clocks["first_response"].target == timedelta(hours=1)

    moved = await handle.execute_update(
        TicketEscalation.update_attributes,
        UpdateAttributesRequest(attributes={"customer_tier": "gold"}),
    )
    assert moved.plan == "gold"
    response = moved.clocks["first_response"]
    assert response.target == timedelta(minutes=15)
    # The ten minutes counted on the default plan still count: 5 minutes are left.
    assert timedelta(minutes=10) <= response.elapsed <= timedelta(minutes=10) + JITTER
    assert moved.clocks["resolution"].target == timedelta(hours=2)
    assert moved.opened_at + timedelta(minutes=15) == response.due_at

    # Tags replace the tag set; removing the tier leaves the standard contract's tag to decide.
    moved = await handle.execute_update(
        TicketEscalation.update_attributes,
        UpdateAttributesRequest(tags=["standard-sla"], attributes={"customer_tier": None}),
    )
    assert (moved.plan, moved.tags, moved.attributes) == ("standard", ["standard-sla"], {})
    assert moved.clocks["first_response"].target == timedelta(minutes=30)

    # The plan's table follows priority changes too.
    moved = await handle.execute_update(
        TicketEscalation.change_priority, ChangePriorityRequest(priority="P2")
    )
    assert moved.clocks["first_response"].target == timedelta(hours=1)


async def test_a_plan_change_breaches_at_once_when_the_new_target_has_passed(
    harness: Harness,
) -> None:
    handle = await harness.open(policy="plans")
    await harness.status_after(handle, timedelta(minutes=20))
    moved = await handle.execute_update(
        TicketEscalation.update_attributes,
        UpdateAttributesRequest(attributes={"customer_tier": "gold"}),
    )
    assert moved.clocks["first_response"].breached
    status = await harness.status_after(handle, timedelta(seconds=1))
    assert [e.level for e in status.escalations] == ["response-breached"]


async def test_a_late_event_after_a_plan_change_measures_each_stretch_on_its_plan(
    harness: Harness,
) -> None:
    handle = await harness.open(policy="plans")
    await harness.status_after(handle, timedelta(minutes=10))
    await handle.execute_update(
        TicketEscalation.update_attributes,
        UpdateAttributesRequest(attributes={"customer_tier": "gold"}),
    )
    status = await harness.status_after(handle, timedelta(minutes=2))
    # An acknowledgement reported late, from before the plan change: the fold replays the
    # opening on the default plan, so the response took 5 minutes of a 1 hour target.
    acked = await handle.execute_update(
        TicketEscalation.acknowledge,
        AcknowledgeRequest(by="agent@example.com", at=status.opened_at + timedelta(minutes=5)),
    )
    response = acked.clocks["first_response"]
    assert response.elapsed == timedelta(minutes=5)
    assert not response.breached
    assert acked.plan == "gold"
    assert acked.clocks["resolution"].target == timedelta(hours=2)


async def test_update_attributes_refuses_bad_input_with_the_field(harness: Harness) -> None:
    handle = await harness.open(policy="plans")
    many = {f"a{i}": "x" for i in range(20)}
    await handle.execute_update(
        TicketEscalation.update_attributes, UpdateAttributesRequest(attributes=many)
    )
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(
            TicketEscalation.update_attributes,
            UpdateAttributesRequest(attributes={"one_more": "x"}),
        )
    assert "update_attributes.attributes: the ticket would hold 21 attributes" in str(
        caught.value.cause
    )
    # Replacing one keeps the count, so it is accepted.
    status = await handle.execute_update(
        TicketEscalation.update_attributes,
        UpdateAttributesRequest(attributes={"a0": None, "one_more": "x"}),
    )
    assert len(status.attributes) == 20


async def test_the_outcome_memo_names_the_plan_unless_it_is_the_default(harness: Harness) -> None:
    gold = await harness.open(policy="plans", attributes={"customer_tier": "gold"})
    plain = await harness.open(policy="plans")
    for handle, expected in ((gold, "gold"), (plain, None)):
        memo = await (await handle.describe()).memo()
        outcome = memo[OUTCOME_MEMO]
        assert isinstance(outcome, dict)
        # Left out for the default plan: tickets without plans write the memo they always did.
        assert outcome.get("plan") == expected
        assert TicketOutcome.model_validate(outcome | {"as_of": outcome["opened_at"]}).plan == (
            expected or "default"
        )
