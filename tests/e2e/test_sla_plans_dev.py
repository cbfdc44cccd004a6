"""SLA plans on the dev server, as a service meets them over HTTP: the shipped ``tiered`` policy
gives each ticket its plan's targets, publishes the plan as the ``SlaPlan`` search attribute, and
``update_attributes`` moves a ticket to another plan."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import Client

from tests.e2e.api_stack import ApiStack
from tests.e2e.helpers import wait_until
from workflows import search_attributes as sa

pytestmark = pytest.mark.e2e


def ticket(ticket_id: str, **changes: object) -> dict[str, object]:
    return {
        "ticket_id": ticket_id,
        "title": "Checkout down",
        "priority": "P1",
        "team": "payments",
        "customer": "Acme",
        "requester": "buyer@acme.example",
        "policy": "tiered",
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "plan", "response"),
    [
        ({"attributes": {"customer_tier": "gold"}}, "gold", "PT15M"),
        ({"tags": ["standard-sla"]}, "standard", "PT30M"),
        ({"tags": ["vip"], "attributes": {"customer_tier": "silver"}}, "default", "PT1H"),
    ],
)
async def test_each_ticket_gets_its_plans_targets_and_search_attribute(
    api_stack: ApiStack, client: Client, changes: dict[str, object], plan: str, response: str
) -> None:
    ticket_id = f"PLAN-{uuid.uuid4().hex[:8]}"
    opened = await api_stack.call("POST", "/v1/tickets", ticket(ticket_id, **changes))
    assert opened.status == 201, opened.body
    assert opened.body["plan"] == plan
    assert opened.body["clocks"]["first_response"]["target"] == response

    query = f'TicketId = "{ticket_id}" AND SlaPlan = "{plan}"'

    async def listed() -> bool | None:
        return bool([execution async for execution in client.list_workflows(query)]) or None

    await wait_until(listed, within=15, what=f"visibility to list {query}", interval=0.5)


async def test_update_attributes_over_http_moves_the_ticket(
    api_stack: ApiStack, client: Client
) -> None:
    ticket_id = f"PLAN-{uuid.uuid4().hex[:8]}"
    assert (await api_stack.call("POST", "/v1/tickets", ticket(ticket_id))).status == 201
    path = f"/v1/tickets/{ticket_id}/update_attributes"
    moved = await api_stack.call("POST", path, {"attributes": {"customer_tier": "platinum"}})
    assert moved.status == 200, moved.body
    assert (moved.body["plan"], moved.body["attributes"]) == ("gold", {"customer_tier": "platinum"})
    assert moved.body["clocks"]["first_response"]["target"] == "PT15M"

    query = f'TicketId = "{ticket_id}" AND SlaPlan = "gold"'

    async def listed() -> bool | None:
        found = [execution async for execution in client.list_workflows(query)]
        return (found and found[0].typed_search_attributes.get(sa.SLA_PLAN) == "gold") or None

    await wait_until(listed, within=15, what=f"visibility to list {query}", interval=0.5)

    empty = await api_stack.call("POST", path, {"attributes": {}})
    assert empty.status == 422
    assert "give tags, attributes or both" in str(empty.body)
    bad = await api_stack.call("POST", path, {"attributes": {"Customer Tier": "gold"}})
    assert bad.status == 422
    assert bad.body["error"]["fields"][0]["field"].startswith("body.attributes")
    bad = await api_stack.call("POST", path, {"tags": ["two words"]})
    assert bad.status == 422
    assert bad.body["error"]["fields"][0]["field"] == "body.tags.0"
