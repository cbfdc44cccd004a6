"""Zones come from the pinned tzdata package, so every worker computes the same deadlines."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies.zones import TZDATA_VERSION, zone


def test_zones_are_read_from_the_pinned_tzdata() -> None:
    berlin = zone("Europe/Berlin")
    assert str(berlin) == "Europe/Berlin"
    assert zone("Europe/Berlin") is berlin  # one object per zone: same-zone math stays exact
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC).astimezone(berlin)
    assert summer.utcoffset() is not None
    assert summer.utcoffset().total_seconds() == 7200  # type: ignore[union-attr]
    assert TZDATA_VERSION[:4].isdigit()


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "../../etc/passwd", "Europe/", "", "Europe/Berlin/x/y"]
)
def test_unknown_or_malformed_zone_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="is not an IANA time zone"):
        zone(name)
