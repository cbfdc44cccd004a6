"""Time zones from the pinned ``tzdata`` package, never from the host.

``zoneinfo.ZoneInfo`` prefers the operating system's zone files, whose version differs between
base images and changes with OS updates. Deadlines that depend on which machine computed them
would make two workers disagree about the same ticket (and a replay elsewhere fire differently),
so every zone the SLA math uses is read from the ``tzdata`` release this project pins, and moves
only when the project upgrades it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

import tzdata  # type: ignore[import-untyped]  # ships no type information

TZDATA_VERSION: str = tzdata.IANA_VERSION
"""The IANA time zone database release the SLA math uses (``2026f``)."""

_KEY = re.compile(r"^[A-Za-z0-9_+-]+(?:/[A-Za-z0-9_+-]+){0,2}$")


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The zone ``name`` (``Europe/Berlin``) from the pinned tzdata.

    Raises:
        ValueError: ``name`` is not an IANA zone in that release.
    """
    if name == "UTC":
        name = "Etc/UTC"
    path = resources.files("tzdata.zoneinfo")
    if _KEY.match(name):
        for part in name.split("/"):
            path = path / part
        if path.is_file():
            with path.open("rb") as data:
                return ZoneInfo.from_file(data, key=name)
    raise ValueError(
        f"{name!r} is not an IANA time zone such as Europe/Berlin or America/New_York "
        f"(tz database {TZDATA_VERSION})"
    )
