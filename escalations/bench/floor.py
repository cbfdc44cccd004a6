"""The floors the benchmark compares against: the least a Temporal escalation can do.

``BenchFloor`` sleeps until a due time on a durable timer and runs one activity that does
nothing. Whatever lateness, throughput and cost it shows on a server is Temporal's own; the
benchmark reports ``TicketEscalation``'s figures as ratios to it.

``BenchFloorTicket`` is the floor of a whole ticket, for counting what one costs: it sleeps to
the same thresholds as a ticket's ladder (one durable timer at a time, to the next threshold),
runs one no-op activity per notice the ticket sends there, and takes the same updates, each a
Temporal update that moves its next threshold as the ticket's would: ``acknowledge`` drops the
first-response thresholds, ``pause`` holds every threshold until ``resume`` pushes them back by
the time paused, ``resolve`` ends the ladder. After ``resolve`` it lingers as long as the
ticket's feedback window, then completes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel
from temporalio import activity, workflow

FLOOR_WORKFLOW = "BenchFloor"
FLOOR_TICKET_WORKFLOW = "BenchFloorTicket"
FLOOR_ACTIVITY = "bench_noop"
FLOOR_ACTIVITY_TIMEOUT = timedelta(seconds=15)

Clock = Literal["first_response", "resolution"]


class FloorInput(BaseModel):
    """When the floor's single threshold falls due."""

    due_at: AwareDatetime


class FloorThreshold(BaseModel):
    """One threshold of a ticket's ladder: ``after`` of ``clock`` time, ``notices`` sent."""

    clock: Clock
    after: timedelta
    notices: int = 1


class FloorTicketInput(BaseModel):
    """The ladder the floor ticket sleeps through, and how long it lingers once resolved."""

    thresholds: list[FloorThreshold]
    linger: timedelta = timedelta(0)


class FloorUpdate(BaseModel):
    """Every floor update's one argument: nothing to carry, but room to add fields."""


@activity.defn(name=FLOOR_ACTIVITY)
def bench_noop(due_at: datetime) -> None:
    """Nothing at all: the floor measures the platform, not work."""


@workflow.defn(name=FLOOR_WORKFLOW)
class BenchFloor:
    """Sleep until ``due_at``, then run one no-op activity."""

    @workflow.run
    async def run(self, input: FloorInput) -> None:
        """One threshold, one activity."""
        wait = input.due_at - workflow.now()
        if wait > timedelta(0):
            await workflow.sleep(wait)
        await workflow.execute_activity(
            FLOOR_ACTIVITY, input.due_at, start_to_close_timeout=FLOOR_ACTIVITY_TIMEOUT
        )


@workflow.defn(name=FLOOR_TICKET_WORKFLOW)
class BenchFloorTicket:
    """A ticket's thresholds, notices and updates, and nothing else."""

    def __init__(self) -> None:
        self._stopped: set[Clock] = set()
        self._resolved = False
        self._paused_at: datetime | None = None
        self._paused_for = timedelta(0)
        self._changed = False

    @workflow.run
    async def run(self, input: FloorTicketInput) -> None:
        """Sleep to each threshold in turn and send its notices, until resolved."""
        opened_at = workflow.now()
        pending = sorted(input.thresholds, key=lambda threshold: threshold.after)
        while not self._resolved:
            pending = [t for t in pending if t.clock not in self._stopped]
            self._changed = False
            if self._paused_at is not None or not pending:
                await workflow.wait_condition(lambda: self._changed)
                continue
            due = opened_at + self._paused_for + pending[0].after
            if due > workflow.now():
                try:
                    await workflow.wait_condition(
                        lambda: self._changed, timeout=due - workflow.now()
                    )
                    continue
                except TimeoutError:
                    pass
            threshold = pending.pop(0)
            for _ in range(threshold.notices):
                await workflow.execute_activity(
                    FLOOR_ACTIVITY, due, start_to_close_timeout=FLOOR_ACTIVITY_TIMEOUT
                )
        if input.linger > timedelta(0):
            await workflow.sleep(input.linger)
        await workflow.wait_condition(workflow.all_handlers_finished)

    def _change(self) -> None:
        self._changed = True

    @workflow.update
    def acknowledge(self, request: FloorUpdate) -> None:
        """The first-response thresholds no longer fall due."""
        self._stopped.add("first_response")
        self._change()

    @workflow.update
    def resolve(self, request: FloorUpdate) -> None:
        """No threshold falls due any more."""
        self._resolved = True
        self._change()

    @workflow.update
    def pause(self, request: FloorUpdate) -> None:
        """Hold every threshold until resumed."""
        self._paused_at = workflow.now()
        self._change()

    @workflow.update
    def resume(self, request: FloorUpdate) -> None:
        """Push every threshold back by the time paused."""
        if self._paused_at is not None:
            self._paused_for += workflow.now() - self._paused_at
            self._paused_at = None
        self._change()
