"""Summary statistics for the report: nearest-rank percentiles and their companions.

The report uses the nearest-rank percentile because it always returns a time some ticket
actually took (no interpolated value that no customer saw), it is exact on small groups, and a
test can compute it by hand: the p-th percentile of n sorted values is the value at rank
``ceil(p / 100 * n)`` (1-based). So p50 of ``[1, 2, 3, 4]`` is 2, p90 of ten values is the 9th,
and p99 of fewer than 100 values is the largest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict


def nearest_rank(values: Sequence[float], percent: float) -> float:
    """The ``percent``-th percentile of ``values`` (any order, not empty), nearest rank.

    Raises:
        ValueError: ``values`` is empty or ``percent`` is outside (0, 100].
    """
    if not values:
        raise ValueError("no values: a percentile needs at least one")
    if not 0 < percent <= 100:
        raise ValueError(f"{percent} is not a percentile in (0, 100]")
    # Sorting values that are already in order (as Distribution passes them) is linear.
    ordered = sorted(values)
    # The product is rounded first: 0.9 * 10 is 9.000000000000002 in binary floating point,
    # whose ceiling would wrongly be rank 10.
    rank = max(1, math.ceil(round(percent / 100 * len(ordered), 9)))
    return ordered[rank - 1]


class Distribution(BaseModel):
    """Count, mean and nearest-rank percentiles of some durations, in seconds.

    Every figure but ``count`` is None when there are no values.
    """

    model_config = ConfigDict(frozen=True)

    count: int = 0
    mean: float | None = None
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution:
        """The distribution of ``values`` (in any order)."""
        if not values:
            return cls()
        ordered = sorted(values)
        return cls(
            count=len(ordered),
            # math.fsum: exact sums, so the mean does not depend on the order tickets came in.
            mean=math.fsum(ordered) / len(ordered),
            p50=nearest_rank(ordered, 50),
            p90=nearest_rank(ordered, 90),
            p99=nearest_rank(ordered, 99),
        )
