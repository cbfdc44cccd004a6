"""On-call rotations: who of a rotation's members is on call at an instant.

```yaml
rotations:
  support-primary:
    members: [ana@example.com, bo@example.com, cy@example.com]
    turn: weekly                # daily | weekly
    handoff: "09:00"            # wall-clock time of each hand-off in timezone
    handoff_day: mon            # weekly only; must be start's weekday
    timezone: America/New_York
    start: 2026-01-05           # the first member's first turn begins then, at handoff
    overrides:                  # first match wins
      - {from: "2026-12-24T09:00", until: "2026-12-27T09:00", member: dee@example.com}
```

Turn ``k`` (0 for the first) begins on the local date ``start + k`` days (daily) or weeks
(weekly) at ``handoff`` and ends when turn ``k + 1`` begins; member ``k mod len(members)`` holds
it. Turns are counted in local dates, never in hours, so a turn spanning a DST change is an hour
shorter or longer and every hand-off stays at ``handoff`` on the wall clock.

Local times become instants as everywhere in the policy math (fold=0, as RFC 5545 does): a
hand-off in the hour skipped in spring moves forward by the gap (02:30 becomes 03:30), and one in
the hour repeated in autumn is its first occurrence. Overrides written without an offset are
local times in ``timezone`` read the same way; with an offset they are exact instants.

Before ``start`` the first member's first turn reaches back: a rotation always names someone, so
a level that fires before a newly added rotation begins still pages a person (the validation
cannot know when tickets fire; a policy is checked without a clock). Overrides apply before
``start`` too.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from policies.calendar_definition import DAY_NAMES, TimeZoneName
from policies.emails import is_email_address
from policies.zones import zone

MAX_MEMBERS = 100
MAX_OVERRIDES = 200
TURN_DAYS = {"daily": 1, "weekly": 7}

_CLOCK_TIME = re.compile(r"^(\d{2}):(\d{2})(?::00)?\Z")  # ":00" seconds: the form JSON dumps


def _clock_time(value: Any) -> Any:
    if isinstance(value, time):
        value = value.strftime("%H:%M:%S")
    if not isinstance(value, str):
        # YAML 1.1 reads an unquoted 9:30 as the number 570, so say how to write it.
        raise ValueError(f"{value!r} is not a time of day; write it in quotes, such as '09:00'")
    match = _CLOCK_TIME.match(value.strip())
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"{value[:40]!r} is not a time of day such as '09:00' (00:00 to 23:59)")
    return f"{match[1]}:{match[2]}"


ClockTime = Annotated[str, BeforeValidator(_clock_time)]
"""A wall-clock time of day, ``HH:MM``."""

MemberName = Annotated[str, StringConstraints(min_length=1, max_length=254)]
"""An email address or a channel's name; the policy checks which (see :func:`rotation_problems`)."""

DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Override(_Strict):
    """``member`` is on call from ``from`` until (before) ``until``, whoever's turn it is."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: datetime = Field(alias="from")
    until: datetime
    member: MemberName


class Rotation(_Strict):
    """An on-call rotation: members taking daily or weekly turns, handed off at a local time."""

    members: list[MemberName] = Field(min_length=1, max_length=MAX_MEMBERS)
    turn: Literal["daily", "weekly"]
    handoff: ClockTime
    handoff_day: DayName | None = None
    """Weekly only: the weekday of each hand-off, which is ``start``'s (a check for readers)."""
    timezone: TimeZoneName
    start: date
    overrides: list[Override] = Field(default_factory=list, max_length=MAX_OVERRIDES)

    @model_validator(mode="after")
    def _consistent(self) -> Rotation:
        problems: list[str] = []
        start_day = DAY_NAMES[self.start.weekday()]
        if self.turn == "daily" and self.handoff_day is not None:
            problems.append(
                "handoff_day: only a weekly rotation has a hand-off day; a daily one hands off "
                "every day"
            )
        if self.turn == "weekly" and self.handoff_day not in (None, start_day):
            problems.append(
                f"start: {self.start} is a {start_day}, not the handoff_day "
                f"{self.handoff_day}; a weekly rotation's first turn begins on a hand-off day"
            )
        for i, override in enumerate(self.overrides):
            begins, ends = override_window(self, override)
            if ends <= begins:
                problems.append(
                    f"overrides.{i}: until {override.until.isoformat()} is not after from "
                    f"{override.from_.isoformat()}"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def turn_days(self) -> int:
        """The length of one turn in local days: 1 or 7."""
        return TURN_DAYS[self.turn]

    @property
    def handoff_time(self) -> time:
        """The wall-clock time of each hand-off."""
        return time.fromisoformat(self.handoff)


@dataclass(frozen=True)
class Shift:
    """Who is on call at an instant and the stretch of time that puts them there.

    Attributes:
        member: The email address or channel on call.
        begins: When the stretch began (UTC); None for the first member's turn reaching back
            before the rotation's start.
        ends: When it ends (UTC): the next hand-off, or the override's ``until``.
        override: The index of the override in force, or None for a regular turn.
    """

    member: str
    begins: datetime | None
    ends: datetime
    override: int | None = None


def _instant(local: datetime, rotation: Rotation) -> datetime:
    """``local`` as a UTC instant: a naive one is a wall time in the rotation's zone (fold=0)."""
    if local.tzinfo is None or local.utcoffset() is None:
        local = local.replace(tzinfo=zone(rotation.timezone), fold=0)
    return local.astimezone(UTC)


def override_window(rotation: Rotation, override: Override) -> tuple[datetime, datetime]:
    """The instants (UTC) an override of ``rotation`` begins and ends."""
    return _instant(override.from_, rotation), _instant(override.until, rotation)


def handoff_at(rotation: Rotation, turn: int) -> datetime:
    """The instant (UTC) turn ``turn`` begins; turn 0 is the first member's first turn."""
    day = rotation.start + timedelta(days=turn * rotation.turn_days)
    return _instant(datetime.combine(day, rotation.handoff_time), rotation)


def turn_at(rotation: Rotation, at: datetime) -> int:
    """The number of the turn running at ``at``, by the hand-offs alone (negative before start).

    Raises:
        ValueError: ``at`` has no time zone, or lies where dates run out (year 1 or 9999).
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at.isoformat()} has no time zone; on-call math needs aware datetimes")
    try:
        local_day = at.astimezone(zone(rotation.timezone)).date()
        turn = (local_day - rotation.start).days // rotation.turn_days
        # The local date gives the turn, or its neighbour when ``at`` falls on a hand-off day
        # before the hand-off (or a hand-off moved by a DST gap); each loop runs at most twice.
        while handoff_at(rotation, turn) > at:
            turn -= 1
        while handoff_at(rotation, turn + 1) <= at:
            turn += 1
    except OverflowError:
        raise ValueError(
            f"{at.isoformat()} is too close to the ends of the calendar (years 1 and 9999)"
        ) from None
    return turn


def shift_at(rotation: Rotation, at: datetime) -> Shift:
    """Who of ``rotation`` is on call at ``at`` (aware), and since and until when.

    The first override whose window holds ``at`` wins; otherwise the member whose turn it is,
    and before ``start`` the first member.

    Raises:
        ValueError: ``at`` has no time zone, or lies where dates run out.
    """
    turn = turn_at(rotation, at)
    for i, override in enumerate(rotation.overrides):
        begins, ends = override_window(rotation, override)
        if begins <= at < ends:
            return Shift(override.member, begins, ends, override=i)
    if turn < 0:
        return Shift(rotation.members[0], None, handoff_at(rotation, 0))
    member = rotation.members[turn % len(rotation.members)]
    return Shift(member, handoff_at(rotation, turn), handoff_at(rotation, turn + 1))


def on_call(rotation: Rotation, at: datetime) -> str:
    """The member (an email address or channel) of ``rotation`` on call at ``at``.

    Raises:
        ValueError: ``at`` has no time zone, or lies where dates run out.
    """
    return shift_at(rotation, at).member


def rotation_problems(
    rotations: Mapping[str, Rotation], channels: Collection[str], roles: Collection[str]
) -> list[str]:
    """What is wrong with a policy's ``rotations`` given its channels and roles: a name that
    clashes with a role or channel, and a member that is neither an address nor a channel."""
    problems: list[str] = []
    defined = ", ".join(sorted(channels)) or "none"
    for name, rotation in rotations.items():
        where = f"rotations.{name}"
        # A contact entry or quiet-hours key naming it must mean one thing.
        clashes = [
            kind for kind, names in (("role", roles), ("channel", channels)) if name in names
        ]
        problems += [
            f"{where}: {name!r} is also the name of a {kind}; give the rotation a name of its own"
            for kind in clashes
        ]
        entries = [(f"members.{i}", m) for i, m in enumerate(rotation.members)] + [
            (f"overrides.{i}.member", o.member) for i, o in enumerate(rotation.overrides)
        ]
        for field, member in entries:
            if is_email_address(member) or member in channels:
                continue
            if member in rotations:
                problems.append(
                    f"{where}.{field}: {member!r} is a rotation; members are email addresses or "
                    "channels"
                )
            else:
                problems.append(
                    f"{where}.{field}: {member[:80]!r} is not an email address, and no channel of "
                    f"that name is defined under channels (defined: {defined})"
                )
    return problems
