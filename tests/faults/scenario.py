"""The fault-injection scenario: many tickets due within minutes while things break on purpose.

On a real dev server with a file database, tickets are opened whose thresholds all fall within
a few minutes. While they fall due, a chaos script SIGKILLs the worker several times at random
moments (starting a new one after a pause), restarts the dev server once on the same
database, and makes the loopback SendGrid and webhook receiver answer 429 and then 500 (503)
for a while. Afterwards the fakes' logs and every ticket's ``status`` are compared with what
the policy says must have happened: which notices fell due (none may be lost), how often each
was accepted (duplicates are counted; at most one per kill), and each clock's and escalation's
due time (exact).

``tests/faults/test_fault_injection.py`` runs it in CI at a size that fits; ``python -m
tests.faults`` runs it at any size and prints the same figures.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.e2e.processes import DevServer, WorkerProcess
from tests.fakes.webhook_receiver import FakeWebhookReceiver
from workflows.ticket_messages import TicketInput, TicketStatus, workflow_id_for

POLICY_NAME = "faults"
# Two priorities so thresholds spread over minutes instead of falling in a few waves.
TARGETS = {
    "P1": {"first_response": timedelta(seconds=40), "resolution": timedelta(seconds=100)},
    "P2": {"first_response": timedelta(seconds=60), "resolution": timedelta(seconds=130)},
}
# (level, clock, share of the clock's target): the ladder every ticket climbs once.
LEVELS = (
    ("response-at-risk", "first_response", 0.5),
    ("response-breached", "first_response", 1.0),
    ("resolution-breached", "resolution", 1.0),
)
POLICY_YAML = f"""\
name: {POLICY_NAME}
version: 1
description: Fault-injection policy; every threshold within a few minutes of opening.

targets:
  P1: {{first_response: 40s, resolution: 100s}}
  P2: {{first_response: 60s, resolution: 130s}}

# The team lead also hears through a signed webhook: a channel beside email, with an outage
# of its own.
channels:
  itsm: {{webhook: {{url_env: FAULTS_WEBHOOK_URL, secret_env: FAULTS_WEBHOOK_SECRET}}}}

contacts:
  team_lead: [lead@example.com, itsm]
  manager: [manager@example.com]

levels:
  - name: response-at-risk
    when: {{clock: first_response, at: 50%}}
    notify: [assignee]
  - name: response-breached
    when: {{clock: first_response, at: 100%}}
    notify: [team_lead]
  - name: resolution-breached
    when: {{clock: resolution, at: 100%}}
    notify: [manager]
"""
QUERY_TIMEOUT = timedelta(seconds=10)
CHANNEL_LEVEL = "response-breached"
"""The level whose notice also goes through the webhook channel."""
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
WEBHOOK_OUTAGE = (42.0, 62.0)
"""When the webhook receiver answers 429 and then 503 (seconds after the first open): inside
the span in which response-breached, the level it hears, falls due (40 s after the first P1
opens)."""


@dataclass(frozen=True)
class FaultPlan:
    """How big the run is and what breaks when (seconds after the first ticket opens)."""

    tickets: int
    open_over: float
    kills: tuple[float, ...]
    worker_down: tuple[float, ...]
    server_restart_at: float
    rate_limited: tuple[float, float]
    unavailable: tuple[float, float]
    seed: int

    @classmethod
    def random(cls, tickets: int, kills: int, seed: int) -> FaultPlan:
        """Faults at random moments while thresholds fall due, apart enough to tell apart."""
        rng = random.Random(seed)
        open_over = max(20.0, tickets / 4)
        last_due = open_over + max(t["resolution"] for t in TARGETS.values()).total_seconds()
        window = (15.0, last_due - 5)
        restart = rng.uniform(window[0] + 30, window[1] - 30)
        moments: list[float] = []
        while len(moments) < kills:
            moment = rng.uniform(*window)
            if all(abs(moment - m) > 8 for m in [*moments, restart]):
                moments.append(moment)
        outage = rng.uniform(window[0], window[1] - 25)
        return cls(
            tickets=tickets,
            open_over=open_over,
            kills=tuple(sorted(moments)),
            worker_down=tuple(round(rng.uniform(0.5, 3.0), 1) for _ in range(kills)),
            server_restart_at=restart,
            rate_limited=(outage, outage + 10),
            unavailable=(outage + 10, outage + 20),
            seed=seed,
        )


@dataclass
class FaultReport:
    """What the run did and what it found."""

    plan: FaultPlan
    tickets: int = 0
    due: int = 0
    delivered: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: int = 0
    kills: int = 0
    restarts: int = 0
    answered_429: int = 0
    answered_500: int = 0
    channel_due: int = 0
    channel_delivered: int = 0
    channel_lost: list[str] = field(default_factory=list)
    channel_duplicated: int = 0
    channel_outage_answers: int = 0
    ledger_saves: int = 0
    wrong_due_times: list[str] = field(default_factory=list)
    wrong_ladders: list[str] = field(default_factory=list)
    task_failures: int = 0
    lateness: list[float] = field(default_factory=list)
    latest: str = ""
    elapsed: float = 0.0

    def figures(self) -> dict[str, Any]:
        """The figures as plain values, for printing and for JSON."""
        late = sorted(self.lateness)
        return {
            "tickets": self.tickets,
            "notifications_due": self.due,
            "delivered": self.delivered,
            "lost": len(self.lost),
            "duplicated": self.duplicated,
            "worker_kills": self.kills,
            "server_restarts": self.restarts,
            "sendgrid_429_answers": self.answered_429,
            "sendgrid_500_answers": self.answered_500,
            "webhook_notices_due": self.channel_due,
            "webhook_delivered": self.channel_delivered,
            "webhook_lost": len(self.channel_lost),
            "webhook_duplicated": self.channel_duplicated,
            "webhook_429_503_answers": self.channel_outage_answers,
            "retries_answered_by_ledger": self.ledger_saves,
            "wrong_due_times": len(self.wrong_due_times),
            "workflow_task_failures": self.task_failures,
            "fired_late_p50_s": round(statistics.median(late), 2) if late else None,
            "fired_late_p99_s": round(late[int(0.99 * (len(late) - 1))], 2) if late else None,
            "fired_late_max_s": round(late[-1], 2) if late else None,
            "seed": self.plan.seed,
            "wall_time_s": round(self.elapsed, 1),
        }

    def format(self) -> str:
        """The figures as aligned lines."""
        rows = self.figures()
        width = max(map(len, rows))
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows.items())


class FaultRun:
    """One scenario run: its server, its workers, its fake SendGrid and its tickets."""

    def __init__(self, plan: FaultPlan, directory: Path) -> None:
        self.plan = plan
        self.directory = directory
        self.task_queue = f"faults-{uuid.uuid4()}"
        self.server = DevServer(directory)
        self.sendgrid = FakeSendGrid()
        self.receiver = FakeWebhookReceiver(secret=WEBHOOK_SECRET)
        self.report = FaultReport(plan)
        self._workers: list[WorkerProcess] = []
        self._opened: dict[str, tuple[str, datetime]] = {}
        self._handles: dict[str, WorkflowHandle[Any, Any]] = {}
        policies = directory / "policies"
        policies.mkdir(parents=True, exist_ok=True)
        (policies / f"{POLICY_NAME}.yaml").write_text(POLICY_YAML, encoding="utf-8")
        self._policy_dir = policies

    @property
    def worker(self) -> WorkerProcess:
        """The worker started last."""
        return self._workers[-1]

    def logs(self) -> list[Path]:
        """Every log file the run wrote, for a failing test to show."""
        return [self.server.log_path, *(w.log_path for w in self._workers)]

    async def run(self) -> FaultReport:
        """Run the whole scenario and return its report (processes are always stopped)."""
        started = time.monotonic()
        self.sendgrid.start()
        self.receiver.start()
        try:
            self.server.start()
            client = await self.server.wait_ready()
            await self._start_worker()
            first_open = time.monotonic()
            chaos = asyncio.create_task(self._chaos(first_open))
            await self._open_tickets(client)
            await chaos
            client = await self.server.wait_ready()
            statuses = await self._wait_for_every_delivery(client)
            await self._check(client, statuses)
        finally:
            for worker in self._workers:
                worker.stop(timeout=10)
            self.server.stop(timeout=15)
            self.sendgrid.stop()
            self.receiver.stop()
        self.report.elapsed = time.monotonic() - started
        return self.report

    async def _start_worker(self) -> None:
        number = len(self._workers) + 1
        env = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
        env.update(
            {
                "TEMPORAL_ADDRESS": self.server.address,
                "ESCALATIONS_TASK_QUEUE": self.task_queue,
                "ESCALATIONS_POLICY_DIR": str(self._policy_dir),
                "ESCALATIONS_OUTBOX": str(self.directory / "outbox"),
                "ESCALATIONS_DELIVERY_LEDGER": str(self.directory / "deliveries.sqlite3"),
                "ESCALATIONS_STICKY_QUEUE_TIMEOUT": "1",
                "SENDGRID_API_KEY": "SG.faults-test-key",
                "SENDGRID_HOST": self.sendgrid.url,
                "SENDGRID_FROM": "escalations@example.com",
                "FAULTS_WEBHOOK_URL": f"{self.receiver.url}/hooks/sla",
                "FAULTS_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "PYTHONUNBUFFERED": "1",
            }
        )
        worker = WorkerProcess(f"worker #{number}", env, self.directory / f"worker-{number}.log")
        self._workers.append(worker)
        worker.start()
        await worker.wait_ready()

    async def _open_tickets(self, client: Client) -> None:
        rng = random.Random(self.plan.seed)
        pace = self.plan.open_over / self.plan.tickets
        begin = time.monotonic()
        for number in range(self.plan.tickets):
            await asyncio.sleep(max(0.0, begin + number * pace - time.monotonic()))
            priority = rng.choice(sorted(TARGETS))
            ticket = TicketInput(
                ticket_id=f"F-{number:05d}-{uuid.uuid4().hex[:8]}",
                title=f"Fault-injection ticket {number}",
                priority=priority,
                team="support",
                customer="Acme",
                requester="buyer@acme.example",
                assignee="agent@example.com",
                policy=POLICY_NAME,
            )
            self._handles[ticket.ticket_id] = await self._start(client, ticket)
            self._opened[ticket.ticket_id] = (priority, datetime.now(UTC))
        self.report.tickets = len(self._handles)

    async def _start(self, client: Client, ticket: TicketInput) -> WorkflowHandle[Any, Any]:
        # Opening may meet the server mid-restart: a real caller retries, and so does this one.
        # A start whose answer was lost has started: the retry then finds the workflow.
        workflow_id = workflow_id_for(ticket.ticket_id)
        for _ in range(60):
            try:
                return await client.start_workflow(
                    "TicketEscalation", ticket, id=workflow_id, task_queue=self.task_queue
                )
            except WorkflowAlreadyStartedError:
                return client.get_workflow_handle(workflow_id)
            except RPCError:
                await asyncio.sleep(1)
        raise AssertionError(f"could not open {ticket.ticket_id} within a minute of retries")

    async def _chaos(self, origin: float) -> None:
        """Run the plan's faults at their moments, in order."""
        plan = self.plan
        events = [(moment, "kill", i) for i, moment in enumerate(plan.kills)]
        events.append((self.plan.server_restart_at, "restart", 0))
        events += [(self.plan.rate_limited[0], "429", 0), (self.plan.unavailable[0], "500", 0)]
        events.append((self.plan.unavailable[1], "recover", 0))
        start, end = WEBHOOK_OUTAGE
        events += [(start, "webhook-429", 0), ((start + end) / 2, "webhook-503", 0)]
        events.append((end, "webhook-recover", 0))
        for moment, kind, index in sorted(events):
            await asyncio.sleep(max(0.0, origin + moment - time.monotonic()))
            if kind == "kill":
                self.worker.kill()
                self.report.kills += 1
                await asyncio.sleep(self.plan.worker_down[index])
                await self._start_worker()
            elif kind == "restart":
                self.server.stop(timeout=15)
                await asyncio.sleep(1)
                self.server.start()
                await self.server.wait_ready(within=60)
                self.report.restarts += 1
            elif kind == "429":
                reset = time.time() + (self.plan.rate_limited[1] - self.plan.rate_limited[0])
                self.sendgrid.answer_always(429, {"X-RateLimit-Reset": str(int(reset))})
            elif kind == "500":
                self.sendgrid.answer_always(500)
            elif kind == "recover":
                self.sendgrid.answer_always(202)
            elif kind == "webhook-429":
                self.receiver.answer_always(429, {"Retry-After": "5"})
            elif kind == "webhook-503":
                self.receiver.answer_always(503)
            else:
                self.receiver.answer_normally()

    async def _wait_for_every_delivery(self, client: Client) -> dict[str, TicketStatus]:
        # A notice whose worker died mid-send waits out its attempt timeout (15 s) and its
        # retry backoff after the outage; a few minutes cover both with room to spare.
        deadline = time.monotonic() + 240
        statuses: dict[str, TicketStatus] = {}
        while True:
            self.worker.assert_running()
            for ticket_id in sorted(set(self._handles) - set(statuses)):
                handle = client.get_workflow_handle(workflow_id_for(ticket_id))
                try:
                    status = await handle.query(
                        "status", result_type=TicketStatus, rpc_timeout=QUERY_TIMEOUT
                    )
                except Exception:
                    continue
                if _settled(status):
                    statuses[ticket_id] = status
            if len(statuses) == len(self._handles) or time.monotonic() > deadline:
                return statuses
            await asyncio.sleep(1)

    async def _check(self, client: Client, statuses: dict[str, TicketStatus]) -> None:
        report = self.report
        accepted: Counter[str] = Counter()
        pairs: set[tuple[str, str]] = set()
        for request in self.sendgrid.requests:
            if request.status == 429:
                report.answered_429 += 1
            elif request.status == 500:
                report.answered_500 += 1
            elif 200 <= request.status < 300:
                args = request.body["custom_args"]
                accepted[args["idempotency_key"]] += 1
                pairs.add((args["ticket_id"], args["level"]))
        report.duplicated = sum(count - 1 for count in accepted.values())
        self._check_webhooks()
        for ticket_id, (priority, _) in sorted(self._opened.items()):
            for level, _clock, _share in LEVELS:
                report.due += 1
                if (ticket_id, level) in pairs:
                    report.delivered += 1
                else:
                    report.lost.append(f"{ticket_id} {level}")
            status = statuses.get(ticket_id)
            if status is None:
                report.wrong_ladders.append(f"{ticket_id}: never settled")
                continue
            self._check_ticket(ticket_id, priority, status)
        for handle in self._handles.values():
            history = await client.get_workflow_handle(handle.id).fetch_history()
            report.task_failures += sum(
                e.HasField("workflow_task_failed_event_attributes") for e in history.events
            )

    def _check_ticket(self, ticket_id: str, priority: str, status: TicketStatus) -> None:
        report = self.report
        opened = status.opened_at
        targets = TARGETS[priority]
        for clock, target in targets.items():
            due = status.clocks[clock].due_at
            if due != opened + target:
                report.wrong_due_times.append(f"{ticket_id} {clock}: {due} != {opened + target}")
        emails = [e for e in status.escalations if e.channel == "email"]
        levels = [(e.level, e.repeat) for e in emails]
        if levels != [(name, 0) for name, _, _ in LEVELS]:
            report.wrong_ladders.append(f"{ticket_id}: fired {levels}")
        channels = [(e.level, e.channel) for e in status.escalations if e.channel != "email"]
        if channels != [(CHANNEL_LEVEL, "itsm")]:
            report.wrong_ladders.append(f"{ticket_id}: channel notices {channels}")
        for record, (name, clock, share) in zip(emails, LEVELS, strict=False):
            expected = opened + targets[clock] * share
            if record.due_at != expected:
                report.wrong_due_times.append(f"{ticket_id} {name}: {record.due_at} != {expected}")
            late = (record.fired_at - record.due_at).total_seconds()
            if late > max(report.lateness, default=0.0):
                report.latest = f"{ticket_id} {name} due {record.due_at:%H:%M:%S.%f} +{late:.1f}s"
            report.lateness.append(late)
            if "not sent again" in (record.delivery.detail or ""):
                report.ledger_saves += 1

    def _check_webhooks(self) -> None:
        report = self.report
        received = {
            (d.payload["data"]["ticket"]["id"], d.payload["data"]["level"])
            for d in self.receiver.deliveries
        }
        for ticket_id in sorted(self._opened):
            report.channel_due += 1
            if (ticket_id, CHANNEL_LEVEL) in received:
                report.channel_delivered += 1
            else:
                report.channel_lost.append(ticket_id)
        report.channel_duplicated = self.receiver.duplicates
        report.channel_outage_answers = sum(r.status in (429, 503) for r in self.receiver.requests)


_OWN_PREFIXES = ("TEMPORAL_", "ESCALATIONS_", "SENDGRID_", "FAULTS_")


def _settled(status: TicketStatus) -> bool:
    emails = [e for e in status.escalations if e.channel == "email"]
    return (
        len(emails) >= len(LEVELS)
        and len(status.escalations) > len(emails)
        and all(e.delivery.status not in {"pending", "held"} for e in status.escalations)
    )
