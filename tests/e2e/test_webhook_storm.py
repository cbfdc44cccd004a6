"""A redelivery storm: every event of a ticket's life delivered three times, in shuffled order.

Helpdesks redeliver on timeouts and retry what failed, and nothing keeps their deliveries in
order. The helpdesk is played here as they behave: a delivery answered ``404`` (its ticket not
created yet) is retried after the others. The ticket must end as the same life delivered once
in order leaves it, and its history must hold each update once.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from tests.e2e.api_stack import ApiStack, life
from workflows.ticket_messages import workflow_id_for

pytestmark = pytest.mark.e2e

RETRY = {404, 503}
# Fields that differ between two tickets of one life: their ids, and the notices their levels
# sent as deliveries arrived (a later report never unsends a notice).
PER_TICKET = ("ticket_id", "escalations", "current_level", "channels", "held_notices")


async def deliver_all(
    stack: ApiStack, source: str, deliveries: list[tuple[bytes, dict[str, str]]]
) -> str:
    queue = list(deliveries)
    ticket_id = None
    for _ in range(len(deliveries) * 6):
        if not queue:
            break
        body, headers = queue.pop(0)
        reply = await stack.deliver(source, body, headers)
        if reply.status in RETRY:
            queue.append((body, headers))
            continue
        assert reply.status in (200, 202), reply.body
        ticket_id = str(reply.body["ticket_id"] or ticket_id)
    assert not queue, f"{len(queue)} deliveries never taken"
    assert ticket_id is not None
    return ticket_id


def comparable(status: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in status.items() if key not in PER_TICKET}


@pytest.mark.parametrize("source", ["zendesk", "jira", "freshdesk", "zammad", "github"])
async def test_a_storm_ends_as_one_delivery_in_order_does(
    api_stack: ApiStack, client: Client, source: str
) -> None:
    steps = [(body, headers) for body, headers, _ in life(source)]
    in_order = await deliver_all(api_stack, source, steps)
    calm = (await api_stack.call("GET", f"/v1/tickets/{in_order}")).body

    # Another helpdesk account with the same life: a second stack prefix.
    storm = ApiStack(
        api_stack.settings.temporal_address,
        api_stack.settings.task_queue,
        api_stack.settings.api_keys_file.parent / "storm",
    )
    try:
        deliveries = steps * 3
        random.Random(f"storm-{source}").shuffle(deliveries)
        stormed = await deliver_all(storm, source, deliveries)
        final = (await storm.call("GET", f"/v1/tickets/{stormed}")).body
    finally:
        storm.stop()
    assert comparable(final) == comparable(calm)

    accepted = await accepted_updates(client, stormed)
    assert accepted, "no update reached the ticket"
    assert max(accepted.values()) == 1, accepted.most_common(3)
    # The same reports applied as when delivered once in order (update ids are made of the
    # deliveries' ids, so they are the same for both tickets). A fact (priority, team,
    # impact) is applied where the ticket stands when it arrives: one arriving after the
    # ticket was solved is refused, which the equal statuses above show changed nothing.
    calm_updates = set(await accepted_updates(client, in_order))
    assert {u for u in calm_updates if is_report(u)} == {u for u in accepted if is_report(u)}
    assert set(accepted) <= calm_updates


def is_report(update_id: str) -> bool:
    """Whether the update is a ``report_event`` (see escalations.intake.translate)."""
    return update_id.rsplit(":", 1)[1].startswith(("status-", "comment-"))


async def accepted_updates(client: Client, ticket_id: str) -> Counter[str]:
    """How often the ticket's history accepted each update id."""
    handle = client.get_workflow_handle(workflow_id_for(ticket_id))
    return Counter(
        [
            event.workflow_execution_update_accepted_event_attributes.accepted_request.meta.update_id
            async for event in handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]
    )
