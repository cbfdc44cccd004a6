"""Run the cost scenarios on the time-skipping server with the production worker.

The worker is built by :func:`escalations.runtime.worker.build_worker` from settings that point
at a policy directory holding only the ladder policy and at a loopback fake SendGrid, so every
notice goes through the real ``send_notification`` activity and the delivery ledger. The floor
(:class:`escalations.bench.floor.BenchFloorTicket`) runs beside it on a queue of its own.
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from escalations.bench.cost import HistoryCost
from escalations.bench.floor import BenchFloorTicket, bench_noop
from escalations.bench.scenarios import (
    LADDER_POLICY,
    LADDER_POLICY_NAME,
    SCENARIOS,
    FloorTicket,
    OurTicket,
    run_scenario,
)
from escalations.client.tickets import TicketClient
from escalations.runtime import worker
from escalations.runtime.config import load_settings
from escalations.testing.fake_sendgrid import FakeSendGrid


class SkippingClock:
    """The time-skipping server's clock: :meth:`until` skips to the instant, never waits."""

    def __init__(self, env: WorkflowEnvironment) -> None:
        self._env = env
        self._start: datetime | None = None

    async def start(self) -> None:
        """Mark the instant the ticket opened."""
        self._start = await self._env.get_current_time()

    async def until(self, offset: timedelta) -> None:
        """Skip the server's time to ``offset`` after :meth:`start`."""
        assert self._start is not None, "start() first"
        wait = self._start + offset - await self._env.get_current_time()
        if wait > timedelta(0):
            await self._env.sleep(wait)


@dataclass
class Measured:
    """One scenario's cost on both sides."""

    ours: HistoryCost
    floor: HistoryCost


@contextlib.asynccontextmanager
async def _workers(
    env: WorkflowEnvironment, policy: str = LADDER_POLICY
) -> AsyncIterator[tuple[TicketClient, str]]:
    run = uuid.uuid4().hex[:8]
    with (
        tempfile.TemporaryDirectory(prefix="escalations-cost-") as tmp,
        FakeSendGrid(keep_bodies=False) as sendgrid,
        ThreadPoolExecutor(max_workers=worker.ACTIVITY_THREADS) as executor,
    ):
        policies = Path(tmp) / "policies"
        policies.mkdir()
        (policies / f"{LADDER_POLICY_NAME}.yaml").write_text(policy)
        settings = load_settings(
            {
                "ESCALATIONS_TASK_QUEUE": f"cost-{run}",
                "ESCALATIONS_POLICY_DIR": str(policies),
                "SENDGRID_API_KEY": "SG.cost",
                "SENDGRID_HOST": sendgrid.url,
                "ESCALATIONS_DELIVERY_LEDGER": str(Path(tmp) / "deliveries.sqlite3"),
                "ESCALATIONS_OUTBOX": str(Path(tmp) / "outbox"),
            }
        )
        floor_queue = f"cost-floor-{run}"
        tickets = worker.build_worker(env.client, settings, executor)
        floor = Worker(
            env.client,
            task_queue=floor_queue,
            workflows=[BenchFloorTicket],
            activities=[bench_noop],
            activity_executor=executor,
            **worker.worker_tuning(settings),
        )
        async with tickets, floor:
            yield TicketClient(env.client, settings.task_queue), floor_queue


async def measure(
    env: WorkflowEnvironment,
    floor: bool = True,
    policy: str = LADDER_POLICY,
    ticket: Callable[[TicketClient], OurTicket] = OurTicket,
) -> dict[str, Measured]:
    """Every scenario's cost, ours and (unless ``floor`` is False) the floor's.

    ``policy`` replaces the ladder policy's text (same name and levels), and ``ticket`` the
    way the ticket is opened and updated, to price a variant.
    """
    measured: dict[str, Measured] = {}
    async with _workers(env, policy) as (tickets, floor_queue):
        for scenario in SCENARIOS:
            ours = await run_scenario(scenario, ticket(tickets), SkippingClock(env), env.client)
            floor_cost = HistoryCost()
            if floor:
                floor_ticket = FloorTicket(env.client, floor_queue)
                floor_cost = await run_scenario(
                    scenario, floor_ticket, SkippingClock(env), env.client
                )
            measured[scenario.name] = Measured(ours, floor_cost)
    return measured
