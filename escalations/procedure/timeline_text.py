"""A simulation, and a comparison of two, as text for a reviewer's terminal.

Every instant shows as its offset from the opening (the way events are written), its wall time
in the policy's zone, and UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import groupby

from escalations.procedure.compare import Comparison, FiringChange
from escalations.procedure.scenario import offset_text
from escalations.procedure.simulation import (
    HORIZON,
    EventOutcome,
    SimulatedFiring,
    Simulation,
)
from policies.durations import format_duration
from policies.zones import zone as load_zone
from workflows.ticket_channels import EMAIL
from workflows.ticket_messages import ClockStatus

_STOPS = {
    "until": "at --until",
    "resolved": "the ticket was resolved",
    "idle": "nothing left to fire or happen",
    "horizon": f"after {HORIZON.days} days (give --until to look further)",
}


def moment(at: datetime, zone: str) -> str:
    """``Mon 2026-11-16 11:00 EST (16:00Z)``: wall time in ``zone``, then UTC."""
    local = at.astimezone(load_zone(zone))
    seconds = ":%S" if local.second else ""
    text = local.strftime(f"%a %Y-%m-%d %H:%M{seconds} %Z")
    if zone in ("UTC", "Etc/UTC"):
        return text
    utc = at.astimezone(UTC)
    day = "" if utc.date() == local.date() else utc.strftime("%a ")
    return f"{text} ({day}{utc.strftime(f'%H:%M{seconds}')}Z)"


def render_simulation(sim: Simulation, zone: str | None = None) -> str:
    """The timeline of ``sim``: firings, events and breaches in order, then the clocks."""
    zone = zone or sim.zone
    s = sim.scenario
    lines = [
        f"Policy {sim.policy} v{sim.policy_version}: a {s.priority} ticket of team {s.team}, "
        f"SLA plan {sim.plan}, opened {moment(sim.opened_at, zone)}.",
        f"Times: +offset from opening, wall time in {zone}"
        + ("" if zone in ("UTC", "Etc/UTC") else ", UTC in brackets")
        + ".",
        "",
    ]
    entries: list[tuple[datetime, int, list[str]]] = []
    for event in sim.events:
        if event.outcome != "not reached":
            entries.append((event.event.at, 0, [_event_line(sim, event, zone)]))
    for breach in sim.breaches:
        head = _head(sim, breach.at, zone)
        entries.append((breach.at, 1, [f"{head}  {breach.clock} reached its target: breached"]))
    for (_, at), parts in groupby(sim.firings, key=lambda f: (f.key, f.at)):
        entries.append((at, 2, _firing_lines(sim, list(parts), zone)))
    entries.sort(key=lambda entry: (entry[0], entry[1]))
    lines += [line for _, _, block in entries for line in block] or ["  nothing fires"]
    lines += ["", f"Clocks at {_due(sim, sim.ended_at, zone)}:"]
    lines += [f"  {name:<15} {_clock_line(sim, c, zone)}" for name, c in sim.clocks.items()]
    unreached = [e for e in sim.events if e.outcome == "not reached"]
    lines += ["", f"Stopped: {_STOPS[sim.stopped]}."]
    if unreached:
        lines.append(
            "Not reached: " + ", ".join(repr(e.event.text or e.event.describe()) for e in unreached)
        )
    return "\n".join(lines) + "\n"


def render_comparison(comparison: Comparison, source: str, zone: str | None = None) -> str:
    """What ``comparison.after`` (the policy read from ``source``) changes for the ticket."""
    before, after = comparison.before, comparison.after
    zone = zone or before.zone
    lines = [f"Compared with policy {after.policy} v{after.policy_version} ({source}):"]
    if after.plan != before.plan:
        lines.append(f"  the ticket opens on SLA plan {after.plan}, not {before.plan}")
    if comparison.unchanged:
        lines.append("  no change: the same levels fire at the same instants to the same people")
    lines += [line for change in comparison.firings for line in _change_lines(after, change, zone)]
    for clock in comparison.clocks:
        was = _due(before, clock.before_due, zone)
        now = _due(after, clock.after_due, zone)
        outcome = "breached" if clock.after_breached else "not breached"
        lines.append(f"  clock {clock.clock}: due {now} instead of {was}; {outcome}")
    for event in comparison.events:
        lines.append(f"  event {event.event!r}: {event.after} (was {event.before})")
    return "\n".join(lines) + "\n"


def _head(sim: Simulation, at: datetime, zone: str) -> str:
    return f"{offset_text(at, sim.opened_at):>9}  {moment(at, zone)}"


def _event_line(sim: Simulation, event: EventOutcome, zone: str) -> str:
    what = (
        event.event.text
        or f"{event.event.describe()} at {offset_text(event.event.at, sim.opened_at)}"
    )
    said = event.outcome + (f": {event.detail}" if event.detail else "")
    return f"{_head(sim, event.event.at, zone)}  event {what!r}: {said}"


def _which(firing: SimulatedFiring | FiringChange) -> str:
    text = "first notice" if firing.repeat == 0 else f"repeat {firing.repeat}"
    return f"{firing.level} ({text}{f', reply cycle {firing.cycle}' if firing.cycle else ''})"


def _firing_lines(sim: Simulation, parts: list[SimulatedFiring], zone: str) -> list[str]:
    first = parts[0]
    lines = [f"{_head(sim, first.at, zone)}  {_which(first)}: {first.reason}"]
    actions = [action for part in parts for action in part.actions]
    if actions:
        lines.append(f"{'':13}actions: {', '.join(actions)}")
    for part in parts:
        if not part.recipients:
            lines.append(f"{'':13}nobody: {part.detail or 'the roles resolved to nobody'}")
        for notice in part.recipients:
            via = "" if notice.channel == EMAIL else " (channel)"
            rota = f" (on call in {notice.rotation})" if notice.rotation else ""
            lines.append(
                f"{'':13}{notice.role or '?':<12} {notice.address}{via}{rota}{_held(part, zone)}"
            )
    return lines


def _held(part: SimulatedFiring, zone: str) -> str:
    if part.held_until is None:
        return ""
    fate = {
        "sent": "",
        "held": ", still held when the timeline stops",
        "cancelled": ", cancelled: resolved first",
        "skipped": "",
    }[part.delivery]
    return f"  held for quiet hours until {moment(part.held_until, zone)}{fate}"


def _clock_line(sim: Simulation, clock: ClockStatus, zone: str) -> str:
    if clock.target is None:
        return f"no target on {clock.calendar}: never due"
    target = f"{_business(clock.target)} on {clock.calendar}"
    if not clock.started:
        return f"{target}: not started"
    if clock.stopped_at is not None:
        outcome = "breached" if clock.breached else "met"
        return f"{target}: stopped {_due(sim, clock.stopped_at, zone)}, {outcome}"
    due = _due(sim, clock.due_at, zone)
    return f"{target}: due {due}" + (", breached" if clock.breached else "")


def _business(target: timedelta) -> str:
    """``24h``, not ``1d``: business time is counted in hours, a day of it is not a day."""
    hours, rest = divmod(int(target.total_seconds()), 3600)
    return (f"{hours}h" if hours else "") + (
        format_duration(timedelta(seconds=rest)) if rest else ""
    ) or "0s"


def _due(sim: Simulation, at: datetime | None, zone: str) -> str:
    if at is None:
        return "never (stopped or not started)"
    return f"{offset_text(at, sim.opened_at)} {moment(at, zone)}"


def _change_lines(after: Simulation, change: FiringChange, zone: str) -> list[str]:
    which = _which(change)
    if change.kind == "removed":
        assert change.before is not None
        return [f"  {which}: no longer fires (fired {_due(after, change.before, zone)})"]
    if change.kind == "added":
        assert change.after is not None
        who = ", ".join(f"{n.role} {n.address}" for n in change.added) or "nobody"
        return [f"  {which}: newly fires {_due(after, change.after, zone)}, to {who}"]
    lines = []
    if change.kind in ("earlier", "later"):
        assert change.before is not None
        assert change.after is not None
        delta = format_duration(abs(change.after - change.before))
        lines.append(
            f"  {which}: {delta} {change.kind}, {_due(after, change.after, zone)} instead of "
            f"{offset_text(change.before, after.opened_at)}"
        )
    else:
        lines.append(f"  {which}: same instant, other recipients or quiet hours")
    if change.added:
        lines.append("      added: " + ", ".join(f"{n.role} {n.address}" for n in change.added))
    if change.removed:
        lines.append("      removed: " + ", ".join(f"{n.role} {n.address}" for n in change.removed))
    for held in change.held:
        was = f"held until {moment(held.before, zone)}" if held.before else "sent at once"
        now = f"held until {moment(held.after, zone)}" if held.after else "sent at once"
        lines.append(f"      {held.address}: {now} (was {was})")
    return lines
