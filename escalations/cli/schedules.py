"""``escalations schedules install`` and ``escalations schedules show``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import TypeAdapter, ValidationError
from temporalio.client import (
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleDescription,
)

from escalations.client import schedules
from escalations.client.errors import connect_failure_reason
from escalations.runtime.config import load_settings
from escalations.runtime.connection import connect
from policies.durations import format_duration, parse_duration
from policies.emails import EmailAddress
from policies.model import Slug

_ADDRESS: TypeAdapter[str] = TypeAdapter(EmailAddress)
_SLUG: TypeAdapter[str] = TypeAdapter(Slug)


def add_schedule_commands(commands: Any) -> None:
    """Register ``schedules install`` and ``schedules show`` on the ``escalations`` parser."""
    p = commands.add_parser(
        "schedules",
        help="install or show the SLO monitor and weekly report schedules",
        description="Temporal Schedules that run the SLO monitor (slo-monitor-<policy>) and "
        "email the weekly SLO report (slo-weekly-report). Pause, trigger or delete them "
        "with `temporal schedule ...` or in the Web UI (Schedules).",
    )
    sub = p.add_subparsers(dest="schedules_command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "install",
        help="create the schedules, or update them to these settings (idempotent)",
    )
    p.add_argument(
        "--every",
        type=_every,
        default=schedules.DEFAULT_EVERY,
        metavar="DURATION",
        help="how often the monitor runs (5m)",
    )
    p.add_argument(
        "--weekly-at",
        type=_weekly_at,
        default=schedules.parse_weekly_at(schedules.DEFAULT_WEEKLY_AT),
        metavar="'DAY HH:MM'",
        help=f"when the weekly report goes out ('{schedules.DEFAULT_WEEKLY_AT}')",
    )
    p.add_argument(
        "--time-zone",
        type=_time_zone,
        default="UTC",
        metavar="IANA",
        help="zone of --weekly-at, e.g. Europe/Paris (UTC)",
    )
    p.add_argument(
        "--policy",
        dest="policies",
        action="append",
        type=_policy,
        metavar="NAME",
        help="a policy to monitor and report on; repeatable (default)",
    )
    p.add_argument(
        "--to",
        action="append",
        type=_address,
        default=[],
        metavar="ADDRESS",
        help="weekly report recipient; repeatable (default: the policies' SLO alert roles)",
    )
    p.set_defaults(handler=_install)
    p = sub.add_parser("show", help="show the SLO schedules: spec, state, next and recent runs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_show)


def _every(text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < schedules.MIN_EVERY:
        raise argparse.ArgumentTypeError("must be at least 1m")
    return value


def _weekly_at(text: str) -> schedules.WeeklyAt:
    try:
        return schedules.parse_weekly_at(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _time_zone(text: str) -> str:
    # Checked here: the server would refuse an unknown zone only after connecting.
    try:
        ZoneInfo(text)
    except (ValueError, ZoneInfoNotFoundError):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IANA time zone") from None
    return text


def _validated(adapter: TypeAdapter[str], text: str) -> str:
    try:
        return adapter.validate_python(text)
    except ValidationError as err:
        raise argparse.ArgumentTypeError(f"{text!r}: {err.errors()[0]['msg']}") from None


def _policy(text: str) -> str:
    return _validated(_SLUG, text)


def _address(text: str) -> str:
    return _validated(_ADDRESS, text)


def _run(args: argparse.Namespace, action: Any) -> int:
    settings = load_settings()
    try:
        return int(asyncio.run(action(settings)))
    except RuntimeError as err:
        if "connect" not in str(err):
            raise
        print(
            f"escalations schedules: cannot reach Temporal at {settings.temporal_address}: "
            f"{connect_failure_reason(err)}",
            file=sys.stderr,
        )
        return 1


def _install(args: argparse.Namespace) -> int:
    async def install(settings: Any) -> int:
        client = await connect(settings)
        done = await schedules.install(
            client,
            task_queue=settings.task_queue,
            policies=args.policies or ["default"],
            every=args.every,
            weekly_at=args.weekly_at,
            time_zone=args.time_zone,
            to=args.to,
        )
        for schedule_id, outcome in done:
            print(f"{schedule_id}: {outcome}")
        print("inspect: escalations schedules show, or `temporal schedule list`")
        return 0

    return _run(args, install)


def _spec_text(description: ScheduleDescription) -> str:
    spec = description.schedule.spec
    parts = [f"every {format_duration(i.every)}" for i in spec.intervals]
    for calendar in spec.calendars:
        parts.append(_calendar_text(calendar) + f" {spec.time_zone_name or 'UTC'}")
    return ", ".join(parts) or "(no spec)"


def _calendar_text(calendar: ScheduleCalendarSpec) -> str:
    days = ",".join(schedules.WEEKDAYS[r.start] for r in calendar.day_of_week)
    hour = calendar.hour[0].start if calendar.hour else 0
    minute = calendar.minute[0].start if calendar.minute else 0
    return f"{days or 'daily'} {hour:02d}:{minute:02d}"


def summary(schedule_id: str, description: ScheduleDescription) -> dict[str, Any]:
    """What ``show`` prints of one schedule."""
    action = description.schedule.action
    info = description.info
    return {
        "id": schedule_id,
        "spec": _spec_text(description),
        "workflow": action.workflow if isinstance(action, ScheduleActionStartWorkflow) else None,
        "paused": description.schedule.state.paused,
        "note": description.schedule.state.note,
        "overlap": description.schedule.policy.overlap.name,
        "next_runs": [t.isoformat() for t in info.next_action_times[:3]],
        "recent_runs": [
            {"at": a.started_at.isoformat(), "workflow_id": a.action.workflow_id}
            for a in info.recent_actions[-3:]
            if hasattr(a.action, "workflow_id")
        ],
        "runs": info.num_actions,
        "skipped_overlapping": info.num_actions_skipped_overlap,
    }


def _show(args: argparse.Namespace) -> int:
    async def show(settings: Any) -> int:
        client = await connect(settings)
        found = [summary(i, d) for i, d in await schedules.describe_all(client)]
        if args.json:
            print(json.dumps(found, indent=2))
        elif not found:
            print("no SLO schedules; create them with `escalations schedules install`")
        for item in [] if args.json else found:
            state = "paused" if item["paused"] else "active"
            print(f"{item['id']}: {item['workflow']}, {item['spec']}, {state}")
            if item["note"]:
                print(f"  note: {item['note']}")
            print(f"  next: {', '.join(item['next_runs']) or '-'}")
            recent = ", ".join(r["at"] for r in item["recent_runs"])
            print(f"  runs: {item['runs']} (skipped overlapping: {item['skipped_overlapping']})")
            print(f"  recent: {recent or '-'}")
        return 0

    return _run(args, show)
