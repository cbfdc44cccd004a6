"""``escalations bench``: escalation lateness, throughput and cost against the bare-Temporal floor.

One run starts the stack (:mod:`escalations.bench.stack`: the embedded dev server or
``TEMPORAL_ADDRESS``, a fake SendGrid, the worker process). Then, for ``TicketEscalation`` and
for the floor (``BenchFloor``: sleep, one no-op activity) in turn:

- open: tickets opened per second through the client;
- spread: thresholds falling evenly over a window, ``--rate`` per second;
- storm: ``--storm`` thresholds at the same instant;
- cost: the fixed tickets of :mod:`escalations.bench.scenarios` on ``TicketEscalation`` and on
  ``BenchFloorTicket``, their histories counted by :mod:`escalations.bench.cost`.

Lateness is read from each workflow's history: the notification activity's start time minus
the instant its threshold fell due. Tickets get their threshold at a chosen instant by opening
them with ``opened_at`` one target before it. The bench waits until every threshold has fired
or :func:`fire_deadline` has passed since the last one fell due, then reports how many never
fired and how late the last one fired.
"""

from __future__ import annotations

import asyncio
import functools
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle

from escalations.bench.floor import FLOOR_ACTIVITY, FLOOR_WORKFLOW, FloorInput
from escalations.bench.report import BenchResult, CostSide, Lateness, Scenario, Side, TicketCost
from escalations.bench.scenarios import (
    LADDER_POLICY,
    LADDER_POLICY_NAME,
    SCENARIOS,
    CostScenario,
    FloorTicket,
    OurTicket,
    RealClock,
    run_scenario,
)
from escalations.bench.stack import Stack, cpu_seconds, rss_mb, start_stack
from workflows.ticket_messages import TicketInput, workflow_id_for

TARGET = timedelta(hours=1)
BENCH_POLICY = f"""
name: bench
version: 1
description: One level at the first-response target, for escalations bench.
targets:
  P1: {{first_response: {int(TARGET.total_seconds())}s, resolution: 30d}}
contacts:
  team_lead: [lead@example.com]
levels:
  - name: due
    when: {{clock: first_response, at: 100%}}
    notify: [team_lead]
"""
NOTIFY_ACTIVITY = "send_notification"
IN_FLIGHT = 32  # concurrent client calls: enough to keep the server busy, below its limits
# How long after the last threshold fell due the bench waits for every one to fire: a minute,
# plus a tenth of a second per threshold (a storm of 1,000 gets 160 s, a spread of 10,000 about
# 17 minutes); enough for a worker that keeps up at a tenth of the floor's pace.
FIRE_GRACE = timedelta(seconds=60)
FIRE_GRACE_PER_THRESHOLD = timedelta(seconds=0.1)
FIRED_POLL = 1.0  # seconds between cheap counts of the thresholds that fired


@dataclass(frozen=True)
class BenchConfig:
    """What to run. ``quick`` sizes suit CI; the defaults are the full run."""

    tickets: int = 10_000
    rate: float = 30.0
    storm: int = 1_000
    opens: int = 2_000
    sleeping: int = 4_000
    db: str = "file"  # "file" (WAL) or "memory"
    address: str | None = None

    @classmethod
    def quick(cls, db: str = "memory", address: str | None = None) -> BenchConfig:
        """A run of a minute or two that still exercises every scenario."""
        return cls(tickets=120, rate=30.0, storm=60, opens=60, sleeping=200, db=db, address=address)


# -- opening -----------------------------------------------------------------------------------


async def _bounded(calls: Iterable[Callable[[], Awaitable[object]]]) -> None:
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(call: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


def _ticket(ticket_id: str, due: datetime, policy: str = "bench") -> TicketInput:
    return TicketInput(
        ticket_id=ticket_id,
        title="bench",
        priority="P1",
        team="bench",
        customer="Bench",
        requester="bench@example.com",
        policy=policy,
        opened_at=due - TARGET if policy == "bench" else None,
    )


async def _open_ours(stack: Stack, ids: list[str], dues: list[datetime]) -> float:
    tickets = [_ticket(i, d) for i, d in zip(ids, dues, strict=True)]

    async def open_one(ticket: TicketInput) -> None:
        await stack.tickets.open(ticket, wait=False)

    start = time.perf_counter()
    await _bounded(functools.partial(open_one, t) for t in tickets)
    return len(ids) / (time.perf_counter() - start)


async def _open_floor(stack: Stack, ids: list[str], dues: list[datetime]) -> float:
    async def start_one(workflow_id: str, due: datetime) -> None:
        await stack.client.start_workflow(
            FLOOR_WORKFLOW, FloorInput(due_at=due), id=workflow_id, task_queue=stack.floor_queue
        )

    start = time.perf_counter()
    await _bounded(functools.partial(start_one, i, d) for i, d in zip(ids, dues, strict=True))
    return len(ids) / (time.perf_counter() - start)


# -- measuring ---------------------------------------------------------------------------------


async def _activity_start(
    handle: WorkflowHandle[object, object], activity_type: str
) -> datetime | None:
    """When the first activity of ``activity_type`` started, from the history."""
    scheduled: set[int] = set()
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            if event.activity_task_scheduled_event_attributes.activity_type.name == activity_type:
                scheduled.add(event.event_id)
        elif (
            event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
            and event.activity_task_started_event_attributes.scheduled_event_id in scheduled
        ):
            return event.event_time.ToDatetime(tzinfo=UTC)
    return None


def fire_deadline(last_due: datetime, count: int) -> datetime:
    """When the bench stops waiting for ``count`` thresholds, the last due at ``last_due``."""
    return last_due + FIRE_GRACE + FIRE_GRACE_PER_THRESHOLD * count


async def _read_lateness(
    stack: Stack, pending: dict[str, datetime], activity_type: str
) -> dict[str, float]:
    """Lateness in seconds of the workflows in ``pending`` (id to due) whose activity started."""
    found: dict[str, float] = {}
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(workflow_id: str, due: datetime) -> None:
        async with gate:
            started = await _activity_start(
                stack.client.get_workflow_handle(workflow_id), activity_type
            )
        if started is not None:
            found[workflow_id] = (started - due).total_seconds()

    await asyncio.gather(*(one(i, d) for i, d in pending.items()))
    return found


async def _until_all_fired(
    dues: dict[str, datetime],
    fired: Callable[[], Awaitable[int]],
    read: Callable[[dict[str, datetime]], Awaitable[dict[str, float]]],
) -> Lateness:
    """Wait until every threshold of ``dues`` (workflow id to due) fired, or the deadline.

    ``fired`` counts the thresholds that fired so far without reading a history (the fake
    SendGrid's requests, or visibility's count of completed floors); histories are read only
    once it says all have, and after that only those not yet seen to have fired.
    """
    deadline = fire_deadline(max(dues.values()), len(dues))
    await asyncio.sleep(max((max(dues.values()) - datetime.now(UTC)).total_seconds(), 0))
    while datetime.now(UTC) < deadline:
        if await fired() >= len(dues):
            break
        await asyncio.sleep(FIRED_POLL)
    found: dict[str, float] = {}
    pending = dict(dues)
    while True:
        found.update(await read(pending))
        pending = {i: d for i, d in pending.items() if i not in found}
        if not pending or datetime.now(UTC) >= deadline:
            break
        await asyncio.sleep(FIRED_POLL)
    return Lateness.of(list(found.values()), len(dues))


async def _fired_counter(stack: Stack, side: str) -> Callable[[], Awaitable[int]]:
    """How many of this side's thresholds fired since now, counted cheaply."""
    if side == "ours":
        before = len(stack.sendgrid.requests)

        async def sent() -> int:
            return len(stack.sendgrid.requests) - before

        return sent
    query = f"WorkflowType = '{FLOOR_WORKFLOW}' AND ExecutionStatus = 'Completed'"
    done_before = (await stack.client.count_workflows(query)).count

    async def completed() -> int:
        return (await stack.client.count_workflows(query)).count - done_before

    return completed


async def _scenario(
    stack: Stack,
    name: str,
    description: str,
    dues_for: Callable[[datetime], list[datetime]],
    count: int,
) -> Scenario:
    sides: dict[str, Side] = {}
    for side in ("ours", "floor"):
        run = uuid.uuid4().hex[:6]
        ids = [
            workflow_id_for(f"B-{name}-{run}-{i}") if side == "ours" else f"floor-{name}-{run}-{i}"
            for i in range(count)
        ]
        ticket_ids = [f"B-{name}-{run}-{i}" for i in range(count)]
        # Opening at ~40/s must finish before the first threshold falls due.
        start = datetime.now(UTC) + timedelta(seconds=3 + count / 40)
        dues = dues_for(start)
        fired = await _fired_counter(stack, side)
        activity = NOTIFY_ACTIVITY if side == "ours" else FLOOR_ACTIVITY
        cpu_worker, cpu_server = cpu_seconds(stack.worker.pid), cpu_seconds(stack.server_pid)
        if side == "ours":
            await _open_ours(stack, ticket_ids, dues)
        else:
            await _open_floor(stack, ids, dues)
        lateness = await _until_all_fired(
            dict(zip(ids, dues, strict=True)),
            fired,
            functools.partial(_read_lateness, stack, activity_type=activity),
        )
        sides[side] = Side(
            lateness=lateness,
            per_second=_fired_per_second(lateness, dues),
            worker_cpu_seconds=_delta(cpu_seconds(stack.worker.pid), cpu_worker),
            server_cpu_seconds=_delta(cpu_seconds(stack.server_pid), cpu_server),
        )
    return Scenario(name, description, sides["ours"], sides["floor"])


def _fired_per_second(lateness: Lateness, dues: list[datetime]) -> float | None:
    span = (max(dues) - min(dues)).total_seconds() + (lateness.max if lateness.count else 0)
    return lateness.count / span if span > 0 else None


def _delta(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


async def _open_scenario(stack: Stack, count: int) -> Scenario:
    """Tickets opened per second; they stay open, sleeping a day (the memory check needs them)."""
    rates: dict[str, Side] = {}
    far = datetime.now(UTC) + timedelta(days=1)
    for side in ("ours", "floor"):
        run = uuid.uuid4().hex[:6]
        cpu_worker, cpu_server = cpu_seconds(stack.worker.pid), cpu_seconds(stack.server_pid)
        if side == "ours":
            ids = [f"B-open-{run}-{i}" for i in range(count)]
            rate = await _open_ours(stack, ids, [far] * count)
        else:
            ids = [f"floor-open-{run}-{i}" for i in range(count)]
            rate = await _open_floor(stack, ids, [far] * count)
        rates[side] = Side(
            per_second=rate,
            worker_cpu_seconds=_delta(cpu_seconds(stack.worker.pid), cpu_worker),
            server_cpu_seconds=_delta(cpu_seconds(stack.server_pid), cpu_server),
        )
    return Scenario("open", f"{count} opened through the client", rates["ours"], rates["floor"])


async def _sleeping_memory(stack: Stack, total: int, batches: int = 4) -> dict[str, float]:
    """Worker RSS (MB) with 0, total/4, ... total tickets sleeping, read with the worker idle."""
    far = datetime.now(UTC) + timedelta(days=2)
    run = uuid.uuid4().hex[:6]
    rss: dict[str, float] = {}
    opened = 0
    for batch in range(batches + 1):
        if batch:
            size = total // batches
            ids = [f"B-sleep-{run}-{opened + i}" for i in range(size)]
            await _open_ours(stack, ids, [far] * size)
            opened += size
        await asyncio.sleep(5)  # let the opening tasks finish: measure what sleeping costs
        rss[f"{opened} sleeping"] = rss_mb(stack.worker.pid) or float("nan")
    return rss


async def _cost(stack: Stack, scenario: CostScenario) -> TicketCost:
    """One fixed ticket on ``TicketEscalation`` and on the floor, at the same time."""
    ours, floor = await asyncio.gather(
        run_scenario(scenario, OurTicket(stack.tickets), RealClock(), stack.client),
        run_scenario(
            scenario, FloorTicket(stack.client, stack.floor_queue), RealClock(), stack.client
        ),
    )
    return TicketCost(scenario.name, scenario.description, CostSide.of(ours), CostSide.of(floor))


async def run_bench(config: BenchConfig, progress: Callable[[str], None] = print) -> BenchResult:
    """Run every scenario and return the figures."""
    result = BenchResult(config=vars(config).copy())
    with tempfile.TemporaryDirectory(prefix="escalations-bench-") as tmp:
        policies = {"bench": BENCH_POLICY, LADDER_POLICY_NAME: LADDER_POLICY}
        async with start_stack(Path(tmp), policies, db=config.db, address=config.address) as stack:
            pid = stack.worker.pid
            progress(f"memory: {config.sleeping} sleeping tickets, opened in four batches")
            result.worker_rss_mb.update(await _sleeping_memory(stack, config.sleeping))
            progress(f"open: {config.opens} tickets and {config.opens} floor workflows")
            result.scenarios.append(await _open_scenario(stack, config.opens))
            n, rate = config.tickets, config.rate
            progress(f"spread: {n} thresholds at {rate:g}/s, each side")
            result.scenarios.append(
                await _scenario(
                    stack,
                    "spread",
                    f"{n} thresholds evenly over {n / rate:.0f}s",
                    lambda start: [start + timedelta(seconds=i / rate) for i in range(n)],
                    n,
                )
            )
            result.worker_rss_mb["after the spread"] = rss_mb(pid) or float("nan")
            progress(f"storm: {config.storm} thresholds at one instant, each side")
            result.scenarios.append(
                await _scenario(
                    stack,
                    "storm",
                    f"{config.storm} thresholds at the same instant",
                    lambda start: [start] * config.storm,
                    config.storm,
                )
            )
            progress(f"cost: {', '.join(s.name for s in SCENARIOS)}, each side, at once")
            result.costs += await asyncio.gather(*(_cost(stack, s) for s in SCENARIOS))
            result.worker_peak_rss_mb = rss_mb(pid, "VmHWM")
    return result
