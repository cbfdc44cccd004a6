"""What operators see of a ticket in the Temporal Web UI: summary line and current details."""

from __future__ import annotations

from datetime import UTC, datetime

from policies.durations import format_duration, format_target
from policies.plan_match import DEFAULT_PLAN
from workflows.ticket_messages import TicketStatus


def static_summary(priority: str, ticket_id: str, title: str) -> str:
    """The one-line summary shown in the workflow list: ``P1 · T-1042 · Checkout down``."""
    short = title if len(title) <= 80 else title[:79] + "…"
    return f"{priority} · {ticket_id} · {short}"


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def _local(moment: datetime | None, timezone: str) -> str:
    """A due time in its calendar's zone (``2026-11-24 09:00 EST``), as the team reads it."""
    if moment is None or timezone == "UTC":
        return _when(moment)
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname()} ({_cell(timezone)})"


def _cell(text: str) -> str:
    # Ticket text is untrusted: keep it from breaking the markdown or injecting links.
    return text.replace("|", "\\|").replace("[", "\\[").replace("<", "&lt;").replace("\n", " ")


def current_details(status: TicketStatus) -> str:
    """Markdown for the Web UI's current details: state, clocks, next and last escalation."""
    lines = [
        f"**{_cell(status.priority)} · {_cell(status.ticket_id)}** — {_cell(status.title)}",
        "",
        f"State: **{status.state.value}**"
        + (f" ({_cell(status.paused_reason)})" if status.paused_reason else "")
        + f" · team {_cell(status.team)} · assignee {_cell(status.assignee or 'none')}"
        + f" · policy {status.policy} v{status.policy_version}"
        + (f" · SLA plan **{_cell(status.plan)}**" if status.plan != DEFAULT_PLAN else ""),
        "",
    ]
    # A list, not a table: the Web UI renders markdown tables without cell padding, so their
    # columns run together ("targetelapsed").
    for name, clock in status.clocks.items():
        if not clock.started:
            continue  # a next-reply clock before the first customer message
        if clock.stopped_at:
            state = "stopped" + (" (breached)" if clock.breached else "")
        elif clock.breached:
            state = "**BREACHED**"
        else:
            state = "running" if clock.running else "paused"
        lines.append(
            f"- **{name}** · target {format_target(clock.target)} · elapsed "
            f"{format_duration(clock.elapsed)} · due "
            f"{_local(clock.due_at_local or clock.due_at, clock.timezone)} · {state}"
        )
    lines.append("")
    if status.next_escalation_level:
        lines.append(
            f"Next escalation: **{status.next_escalation_level}** at "
            f"{_when(status.next_escalation_at)}"
        )
    else:
        lines.append("Next escalation: none pending")
    if status.held_notices:
        held = [e for e in status.escalations if e.delivery.status == "held"]
        lines.append(
            f"Held for quiet hours: {status.held_notices} notice(s), the next until "
            f"{_when(min(e.held_until for e in held if e.held_until))}"
        )
    if status.escalations:
        last = status.escalations[-1]
        to = f"{len(last.recipients)} recipient(s)" if last.channel == "email" else last.channel
        lines.append(
            f"Last escalation: **{last.level}** (repeat {last.repeat}) at {_when(last.fired_at)}"
            f" to {to}: {last.delivery.status}"
        )
    return "\n".join(lines)
