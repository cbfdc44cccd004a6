"""Human durations in policy files: ``90s``, ``15m``, ``4h``, ``1d``, ``1h30m``.

Policies are authored by people, so durations are written the way people write them. Pydantic's
own ISO 8601 form (``PT15M``) is accepted too, because that is how a policy comes back after a
round trip through the Temporal data converter.

An SLA target may also be counted in working days (``2bd``, ``eod``, ``2bd eod``): a
:class:`WorkingDays` value here, turned into business time by :mod:`policies.working_days` when
its clock starts. Both kinds are written back as they were authored, so a policy that travels
as JSON in a workflow's history reads the same on the other side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, PlainValidator, SerializationInfo

MAX_DURATION_SECONDS = 366 * 86_400
_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_HUMAN = re.compile(r"^(?:\d+[wdhms])+$")
_PART = re.compile(r"(\d+)([wdhms])")
_ISO = re.compile(r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+)S)?)?$")


def parse_duration(text: str) -> timedelta:
    """Parse ``1h30m``-style text (or ISO 8601 ``PT1H30M``) into a timedelta.

    Raises:
        ValueError: with a message that shows the accepted forms.
    """
    duration = _duration_or_none(text)
    if duration is None:
        raise ValueError(
            f"{text!r} is not a duration: write a number and a unit, such as 90s, 15m, 4h, 2d, "
            "1w or 1h30m"
        )
    return duration


def _duration_or_none(text: str) -> timedelta | None:
    """The duration ``text`` writes, or None when it is not written as one."""
    compact = text.strip().replace(" ", "").lower()
    if compact and _HUMAN.match(compact):
        seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(compact))
        return _bounded(text, seconds)
    iso = _ISO.match(text.strip().upper())
    if iso and any(iso.groupdict().values()):
        parts = {k: int(v) if v else 0 for k, v in iso.groupdict().items()}
        seconds = parts["d"] * 86_400 + parts["h"] * 3_600 + parts["m"] * 60 + parts["s"]
        return _bounded(text, seconds)
    return None


def _bounded(text: str, seconds: int) -> timedelta:
    # Checked before building the timedelta: ``99999999999w`` would otherwise overflow it, and
    # no SLA target, threshold or repeat interval needs more than a year.
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"{text!r} is longer than the longest allowed duration, 366d")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Format a timedelta the way authors write it (``1h30m``); negative values get a ``-``."""
    total = int(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total == 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


def _coerce_duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration must be text such as 15m or 4h, not true/false")
    if isinstance(value, int | float):
        raise ValueError(
            f"{value!r} has no unit: write 90s, 15m, 4h or 2d rather than a bare number"
        )
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"{value!r} is not a duration such as 15m or 4h")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    if value.microseconds:
        raise ValueError("must be a whole number of seconds")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_coerce_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A duration field: written ``15m`` in YAML and JSON, a timedelta in Python."""

PositiveDuration = Annotated[Duration, BeforeValidator(lambda v: _positive(_coerce_duration(v)))]
"""A duration that must be longer than zero, in whole seconds."""


# -- SLA targets: a duration, or working days ---------------------------------------------------

MAX_WORKING_DAYS = 60
"""The most working days a target may count: twelve working weeks."""

_WORKING_DAYS = re.compile(r"^(?:(\d+)bd)?(eod)?$")


@dataclass(frozen=True)
class WorkingDays:
    """A target counted in working days of its calendar (see :mod:`policies.working_days`).

    Written ``2bd`` (``days`` full working days), ``eod`` (the end of the working day the clock
    starts on) or ``2bd eod`` (the end of the second working day after it).

    Attributes:
        days: Working days after the day the clock starts on; 0 only for ``eod``.
        end_of_day: Due when that day's working hours end, rather than at the time of day the
            clock started.

    Raises:
        ValueError: ``days`` is outside 1 to :data:`MAX_WORKING_DAYS` (or 0 without
            ``end_of_day``).
    """

    days: int
    end_of_day: bool = False

    def __post_init__(self) -> None:
        if not (self.end_of_day and self.days == 0) and not 1 <= self.days <= MAX_WORKING_DAYS:
            raise ValueError(
                f"{self.days}bd is out of range; write 1bd to {MAX_WORKING_DAYS}bd"
                + (", or eod for the end of the start day" if self.days == 0 else "")
            )

    def __str__(self) -> str:
        if not self.end_of_day:
            return f"{self.days}bd"
        return "eod" if self.days == 0 else f"{self.days}bd eod"


TargetSpec = timedelta | WorkingDays
"""An SLA target as authored: a business duration, or working days."""

_TARGET_FORMS = (
    "write a number and a unit, such as 90s, 15m, 4h or 1h30m, or working days: 2bd, eod (the "
    "end of the working day) or 2bd eod"
)


def parse_target(text: str) -> TargetSpec:
    """Parse a target: ``4h`` (a positive whole-second duration), ``2bd``, ``eod`` or
    ``2bd eod``; case and spaces do not matter.

    Raises:
        ValueError: with a message that shows the accepted forms.
    """
    compact = text.strip().replace(" ", "").lower()
    working = _WORKING_DAYS.match(compact)
    if compact and working:
        days, end_of_day = working.groups()
        if days is not None and int(days) == 0:
            raise ValueError(
                f"{text!r} counts no working days; write 1bd to {MAX_WORKING_DAYS}bd, or eod for "
                "the end of the start day"
            )
        return WorkingDays(int(days or 0), end_of_day is not None)
    if compact == "none":
        raise ValueError(
            "none is allowed for resolution only (a response-only target); first_response "
            "always has a target, and next_reply left out takes first_response's"
        )
    duration = _duration_or_none(text)
    if duration is None:
        raise ValueError(f"{text!r} is not a duration or working days: {_TARGET_FORMS}")
    return _positive(duration)


def format_target(target: TargetSpec | None) -> str:
    """A target the way authors write it (``4h``, ``2bd``, ``eod``); ``none`` for no target."""
    if target is None:
        return "none"
    if isinstance(target, WorkingDays):
        return str(target)
    return format_duration(target)


def _coerce_target(value: Any) -> TargetSpec:
    if isinstance(value, WorkingDays):
        return value
    if isinstance(value, timedelta):
        return _positive(value)
    if isinstance(value, str):
        return parse_target(value)
    if isinstance(value, bool) or value is None:
        raise ValueError(f"a target is text: {_TARGET_FORMS}")
    if isinstance(value, int | float):
        raise ValueError(f"{value!r} has no unit: {_TARGET_FORMS}, rather than a bare number")
    raise ValueError(f"{value!r} is not a duration or working days: {_TARGET_FORMS}")


def _coerce_optional_target(value: Any) -> TargetSpec | None:
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    return _coerce_target(value)


def _serialize_target(value: TargetSpec | None, info: SerializationInfo) -> Any:
    # A duration dumps as a Duration field does (a timedelta in Python, text in JSON), so
    # policies without working days dump exactly as before; working days are always text.
    if isinstance(value, WorkingDays):
        return str(value)
    if isinstance(value, timedelta) and info.mode_is_json():
        return format_duration(value)
    return value


Target = Annotated[
    TargetSpec,
    PlainValidator(_coerce_target, json_schema_input_type=str),
    PlainSerializer(_serialize_target),
]
"""An SLA target field: ``4h``, ``2bd``, ``eod`` or ``2bd eod``."""

OptionalTarget = Annotated[
    TargetSpec | None,
    PlainValidator(_coerce_optional_target, json_schema_input_type=str | None),
    PlainSerializer(_serialize_target),
]
"""A target that may be absent (``none`` or null): the clock then counts without a target."""
