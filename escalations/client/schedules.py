"""The SLO schedules: ``slo-monitor-<policy>`` (every 5 minutes) and ``slo-weekly-report``.

:func:`install` makes the server's schedules match what is asked, idempotently: it creates a
missing schedule, updates one whose spec, action or policies differ, and leaves an identical
one alone, so running it twice (or on every deploy) changes nothing the second time. An
update keeps the schedule's state, so a schedule an operator paused stays paused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleDescription,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import RawValue

from activities.slo_models import (
    MONITOR_WORKFLOW,
    WEEKLY_REPORT_WORKFLOW,
    SloMonitorInput,
    WeeklySloReportInput,
)

MONITOR_PREFIX = "slo-monitor-"
WEEKLY_REPORT_ID = "slo-weekly-report"
DEFAULT_EVERY = timedelta(minutes=5)
DEFAULT_WEEKLY_AT = "mon 08:00"
MIN_EVERY = timedelta(minutes=1)
# A weekly report missed while the server was down is still worth sending within a day; a
# monitor run missed is not (the next one is minutes away), so its window is its interval.
WEEKLY_CATCHUP = timedelta(days=1)

WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # Temporal's day_of_week: 0 = Sunday
_WEEKLY_AT = re.compile(r"^\s*([a-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)

Outcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class WeeklyAt:
    """A weekly moment: ``day_of_week`` 0 = Sunday (as Temporal counts), hour and minute."""

    day_of_week: int
    hour: int
    minute: int

    def __str__(self) -> str:
        return f"{WEEKDAYS[self.day_of_week]} {self.hour:02d}:{self.minute:02d}"


def parse_weekly_at(text: str) -> WeeklyAt:
    """``mon 08:00`` (any weekday name or its first three letters, 24-hour time).

    Raises:
        ValueError: with the accepted form, when ``text`` is not one.
    """
    match = _WEEKLY_AT.match(text)
    day = match.group(1).lower() if match else ""
    if match is None or day not in WEEKDAYS:
        raise ValueError(f"{text!r}: give a weekday and a 24-hour time, e.g. 'mon 08:00'")
    hour, minute = int(match.group(2)), int(match.group(3))
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r}: {hour:02d}:{minute:02d} is not a time of day")
    return WeeklyAt(WEEKDAYS.index(day), hour, minute)


def monitor_schedule_id(policy: str) -> str:
    """The id of ``policy``'s monitor schedule."""
    return f"{MONITOR_PREFIX}{policy}"


def monitor_schedule(policy: str, every: timedelta, task_queue: str) -> Schedule:
    """Run ``SloMonitor`` for ``policy`` every ``every``; skip a run while one still runs."""
    if every < MIN_EVERY:
        raise ValueError(f"--every must be at least {MIN_EVERY.total_seconds():.0f}s")
    return Schedule(
        action=ScheduleActionStartWorkflow(
            MONITOR_WORKFLOW,
            SloMonitorInput(policy=policy),
            id=monitor_schedule_id(policy),
            task_queue=task_queue,
            # A run that cannot finish within its interval is superseded by the next one.
            execution_timeout=max(every, timedelta(minutes=5)),
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=every),
    )


def weekly_schedule(
    at: WeeklyAt, time_zone: str, report: WeeklySloReportInput, task_queue: str
) -> Schedule:
    """Send the weekly report every week at ``at`` in ``time_zone``."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WEEKLY_REPORT_WORKFLOW,
            report,
            id=WEEKLY_REPORT_ID,
            task_queue=task_queue,
            execution_timeout=timedelta(days=1),
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=[ScheduleRange(0)],
                    minute=[ScheduleRange(at.minute)],
                    hour=[ScheduleRange(at.hour)],
                    day_of_week=[ScheduleRange(at.day_of_week)],
                )
            ],
            time_zone_name=time_zone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=WEEKLY_CATCHUP),
    )


def _values(ranges: Sequence[ScheduleRange], default: Iterable[int]) -> frozenset[int]:
    # The server hands ranges back normalized (an end, a step of 1, empty for "any"):
    # compare the values they select, not how they are written.
    if not ranges:
        return frozenset(default)
    return frozenset(
        v for r in ranges for v in range(r.start, max(r.end, r.start) + 1, r.step or 1)
    )


def _calendar_key(spec: ScheduleCalendarSpec) -> tuple[frozenset[int], ...]:
    return (
        _values(spec.second, [0]),
        _values(spec.minute, [0]),
        _values(spec.hour, [0]),
        _values(spec.day_of_month, range(1, 32)),
        _values(spec.month, range(1, 13)),
        _values(spec.day_of_week, range(7)),
        _values(spec.year, []),
    )


async def _fingerprint(client: Client, schedule: Schedule, input_type: type[Any]) -> Any:
    """What decides a schedule's behaviour, in a form a described schedule compares equal to."""
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    args = list(action.args)
    if args and not isinstance(args[0], input_type):
        # Described schedules carry their input as payloads (encrypted, with keys set).
        raw = [arg.payload if isinstance(arg, RawValue) else arg for arg in args]
        args = await client.data_converter.decode(raw, [input_type])
    spec = schedule.spec
    return (
        action.workflow,
        action.id,
        action.task_queue,
        action.execution_timeout,
        [input_type.model_validate(arg).model_dump(mode="json") for arg in args],
        sorted((i.every, i.offset or timedelta(0)) for i in spec.intervals),
        sorted(_calendar_key(c) for c in spec.calendars),
        spec.time_zone_name or "UTC",
        schedule.policy.overlap,
        schedule.policy.catchup_window,
    )


async def _install_one(
    client: Client, schedule_id: str, schedule: Schedule, input_type: type[Any]
) -> Outcome:
    try:
        await client.create_schedule(schedule_id, schedule)
        return "created"
    except ScheduleAlreadyRunningError:
        pass
    handle = client.get_schedule_handle(schedule_id)
    current: ScheduleDescription = await handle.describe()
    wanted = await _fingerprint(client, schedule, input_type)
    if await _fingerprint(client, current.schedule, input_type) == wanted:
        return "unchanged"

    def keep_state(update: ScheduleUpdateInput) -> ScheduleUpdate:
        # The new spec and action with the old state: a paused schedule stays paused, with
        # the note an operator left on it.
        schedule.state = update.description.schedule.state
        return ScheduleUpdate(schedule=schedule)

    await handle.update(keep_state)
    return "updated"


async def install(
    client: Client,
    *,
    task_queue: str,
    policies: Sequence[str] = ("default",),
    every: timedelta = DEFAULT_EVERY,
    weekly_at: WeeklyAt | None = None,
    time_zone: str = "UTC",
    to: Sequence[str] = (),
) -> list[tuple[str, Outcome]]:
    """Create or update the monitor schedule of each policy and the weekly report schedule.

    Returns:
        ``(schedule id, created | updated | unchanged)`` for each schedule, in order.
    """
    at = weekly_at or parse_weekly_at(DEFAULT_WEEKLY_AT)
    done: list[tuple[str, Outcome]] = []
    for policy in dict.fromkeys(policies):
        schedule_id = monitor_schedule_id(policy)
        schedule = monitor_schedule(policy, every, task_queue)
        done.append(
            (schedule_id, await _install_one(client, schedule_id, schedule, SloMonitorInput))
        )
    report = WeeklySloReportInput(policies=list(dict.fromkeys(policies)), to=list(to))
    weekly = weekly_schedule(at, time_zone, report, task_queue)
    done.append(
        (
            WEEKLY_REPORT_ID,
            await _install_one(client, WEEKLY_REPORT_ID, weekly, WeeklySloReportInput),
        )
    )
    return done


async def describe_all(client: Client) -> list[tuple[str, ScheduleDescription]]:
    """Every SLO schedule on the namespace (monitors and the weekly report), by id."""
    ids = [
        entry.id
        async for entry in await client.list_schedules()
        if entry.id.startswith(MONITOR_PREFIX) or entry.id == WEEKLY_REPORT_ID
    ]
    ids.sort()
    return [(i, await client.get_schedule_handle(i).describe()) for i in ids]
