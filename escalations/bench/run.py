"""``escalations bench``: escalation lateness and throughput against the bare-Temporal floor.

One run starts the embedded dev server (in memory or on a WAL file database, or uses
``TEMPORAL_ADDRESS``), a loopback fake SendGrid that answers at once, and a worker process
(``escalations.bench.worker``: the production worker plus the floor's). Then, for
``TicketEscalation`` and for the floor (``BenchFloor``: sleep, one no-op activity) in turn:

- open: tickets opened per second through the client;
- spread: thresholds falling evenly over a window, ``--rate`` per second;
- storm: ``--storm`` thresholds at the same instant.

Lateness is read from each workflow's history: the notification activity's start time minus
the instant its threshold fell due. Tickets get their threshold at a chosen instant by opening
them with ``opened_at`` one target before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from escalations import dev
from escalations.bench.floor import FLOOR_ACTIVITY, FLOOR_WORKFLOW, FloorInput
from escalations.bench.report import BenchResult, Lateness, Scenario, Side
from escalations.client.tickets import TicketClient
from escalations.runtime.config import load_settings
from escalations.testing.fake_sendgrid import FakeSendGrid
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
LADDER_POLICY = """
name: bench-ladder
version: 1
description: A short ladder whose ticket climbs every level, for counting history events.
targets:
  P1: {first_response: 4s, resolution: 8s}
contacts:
  team_lead: [lead@example.com]
  manager: [manager@example.com]
levels:
  - {name: response-at-risk, when: {clock: first_response, at: 50%}, notify: [team_lead]}
  - {name: response-breached, when: {clock: first_response, at: 100%}, notify: [team_lead]}
  - {name: resolution-at-risk, when: {clock: resolution, at: 75%}, notify: [manager]}
  - {name: resolution-breached, when: {clock: resolution, at: 100%}, notify: [manager]}
  - name: major-incident
    when: {clock: resolution, after_breach: 2s}
    notify: [manager]
    repeat: {every: 1s, times: 2}
feedback_window: 1s   # the ticket closes a second after it is resolved
"""
NOTIFY_ACTIVITY = "send_notification"
IN_FLIGHT = 32  # concurrent client calls: enough to keep the server busy, below its limits


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


# -- processes ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU time of process ``pid`` (Linux ``/proc``), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int, key: str = "VmRSS") -> float | None:
    """Resident memory (``VmRSS``) or its peak (``VmHWM``) of ``pid`` in MB, or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class _Stack:
    client: Client
    tickets: TicketClient
    task_queue: str
    floor_queue: str
    worker: subprocess.Popen[bytes]
    server_pid: int | None
    sendgrid: FakeSendGrid


@contextlib.asynccontextmanager
async def _stack(config: BenchConfig, workdir: Path) -> Any:
    server = None
    address = config.address
    if address is None:
        server = await dev.start_dev_server(
            port=_free_port(),
            ui_port=_free_port(),
            data_dir=workdir / "server",
            in_memory=config.db == "memory",
        )
        address = server.address
    policies = workdir / "policies"
    policies.mkdir()
    (policies / "bench.yaml").write_text(BENCH_POLICY)
    (policies / "bench-ladder.yaml").write_text(LADDER_POLICY)
    run = uuid.uuid4().hex[:8]
    with FakeSendGrid(keep_bodies=False) as sendgrid:
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": address,
            "ESCALATIONS_TASK_QUEUE": f"bench-{run}",
            "ESCALATIONS_BENCH_FLOOR_QUEUE": f"bench-floor-{run}",
            "ESCALATIONS_POLICY_DIR": str(policies),
            "SENDGRID_API_KEY": "SG.bench",
            "SENDGRID_HOST": sendgrid.url,
            # Measured as deployed: every accepted notice is recorded in the delivery ledger.
            "ESCALATIONS_DELIVERY_LEDGER": str(workdir / "deliveries.sqlite3"),
        }
        # A separate process, so its CPU time and memory are its own; started once, before
        # any measurement, so the blocking spawn costs nothing that is measured.
        worker = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "escalations.bench.worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=(workdir / "worker.log").open("wb"),
        )
        try:
            await _wait_ready(worker, workdir)
            settings = load_settings(env)
            tickets = await TicketClient.connect(settings)
            yield _Stack(
                client=tickets.client,
                tickets=tickets,
                task_queue=settings.task_queue,
                floor_queue=env["ESCALATIONS_BENCH_FLOOR_QUEUE"],
                worker=worker,
                server_pid=server.process.pid if server else None,
                sendgrid=sendgrid,
            )
        finally:
            worker.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=20)
            if worker.poll() is None:
                worker.kill()
            if server is not None:
                await server.stop()


async def _wait_ready(worker: subprocess.Popen[bytes], workdir: Path) -> None:
    assert worker.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(worker.stdout.readline), timeout=60)
    if b"ready" not in line:
        log = (workdir / "worker.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the bench worker did not start:\n{log}")


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


async def _open_ours(stack: _Stack, ids: list[str], dues: list[datetime]) -> float:
    tickets = [_ticket(i, d) for i, d in zip(ids, dues, strict=True)]

    async def open_one(ticket: TicketInput) -> None:
        await stack.tickets.open(ticket, wait=False)

    start = time.perf_counter()
    await _bounded(functools.partial(open_one, t) for t in tickets)
    return len(ids) / (time.perf_counter() - start)


async def _open_floor(stack: _Stack, ids: list[str], dues: list[datetime]) -> float:
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


async def _lateness(
    stack: _Stack, ids: list[str], dues: list[datetime], activity_type: str
) -> Lateness:
    found: list[float] = []
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(workflow_id: str, due: datetime) -> None:
        async with gate:
            started = await _activity_start(
                stack.client.get_workflow_handle(workflow_id), activity_type
            )
        if started is not None:
            found.append((started - due).total_seconds())

    await asyncio.gather(*(one(i, d) for i, d in zip(ids, dues, strict=True)))
    return Lateness.of(found, len(ids))


async def _until_all_started(
    stack: _Stack, ids: list[str], dues: list[datetime], activity_type: str, last_due: datetime
) -> Lateness:
    # Wait for the last threshold plus a grace period, then read every history.
    grace = timedelta(seconds=30)
    await asyncio.sleep(
        max((last_due - datetime.now(UTC) + timedelta(seconds=3)).total_seconds(), 0)
    )
    deadline = datetime.now(UTC) + grace
    while True:
        lateness = await _lateness(stack, ids, dues, activity_type)
        if lateness.missing == 0 or datetime.now(UTC) > deadline:
            return lateness
        await asyncio.sleep(2)


async def _scenario(
    stack: _Stack,
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
        cpu_worker, cpu_server = _cpu_seconds(stack.worker.pid), _cpu_seconds(stack.server_pid)
        if side == "ours":
            await _open_ours(stack, ticket_ids, dues)
            lateness = await _until_all_started(stack, ids, dues, NOTIFY_ACTIVITY, max(dues))
        else:
            await _open_floor(stack, ids, dues)
            lateness = await _until_all_started(stack, ids, dues, FLOOR_ACTIVITY, max(dues))
        sides[side] = Side(
            lateness=lateness,
            per_second=_fired_per_second(lateness, dues),
            worker_cpu_seconds=_delta(_cpu_seconds(stack.worker.pid), cpu_worker),
            server_cpu_seconds=_delta(_cpu_seconds(stack.server_pid), cpu_server),
        )
    return Scenario(name, description, sides["ours"], sides["floor"])


def _fired_per_second(lateness: Lateness, dues: list[datetime]) -> float | None:
    span = (max(dues) - min(dues)).total_seconds() + (lateness.max if lateness.count else 0)
    return lateness.count / span if span > 0 else None


def _delta(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


async def _open_scenario(stack: _Stack, count: int) -> Scenario:
    """Tickets opened per second; they stay open, sleeping a day (the memory check needs them)."""
    rates: dict[str, Side] = {}
    far = datetime.now(UTC) + timedelta(days=1)
    for side in ("ours", "floor"):
        run = uuid.uuid4().hex[:6]
        cpu_worker, cpu_server = _cpu_seconds(stack.worker.pid), _cpu_seconds(stack.server_pid)
        if side == "ours":
            ids = [f"B-open-{run}-{i}" for i in range(count)]
            rate = await _open_ours(stack, ids, [far] * count)
        else:
            ids = [f"floor-open-{run}-{i}" for i in range(count)]
            rate = await _open_floor(stack, ids, [far] * count)
        rates[side] = Side(
            per_second=rate,
            worker_cpu_seconds=_delta(_cpu_seconds(stack.worker.pid), cpu_worker),
            server_cpu_seconds=_delta(_cpu_seconds(stack.server_pid), cpu_server),
        )
    return Scenario("open", f"{count} opened through the client", rates["ours"], rates["floor"])


async def _sleeping_memory(stack: _Stack, total: int, batches: int = 4) -> dict[str, float]:
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
        rss[f"{opened} sleeping"] = _rss_mb(stack.worker.pid) or float("nan")
    return rss


async def _ladder_events(stack: _Stack) -> int:
    """History events of one ticket that climbs the whole ladder and is resolved."""
    from workflows.ticket_messages import ResolveRequest

    ticket_id = f"B-ladder-{uuid.uuid4().hex[:6]}"
    await stack.tickets.open(_ticket(ticket_id, datetime.now(UTC), policy="bench-ladder"))
    await asyncio.sleep(14)  # 4s/8s targets, major incident 2s past breach, two repeats 1s apart
    await stack.tickets.resolve(ticket_id, ResolveRequest(by="bench"))
    handle = stack.client.get_workflow_handle(workflow_id_for(ticket_id))
    await handle.result()
    return sum([1 async for _ in handle.fetch_history_events()])


async def run_bench(config: BenchConfig, progress: Callable[[str], None] = print) -> BenchResult:
    """Run every scenario and return the figures."""
    result = BenchResult(config=vars(config).copy())
    with tempfile.TemporaryDirectory(prefix="escalations-bench-") as tmp:
        async with _stack(config, Path(tmp)) as stack:
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
            result.worker_rss_mb["after the spread"] = _rss_mb(pid) or float("nan")
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
            progress("ladder: one ticket up every level")
            result.history_events_full_ladder = await _ladder_events(stack)
            result.worker_peak_rss_mb = _rss_mb(pid, "VmHWM")
    return result
