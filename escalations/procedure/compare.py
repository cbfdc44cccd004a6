"""What a policy change would alter for one ticket: two simulations of the same scenario, side
by side.

Firings are matched by what they are (a level's first notice, its second repeat, in the same
next-reply cycle), not by position: a level that fires earlier is one change, not a removal
and an addition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from escalations.procedure.simulation import EventOutcome, Notice, SimulatedFiring, Simulation

Kind = Literal["earlier", "later", "removed", "added", "recipients"]


class HeldChange(BaseModel):
    """A recipient of the same firing whose notice waits for quiet hours differently."""

    address: str
    channel: str
    before: datetime | None
    """When their notice went out under the first policy (None: at once)."""
    after: datetime | None


class FiringChange(BaseModel):
    """One firing of one level that the second policy changes."""

    level: str
    repeat: int
    cycle: int
    kind: Kind
    """``earlier`` or ``later`` (it fires at another instant), ``removed`` (it no longer
    fires), ``added`` (it newly fires), ``recipients`` (same instant, other recipients)."""
    before: datetime | None
    """When it fired under the first policy (None: it did not)."""
    after: datetime | None
    added: list[Notice]
    """Recipients only the second policy reaches."""
    removed: list[Notice]
    """Recipients only the first policy reached."""
    held: list[HeldChange]


class ClockChange(BaseModel):
    """A clock whose due instant or outcome the second policy changes."""

    clock: str
    before_due: datetime | None
    after_due: datetime | None
    before_breached: bool
    after_breached: bool


class EventChange(BaseModel):
    """A scripted event one policy's ticket took and the other's refused (or never reached)."""

    event: str
    before: str
    after: str


class Comparison(BaseModel):
    """The same scenario under two policies, and what differs."""

    before: Simulation
    after: Simulation
    firings: list[FiringChange]
    clocks: list[ClockChange]
    events: list[EventChange]

    @property
    def unchanged(self) -> bool:
        """Whether the second policy changes nothing for this ticket."""
        return not (self.firings or self.clocks or self.events)


_Key = tuple[str, int, int]
_Reach = dict[tuple[str, str], tuple[Notice, datetime | None]]


def compare(before: Simulation, after: Simulation) -> Comparison:
    """What changes from ``before`` to ``after`` (the same scenario under another policy)."""
    old, new = _by_firing(before.firings), _by_firing(after.firings)
    changes = [
        change
        for key in sorted(old.keys() | new.keys(), key=lambda k: _first_at(k, old, new))
        if (change := _change(key, old.get(key), new.get(key))) is not None
    ]
    clocks = [
        ClockChange(
            clock=name,
            before_due=was.due_at,
            after_due=now.due_at,
            before_breached=was.breached,
            after_breached=now.breached,
        )
        for name, was in before.clocks.items()
        if (now := after.clocks.get(name)) is not None
        and (was.due_at, was.breached) != (now.due_at, now.breached)
    ]
    events = [
        EventChange(
            event=a.event.text or a.event.describe(),
            before=_said(a),
            after=_said(b),
        )
        for a, b in zip(before.events, after.events, strict=True)
        if a.outcome != b.outcome
    ]
    return Comparison(before=before, after=after, firings=changes, clocks=clocks, events=events)


def _said(outcome: EventOutcome) -> str:
    """``applied``, ``not reached``, or the ticket's refusal."""
    return outcome.detail or "refused" if outcome.outcome == "refused" else outcome.outcome


def _by_firing(firings: list[SimulatedFiring]) -> dict[_Key, list[SimulatedFiring]]:
    grouped: dict[_Key, list[SimulatedFiring]] = {}
    for firing in firings:
        grouped.setdefault(firing.key, []).append(firing)
    return grouped


def _first_at(
    key: _Key, old: dict[_Key, list[SimulatedFiring]], new: dict[_Key, list[SimulatedFiring]]
) -> tuple[datetime, _Key]:
    return (min(f.at for f in old.get(key, []) + new.get(key, [])), key)


def _reach(parts: list[SimulatedFiring]) -> _Reach:
    """Each recipient of a firing's parts, and when quiet hours let their notice go out."""
    return {
        (notice.address.lower(), notice.channel): (notice, part.held_until)
        for part in parts
        for notice in part.recipients
    }


def _change(
    key: _Key, old: list[SimulatedFiring] | None, new: list[SimulatedFiring] | None
) -> FiringChange | None:
    level, repeat, cycle = key
    before = old[0].at if old else None
    after = new[0].at if new else None
    was, now = _reach(old or []), _reach(new or [])
    added = [now[k][0] for k in now.keys() - was.keys()]
    removed = [was[k][0] for k in was.keys() - now.keys()]
    held = [
        HeldChange(address=address, channel=channel, before=was[k][1], after=now[k][1])
        for k in was.keys() & now.keys()
        if was[k][1] != now[k][1]
        for address, channel in [(was[k][0].address, was[k][0].channel)]
    ]
    kind: Kind
    if before is None:
        kind = "added"
    elif after is None:
        kind = "removed"
    elif after != before:
        kind = "earlier" if after < before else "later"
    elif added or removed or held:
        kind = "recipients"
    else:
        return None
    return FiringChange(
        level=level,
        repeat=repeat,
        cycle=cycle,
        kind=kind,
        before=before,
        after=after,
        added=sorted(added, key=_order),
        removed=sorted(removed, key=_order),
        held=sorted(held, key=lambda h: (h.address, h.channel)),
    )


def _order(notice: Notice) -> tuple[str, str, str]:
    return (notice.role, notice.address, notice.channel)
