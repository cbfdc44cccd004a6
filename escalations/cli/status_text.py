"""The short, human summary of a ticket that ``escalations ticket ...`` prints."""

from __future__ import annotations

from datetime import datetime

from policies.durations import format_target
from policies.plan_match import DEFAULT_PLAN
from policies.zones import zone
from workflows.ticket_messages import ClockStatus, TicketStatus


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment else "-"


def _clock_state(clock: ClockStatus) -> str:
    if not clock.started:
        return "not started"
    if clock.stopped_at:
        return "stopped" + (", BREACHED" if clock.breached else ", met")
    if clock.breached:
        return "BREACHED"
    return "running" if clock.running else "paused"


def describe_status(status: TicketStatus) -> str:
    """A few lines: state, priority, each clock with its due time, and escalations fired.

    Args:
        status: What the ``status`` query or an update returned.

    Returns:
        Plain text without a trailing newline.
    """
    lines = [
        f"Ticket {status.ticket_id} [{status.priority}] {status.state.value}: {status.title}",
        f"  team {status.team} · customer {status.customer} · assignee "
        f"{status.assignee or 'none'} · policy {status.policy} v{status.policy_version}",
        f"  opened {_when(status.opened_at)}",
    ]
    if status.plan != DEFAULT_PLAN or status.tags or status.attributes:
        shown = [f"SLA plan {status.plan}"]
        if status.tags:
            shown.append("tags " + ", ".join(status.tags))
        shown += [f"{name}={value}" for name, value in status.attributes.items()]
        lines.append("  " + " · ".join(shown))
    for migration in status.policy_migrations:
        lines.append(
            f"  policy v{migration.from_version} -> v{migration.to_version} "
            f"{_when(migration.at)} by {migration.by}: {migration.reason}"
        )
    if status.acknowledged_at:
        lines.append(
            f"  acknowledged {_when(status.acknowledged_at)} by {status.acknowledged_by or '?'}"
        )
    if status.paused_reason:
        lines.append(f"  paused: {status.paused_reason}")
    if status.resolved_at:
        note = f": {status.resolution_note}" if status.resolution_note else ""
        lines.append(f"  resolved {_when(status.resolved_at)} by {status.resolved_by or '?'}{note}")
    # Elapsed time is left out: the workflow computes it as of its last wake-up, not now.
    lines.append("Clocks:")
    width = max((len(name) for name in status.clocks), default=0)
    for name, clock in status.clocks.items():
        local = (
            f" = {_when(clock.due_at.astimezone(zone(clock.timezone)))} ({clock.timezone})"
            if clock.due_at and clock.timezone != "UTC"
            else ""
        )
        lines.append(
            f"  {name:<{width}}  due {_when(clock.due_at)}{local}  "
            f"(target {format_target(clock.target)}, {clock.calendar})  {_clock_state(clock)}"
        )
    if status.next_reply_cycles:
        lines.append(
            f"  next-reply cycles {status.next_reply_cycles}, breached {status.next_reply_breaches}"
        )
    if status.next_escalation_level:
        lines.append(
            f"Next escalation: {status.next_escalation_level} at {_when(status.next_escalation_at)}"
        )
    if not status.escalations:
        lines.append("Escalations: none yet")
    else:
        lines.append(f"Escalations ({len(status.escalations)}):")
        for record in status.escalations:
            repeat = f" (repeat {record.repeat})" if record.repeat else ""
            detail = f" - {record.delivery.detail[:120]}" if record.delivery.detail else ""
            if record.held_until and record.delivery.status == "held":
                detail = f" until {_when(record.held_until)} (quiet hours)"
            if record.channel == "email":
                to = f"{len(record.recipients)} recipient(s)"
            else:
                provider_id = record.delivery.message_id
                to = f"{record.channel}" + (f" (id {provider_id})" if provider_id else "")
            lines.append(
                f"  {record.level}{repeat} at {_when(record.fired_at)} to {to}: "
                f"{record.delivery.status}{detail}"
            )
    for name, kept in status.channels.items():
        thread = f" thread {kept.thread.ts}" if kept.thread else ""
        told = (
            f" last told: {kept.last_event} ({kept.last_event_status})" if kept.last_event else ""
        )
        if thread or told:
            lines.append(f"Channel {name}:{thread}{told}")
    return "\n".join(lines)
