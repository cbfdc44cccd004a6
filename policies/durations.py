"""Human durations in policy files: ``90s``, ``15m``, ``4h``, ``1d``, ``1h30m``.

Policies are authored by people, so durations are written the way people write them. Pydantic's
own ISO 8601 form (``PT15M``) is accepted too, because that is how a policy comes back after a
round trip through the Temporal data converter.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

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
    compact = text.strip().replace(" ", "").lower()
    if compact and _HUMAN.match(compact):
        seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(compact))
        return _bounded(text, seconds)
    iso = _ISO.match(text.strip().upper())
    if iso and any(iso.groupdict().values()):
        parts = {k: int(v) if v else 0 for k, v in iso.groupdict().items()}
        seconds = parts["d"] * 86_400 + parts["h"] * 3_600 + parts["m"] * 60 + parts["s"]
        return _bounded(text, seconds)
    raise ValueError(
        f"{text!r} is not a duration: write a number and a unit, such as 90s, 15m, 4h, 2d, "
        "1w or 1h30m"
    )


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
