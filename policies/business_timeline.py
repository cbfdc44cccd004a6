"""Open intervals laid end to end, with running totals: the engine under BusinessCalendar.

A calendar's open time for a span of months is built once as a sorted list of disjoint intervals
in UTC microseconds, each with the business time that came before it. Then both questions SLA
math asks are binary searches: business time between two instants is a difference of two
running totals, and the instant a target falls due is the inverse lookup. Nothing walks minutes
or days per call, so a target a year long costs the same as one an hour long, and ``add`` and
``elapsed`` agree exactly because they read the same numbers.

Local wall times become instants with ``fold=0``: a time in the hour skipped in spring moves
forward by the gap (RFC 5545 does the same), and a time in the hour repeated in autumn is its
first occurrence. An interval always counts the real seconds between its ends, so a night shift
spanning a DST change is an hour shorter or longer, as the people working it experience.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from operator import sub
from zoneinfo import ZoneInfo

from policies.calendar_definition import Minutes

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MINUTE_US = 60_000_000
DAY_US = 86_400_000_000
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

DayHours = Callable[[date], Sequence[Minutes]]
"""The open intervals of one local date, in minutes after its midnight."""

MAX_MONTHS = 400 * 12
"""How far a timeline may grow; a calendar open at least weekly never comes close."""

LAST_MONTH = 9999 * 12 + 10
"""November 9999: the last month whose next month Python's dates can still name."""

KEEP_MONTHS = 30 * 12
"""A span grows to take in a new question only while it stays this short; beyond, it is
rebuilt around the new question."""


class BeyondReach(ValueError):
    """The calendar does not reach the asked business time (or next opening) within
    :data:`MAX_MONTHS`: for SLA purposes, never."""


def _month_start(month: int) -> date:
    """The first day of month number ``year * 12 + month - 1``."""
    return date(month // 12, month % 12 + 1, 1)


def to_us(moment: datetime) -> int:
    """An aware datetime as integer microseconds since the Unix epoch."""
    return (moment - EPOCH) // MICROSECOND


def from_us(us: int) -> datetime:
    """The inverse of :func:`to_us`, in UTC."""
    return EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class _Span:
    """Merged open intervals for local months ``first..last`` (numbered ``year * 12 + month
    - 1``); immutable, so it can be shared between threads (workflows run on several) and
    swapped whole when it grows."""

    first: int
    last: int
    lo: int  # local midnight starting month first, as UTC µs: instants from here on...
    hi: int  # ...up to the local midnight starting month last + 1 are covered
    starts: list[int]
    ends: list[int]
    before: list[int]  # business µs before each interval starts
    through: list[int]  # business µs at each interval's end


class Timeline:
    """Open time of one calendar, built lazily by month and kept for the life of the object."""

    def __init__(self, zone: ZoneInfo, day_hours: DayHours) -> None:
        self._zone = zone
        self._day_hours = day_hours
        self._months: dict[int, tuple[list[int], list[int]]] = {}
        self._span: _Span | None = None
        self._lock = threading.Lock()

    # -- the two questions ---------------------------------------------------------------------

    def position(self, us: int, span: _Span) -> int:
        """Business µs from the span's start up to instant ``us`` (which the span covers)."""
        i = bisect_right(span.starts, us) - 1
        if i < 0:
            return 0
        return span.before[i] + min(us, span.ends[i]) - span.starts[i]

    def elapsed(self, start: int, end: int) -> int:
        """Business µs between two instants; zero if ``end`` is not after ``start``."""
        if end <= start:
            return 0
        span = self.covering(start, end)
        return self.position(end, span) - self.position(start, span)

    def add(self, start: int, business: int) -> int:
        """The earliest instant at which ``business`` µs have passed since ``start``."""
        if business <= 0:
            return start
        span = self.covering(start, start)
        while True:
            goal = self.position(start, span) + business
            i = bisect_left(span.through, goal)
            if i < len(span.starts):
                due = span.starts[i] + goal - span.before[i]
                if due < span.hi:
                    return due
            span = self._extend(span, self._months_short(span, goal))

    @staticmethod
    def _months_short(span: _Span, goal: int) -> int:
        """How many more months the span likely needs to reach ``goal`` business µs, judged by
        its own business time per month; at least one, so growth always makes progress, and at
        most the span's length plus a year, so a span built over a quiet month (a summer
        shutdown) does not extrapolate to centuries."""
        total = span.through[-1] if span.through else 0
        months = span.last - span.first + 1
        if total <= 0:
            return months
        return max(1, min(-(-(goal - total) * months // total), months + 12))

    def next_open(self, at: int) -> int:
        """``at`` if the calendar is open then, else the instant it next opens."""
        span = self.covering(at, at)
        while True:
            i = bisect_right(span.starts, at) - 1
            if i >= 0 and at < span.ends[i]:
                return at
            if i + 1 < len(span.starts) and span.starts[i + 1] < span.hi:
                return span.starts[i + 1]
            span = self._extend(span, 1)

    # -- building --------------------------------------------------------------------------

    def covering(self, first_us: int, last_us: int) -> _Span:
        """A span that covers both instants, growing the timeline if needed."""
        span = self._span
        if span is not None and span.lo <= first_us and last_us < span.hi:
            return span
        first = self._local_month(first_us)
        last = self._local_month(last_us)
        if span is not None and max(last, span.last) - min(first, span.first) < KEEP_MONTHS:
            first, last = min(first, span.first), max(last, span.last)
        # Otherwise start afresh around this question: one far-off query (a bogus date) must
        # not leave a shared calendar holding, or refusing, centuries for everyone after it.
        return self._grow(first, last)

    def _local_month(self, us: int) -> int:
        local = from_us(us).astimezone(self._zone)
        return local.year * 12 + local.month - 1

    def _extend(self, span: _Span, months: int) -> _Span:
        """``span`` grown by ``months``, within the limits; BeyondReach when it cannot grow."""
        last = min(span.last + months, span.first + MAX_MONTHS - 1, LAST_MONTH)
        if last <= span.last:
            raise BeyondReach(
                f"the calendar has not that much open time within {MAX_MONTHS // 12} years"
            )
        return self._grow(span.first, last)

    def _grow(self, first: int, last: int) -> _Span:
        if last - first >= MAX_MONTHS or last > LAST_MONTH:
            raise BeyondReach(f"a span of more than {MAX_MONTHS // 12} years")
        # One builder at a time: workflows on several threads share a calendar, and the month
        # cache must not change under a builder's feet. Readers never lock: they take the
        # current span, which is immutable and replaced whole.
        with self._lock:
            return self._build(first, last)

    def _build(self, first: int, last: int) -> _Span:
        starts: list[int] = []
        ends: list[int] = []
        # The day before the span is included for its night shift, which runs into the first
        # covered morning.
        chunks = [self._days(_month_start(first) - timedelta(days=1), 1)]
        chunks += [self._month(month) for month in range(first, last + 1)]
        for chunk_starts, chunk_ends in chunks:
            # A night shift into a month's first day may touch or cover that day's own hours.
            skip = 0
            while starts and skip < len(chunk_starts) and chunk_starts[skip] <= ends[-1]:
                ends[-1] = max(ends[-1], chunk_ends[skip])
                skip += 1
            starts += chunk_starts[skip:]
            ends += chunk_ends[skip:]
        through = list(accumulate(map(sub, ends, starts)))
        before = [0, *through[:-1]] if through else []
        span = _Span(
            first=first,
            last=last,
            lo=self._midnight(_month_start(first)),
            hi=self._midnight(_month_start(last + 1)),
            starts=starts,
            ends=ends,
            before=before,
            through=through,
        )
        self._span = span
        self._months = {m: self._months[m] for m in self._months if first <= m <= last}
        return span

    def _midnight(self, day: date) -> int:
        return self._wall_to_us(day, 0)

    def _wall_to_us(self, day: date, minute: int) -> int:
        extra_days, minute = divmod(minute, 1440)
        # Arithmetic on an aware datetime is wall-clock arithmetic in its zone (fold=0).
        wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self._zone)
        return to_us(wall + timedelta(days=extra_days))

    def _month(self, month: int) -> tuple[list[int], list[int]]:
        cached = self._months.get(month)
        if cached is None:
            first = _month_start(month)
            cached = self._days(first, (_month_start(month + 1) - first).days)
            self._months[month] = cached
        return cached

    def _days(self, first: date, days: int) -> tuple[list[int], list[int]]:
        """Merged open intervals of ``days`` local dates from ``first``."""
        intervals: list[tuple[int, int]] = []
        # UTC offset at each local midnight from this year's first day to two days past its
        # last: an interval (at most 48 hours from its day's midnight) lies where the offset is
        # constant when the three midnights around it agree, and is then plain arithmetic.
        ordinal = first.toordinal()
        offsets = [self._offset(date.fromordinal(ordinal + i)) for i in range(days + 2)]
        for i in range(days):
            day = date.fromordinal(ordinal + i)
            hours = self._day_hours(day)
            if not hours:
                continue
            offset = offsets[i]
            constant = offset == offsets[i + 1] == offsets[i + 2]
            midnight = (day.toordinal() - _EPOCH_ORDINAL) * DAY_US - offset
            for start, end in hours:
                if constant:
                    s, e = midnight + start * MINUTE_US, midnight + end * MINUTE_US
                else:
                    s, e = self._wall_to_us(day, start), self._wall_to_us(day, end)
                if e > s:  # an interval inside a skipped DST hour has no real time
                    intervals.append((s, e))
        intervals.sort()
        merged_starts: list[int] = []
        merged_ends: list[int] = []
        for s, e in intervals:
            if merged_ends and s <= merged_ends[-1]:
                # Touching or overlapping (a dated day meeting the night shift before it):
                # one interval, so no moment is counted twice.
                merged_ends[-1] = max(merged_ends[-1], e)
            else:
                merged_starts.append(s)
                merged_ends.append(e)
        return merged_starts, merged_ends

    def _offset(self, day: date) -> int:
        """The UTC offset at local midnight (fold=0), in µs."""
        offset = datetime(day.year, day.month, day.day, tzinfo=self._zone).utcoffset()
        assert offset is not None
        return offset // MICROSECOND
