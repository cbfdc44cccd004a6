"""A policy's settings in the words staff read: calendars, durations, triggers and channels.

The phrasing here is for people learning a procedure, so it spells out what the YAML leaves
implicit ("and the ticket still has no first response"). Notices and the Web UI keep their
short form, :func:`policies.ladder.describe_condition`.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from policies.calendar_definition import (
    MINUTES_PER_DAY,
    CalendarDefinition,
    Minutes,
    format_interval,
    parse_interval,
)
from policies.channels import (
    Channel,
    PagerDutySettings,
    SlackSettings,
    TeamsSettings,
    WebhookSettings,
)
from policies.durations import TargetSpec
from policies.model import (
    ALWAYS_OPEN,
    AllCondition,
    AnyCondition,
    ClockCondition,
    ClockName,
    Condition,
    FieldCondition,
)
from policies.rotations import Rotation, override_window
from policies.zones import zone

_DAY_TITLES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# C0 and C1 controls (tab and newline excepted), lone surrogates, and the bidirectional
# overrides and isolates that can make text read differently from what it is.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character (tab and newline excepted), lone surrogate and
    bidirectional override replaced by U+FFFD: a policy description is free text, and a
    terminal escape or a reversed run in it must not reach a reader's page as such."""
    return _UNPRINTABLE.sub("\ufffd", text)


CLOCK_WORDS = {
    ClockName.FIRST_RESPONSE: "first response",
    ClockName.RESOLUTION: "resolution",
    ClockName.NEXT_REPLY: "next reply",
}
"""Each clock's name in a sentence."""

_STILL = {
    ClockName.FIRST_RESPONSE: "the ticket still has no first response",
    ClockName.RESOLUTION: "the ticket is still unresolved",
    ClockName.NEXT_REPLY: "the customer's latest message is still unanswered",
}


def duration(value: timedelta, *, days: bool = True) -> str:
    """``15m``, ``1h30m``, ``7d``; with ``days=False`` hours never become days, because 24h of
    business time is several working days, not one."""
    total = int(value.total_seconds())
    units = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
    parts = []
    for unit, size in units if days else units[1:]:
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def listing(items: list[str], last: str = "and") -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def moment(at: datetime) -> str:
    """``Tue 1 Dec 10:00`` in ``at``'s own zone; seconds only when there are some."""
    clock = at.strftime("%H:%M:%S" if at.second else "%H:%M")
    return f"{_DAY_TITLES[at.weekday()]} {at.day} {_MONTHS[at.month - 1][:3]} {clock}"


def moment_after(at: datetime, previous: datetime) -> str:
    """:func:`moment`, leaving out the date when it is the day of ``previous``
    (``Tue 10:11``)."""
    if at.date() == previous.date():
        clock = at.strftime("%H:%M:%S" if at.second else "%H:%M")
        return f"{_DAY_TITLES[at.weekday()]} {clock}"
    return moment(at)


def long_date(day: date) -> str:
    """``Thu 31 December 2026``."""
    return f"{_DAY_TITLES[day.weekday()]} {day.day} {_MONTHS[day.month - 1]} {day.year}"


def zone_words(name: str) -> str:
    """``New York time (America/New_York)``; ``UTC`` alone."""
    if name in ("UTC", "Etc/UTC"):
        return "UTC"
    city = name.rsplit("/", 1)[-1].replace("_", " ")
    if name.startswith("Etc/") or "/" not in name:
        return f"{name} time"
    return f"{city} time ({name})"


def _days(days: list[int]) -> str:
    if days == list(range(7)):
        return "Every day"
    if days == list(range(5)):
        return "Weekdays"
    if days == [5, 6]:
        return "Weekends"
    if len(days) >= 3 and days == list(range(days[0], days[-1] + 1)):
        return f"{_DAY_TITLES[days[0]]}-{_DAY_TITLES[days[-1]]}"
    return listing([_DAY_TITLES[d] for d in days])


def _hours(intervals: tuple[Minutes, ...] | list[Minutes]) -> str:
    shown = []
    for start, end in intervals:
        if (start, end) == (0, MINUTES_PER_DAY):
            shown.append("all day")
        elif end > MINUTES_PER_DAY:
            shown.append(f"{format_interval((start, end))} (into the next day)")
        else:
            shown.append(format_interval((start, end)))
    return listing(shown)


def _rule_day(rule: str) -> str:
    if len(rule) == 5:  # MM-DD, every year
        return f"every {int(rule[3:])} {_MONTHS[int(rule[:2]) - 1]}"
    return long_date(date.fromisoformat(rule))


def _holidays(definition: CalendarDefinition) -> list[str]:
    source = definition.holidays
    if source is None:
        return []
    found = []
    if source.country is not None:
        region = source.country
        if source.subdivision:
            region += f" ({source.subdivision})"
        found.append(f"{region} public holidays off")
    if source.ical is not None:
        found.append(f"the holidays listed in {source.ical} off")
    return found


def calendar_words(name: str, definition: CalendarDefinition | None) -> str:
    """A calendar in a sentence: ``Weekdays 08:00-12:00 and 13:00-18:00 New York time
    (America/New_York); US public holidays off; every 24 December 08:00-13:00 only; closed every
    31 December``. ``definition`` is None for the built-in 24x7 calendar."""
    if definition is None or name == ALWAYS_OPEN:
        return "Around the clock: every minute of every day counts"
    week = definition.weekly_minutes()
    groups: dict[tuple[Minutes, ...], list[int]] = {}
    for day, intervals in enumerate(week):
        if intervals:
            groups.setdefault(tuple(intervals), []).append(day)
    opening = [f"{_days(days)} {_hours(hours)}" for hours, days in groups.items()]
    # With several groups the zone is a group of its own, or it would read as the last one's.
    parts = [
        f"{', '.join(opening)}{',' if len(opening) > 1 else ''} {zone_words(definition.timezone)}"
    ]
    parts += _holidays(definition)
    for rule, texts in sorted(definition.open.items()):
        parts.append(f"{_rule_day(rule)} {_hours([parse_interval(t) for t in texts])} only")
    closed = [_rule_day(rule) for rule in sorted(definition.closed)]
    if closed:
        parts.append(f"closed {listing(closed)}")
    return "; ".join(parts)


def _threshold(condition: ClockCondition) -> str:
    target = f"the {CLOCK_WORDS[condition.clock]} target"
    if condition.at is not None:
        if condition.at == 100:
            return f"{target} is breached (100% has passed)"
        return f"{condition.at:g}% of {target} has passed"
    if condition.after_breach is not None:
        return f"{duration(condition.after_breach, days=False)} past {target}"
    assert condition.before_breach is not None
    return f"{duration(condition.before_breach, days=False)} before {target} is breached"


_FIELD_WORDS = {
    "affected_users": "the number of affected users",
    "priority": "the priority",
    "team": "the team",
    "customer": "the customer",
}
_ORDER_WORDS = {"gte": "is {} or more", "gt": "is more than {}", "lte": "is at most {}"}


def _field(condition: FieldCondition) -> str:
    if condition.field == "critical_service":
        return (
            "a critical business service is affected"
            if condition.eq
            else ("no critical business service is affected")
        )
    subject = _FIELD_WORDS[condition.field]
    if condition.in_ is not None:
        return f"{subject} is one of {listing(condition.in_, 'or')}"
    if condition.eq is not None:
        return f"{subject} is {condition.eq}"
    for op, phrase in _ORDER_WORDS.items():
        value = getattr(condition, op)
        if value is not None:
            return f"{subject} {phrase.format(value)}"
    return f"{subject} is fewer than {condition.lt}"


def condition_words(condition: Condition, nested: bool = False) -> str:
    """A level's trigger as a sentence: ``75% of the first response target has passed and the
    ticket still has no first response``."""
    if isinstance(condition, ClockCondition):
        return f"{_threshold(condition)} and {_STILL[condition.clock]}"
    if isinstance(condition, FieldCondition):
        return _field(condition)
    parts = condition.any if isinstance(condition, AnyCondition) else condition.all
    joined = f"; {'or' if isinstance(condition, AnyCondition) else 'and'} ".join(
        condition_words(part, nested=True) for part in parts
    )
    if isinstance(condition, AllCondition):
        return f"({joined})" if nested else f"all of: {joined}"
    return f"({joined})" if nested else f"any of: {joined}"


def clock_parts(condition: Condition) -> list[ClockCondition]:
    """Every clock condition inside ``condition``, in the order written."""
    if isinstance(condition, ClockCondition):
        return [condition]
    if isinstance(condition, FieldCondition):
        return []
    parts = condition.any if isinstance(condition, AnyCondition) else condition.all
    return [clock for part in parts for clock in clock_parts(part)]


def _ordinal(number: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    if 11 <= number % 100 <= 13:
        suffix = "th"
    return f"{number}{suffix}"


def target_words(target: TargetSpec | None) -> str:
    """A target as authored, in words: ``4h``, ``2 working days``, ``end of the working day``;
    ``none (response only)`` for a resolution without a target."""
    if target is None:
        return "none (response only)"
    if isinstance(target, timedelta):
        return duration(target, days=False)
    if not target.end_of_day:
        return f"{target.days} working day{'s' if target.days != 1 else ''}"
    if target.days == 0:
        return "end of the working day"
    return f"end of the {_ordinal(target.days)} working day after the start day"


def threshold_note(condition: ClockCondition, target: TargetSpec) -> str:
    """Why a clock condition fired, against one target: ``75% of the 15m first response
    target``."""
    clock = CLOCK_WORDS[condition.clock]
    if isinstance(target, timedelta):
        target_text = f"the {target_words(target)} {clock} target"
    else:
        target_text = f"the {clock} target: {target_words(target)}"
    if condition.at is not None:
        return f"{condition.at:g}% of {target_text}"
    if condition.after_breach is not None:
        return f"{duration(condition.after_breach, days=False)} past {target_text}"
    assert condition.before_breach is not None
    return f"{duration(condition.before_breach, days=False)} before {target_text}"


def channel_words(name: str, channel: Channel) -> str:
    """How a channel reaches people: ``Slack #support-escalations``, ``PagerDuty service
    pagerduty-support``."""
    settings = channel.settings
    if isinstance(settings, SlackSettings):
        shown = settings.channel
        if not shown.startswith("#") and not shown[:1].isupper():
            shown = f"#{shown}"
        return f"Slack {shown}"
    if isinstance(settings, PagerDutySettings):
        extra = [
            f"{key} {value}"
            for key, value in (("component", settings.component), ("group", settings.group))
            if value
        ]
        return f"PagerDuty service {name}" + (f" ({', '.join(extra)})" if extra else "")
    if isinstance(settings, TeamsSettings):
        return f"Microsoft Teams ({name})"
    assert isinstance(settings, WebhookSettings)
    where = settings.url or f"the URL in ${settings.url_env}"
    return f"signed webhook {name} to {where}"


def rotation_words(rotation: Rotation) -> str:
    """A rotation in a sentence: its turns, hand-offs, members in order and overrides."""
    local = zone(rotation.timezone)
    handoff = f"{rotation.handoff} {zone_words(rotation.timezone)}"
    if rotation.turn == "weekly":
        handoff = f"{_DAY_TITLES[rotation.start.weekday()]} {handoff}"
    text = (
        f"{rotation.turn.title()} turns handed over at {handoff}, starting "
        f"{long_date(rotation.start)}, in this order: {listing(list(rotation.members))}"
    )
    overrides = []
    for override in rotation.overrides:
        begins, ends = override_window(rotation, override)
        overrides.append(
            f"{override.member} from {moment(begins.astimezone(local))} until "
            f"{moment(ends.astimezone(local))}"
        )
    if overrides:
        text += f"; instead of the turns: {listing(overrides)}"
    return text
