"""A ticket driven by a helpdesk's webhooks costs what the same ticket driven by the client does.

The intake opens a ticket with its delivery id in the memo (so a redelivered creation opens
nothing) and sends each event of its life as a ``report_event`` update where the client sends
``acknowledge``, ``pause``, ``resume`` and ``resolve``. The budget's scenarios run both ways:
history events, workflow tasks and billable actions must be equal; payload bytes may grow by
the memo and the reports' own fields only.
"""

from __future__ import annotations

from datetime import datetime

from temporalio.testing import WorkflowEnvironment

from escalations.bench.scenarios import LADDER_POLICY_NAME, OurTicket, settle
from escalations.client.tickets import TicketClient
from tests.cost.channels import figures
from tests.cost.measure import measure
from workflows.ticket_messages import ReportEventRequest, TicketInput
from workflows.ticket_timeline import HelpdeskEvent

# The memo (``open_request`` and a delivery id) and, per report, its event, time and source
# beside what the plain update carried.
MAX_ADDED_PAYLOAD_BYTES = 600


class HelpdeskTicket(OurTicket):
    """The same ticket as a helpdesk's webhooks drive it through the intake."""

    def __init__(self, tickets: TicketClient, env: WorkflowEnvironment) -> None:
        super().__init__(tickets)
        self._env = env
        self._reports = 0

    async def open(self) -> None:
        ticket = TicketInput(
            ticket_id=self._id,
            title="Checkout down",
            priority="P1",
            team="payments",
            customer="Acme",
            requester="buyer@acme.example",
            policy=LADDER_POLICY_NAME,
        )
        await self._tickets.open_once(
            ticket, "zendesk:sha256-0123456789abcdef0123456789abcdef01234567:open"
        )
        await settle(self.handle, 0)

    async def _report(self, event: HelpdeskEvent) -> None:
        self._reports += 1
        at: datetime = await self._env.get_current_time()
        request = ReportEventRequest(event=event, at=at, by="agent", source="zendesk")
        await self._tickets.apply(
            self._id, "report_event", request, update_id=f"zendesk:d-{self._reports}:status"
        )

    async def acknowledge(self) -> None:
        await self._report("agent_replied")

    async def resolve(self) -> None:
        await self._report("solved")

    async def pause(self) -> None:
        await self._report("waiting")

    async def resume(self) -> None:
        await self._report("active")


async def test_a_webhook_driven_ticket_costs_what_a_client_driven_one_does(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    plain = await measure(time_skipping_env, floor=False)
    helpdesk = await measure(
        time_skipping_env,
        floor=False,
        ticket=lambda tickets: HelpdeskTicket(tickets, time_skipping_env),
    )
    for name in plain:
        before, after = figures(plain[name].ours), figures(helpdesk[name].ours)
        added = after.pop("payload_bytes") - before.pop("payload_bytes")
        assert after == before, (name, before, after)
        assert 0 < added <= MAX_ADDED_PAYLOAD_BYTES, (name, added)
