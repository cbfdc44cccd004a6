"""How long SLA calendar math takes: ``add`` and ``elapsed``, warm and cold.

Run from the repository root::

    python -m benchmarks.calendar_math            # the full run (about ten seconds)
    python -m benchmarks.calendar_math --quick    # few repetitions, for CI
    python -m benchmarks.calendar_math --json     # the JSON document on stdout, the table on stderr

For each business-time target (1h to 1y; ``1y`` is 365 days of *business* time, which on a
calendar open 7.5 hours a weekday spans almost five calendar years) and each calendar:

- ``ny-support``: America/New_York, 09:00-12:30 and 13:30-17:30 on weekdays, US-NY public
  holidays resolved into the definition the way ``load_policy`` does for workflows;
- ``berlin-night``: Europe/Berlin, a 22:00-06:00 night shift Sunday to Thursday night, DE-BE
  holidays resolved likewise;
- ``24x7``: :class:`AlwaysOpen`, for reference.

*Warm* figures are per call on one calendar object whose timeline already covers the span, as
for every ticket after the first on a definition (``BusinessCalendar.from_definition`` shares it
per worker process); each call is timed alone with ``time.perf_counter_ns`` (the timer's own
overhead, reported with the machine, is included), cycling over start instants spread through
the load year, with the garbage collector paused. *Cold* figures are one fresh calendar object
(``BusinessCalendar.__new__`` and ``_init``: what the uncached ``from_definition`` path does,
without re-parsing the JSON) plus its first call, which builds the local years it needs.

Every measured case is checked: ``elapsed(s, add(s, d)) == d`` for every start, and a fresh
calendar's ``add`` and ``elapsed`` agree with the warm one's. Any mismatch exits with status 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from policies.calendar import AlwaysOpen, BusinessCalendar, Calendar
from policies.calendar_definition import CalendarDefinition
from policies.holiday_dates import resolve_holidays
from policies.model import ALWAYS_OPEN, Policy
from reports.stats import nearest_rank

LOAD_YEAR = 2026
"""The year the benchmark policy is loaded in: holidays are resolved for 2025 to 2031."""

TARGETS: tuple[tuple[str, timedelta], ...] = (
    ("1h", timedelta(hours=1)),
    ("8h", timedelta(hours=8)),
    ("1d", timedelta(days=1)),
    ("1w", timedelta(weeks=1)),
    ("30d", timedelta(days=30)),
    ("90d", timedelta(days=90)),
    ("1y", timedelta(days=365)),
)
"""Business time, as a policy's targets count it: ``1d`` is 24 hours of open time."""

NY_SUPPORT = "ny-support"
BERLIN_NIGHT = "berlin-night"
CALENDARS = (NY_SUPPORT, BERLIN_NIGHT, ALWAYS_OPEN)

_POLICY: dict[str, Any] = {
    "name": "calendar-benchmark",
    "version": "1",
    "targets": {
        "P1": {"first_response": "1h", "resolution": "8h", "calendar": NY_SUPPORT},
        "P2": {"first_response": "8h", "resolution": "1w", "calendar": BERLIN_NIGHT},
    },
    "levels": [
        {"name": "breached", "when": {"clock": "resolution", "at": "100%"}, "notify": ["assignee"]}
    ],
    "calendars": {
        NY_SUPPORT: {
            "timezone": "America/New_York",
            "hours": {"mon-fri": ["09:00-12:30", "13:30-17:30"]},
            "holidays": {"country": "US", "subdivision": "NY"},
        },
        BERLIN_NIGHT: {
            "timezone": "Europe/Berlin",
            "hours": {"sun-thu": ["22:00-06:00"]},
            "holidays": {"country": "DE", "subdivision": "BE"},
        },
    },
}

_LANDMARKS = (
    datetime(2026, 3, 8, 6, 59, 59, 999_999, tzinfo=UTC),  # just before New York's spring DST
    datetime(2026, 3, 29, 0, 30, tzinfo=UTC),  # Berlin's spring DST night (a closed Saturday)
    datetime(2026, 7, 3, 14, 0, tzinfo=UTC),  # Independence Day observed, a Friday
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # Berlin's autumn DST night (a closed Saturday)
    datetime(2026, 12, 31, 22, 30, tzinfo=UTC),  # New Year's Eve night
)


@dataclass(frozen=True)
class Settings:
    """How many repetitions a run makes."""

    warm_calls: int
    """Timed calls per operation per case."""
    cold_runs: int
    """Fresh calendars per operation per case."""
    random_starts: int
    """Start instants drawn through the load year (the DST and holiday landmarks are added)."""


FULL = Settings(warm_calls=50_000, cold_runs=50, random_starts=123)
QUICK = Settings(warm_calls=200, cold_runs=2, random_starts=11)


@dataclass(frozen=True)
class Row:
    """The figures for one target on one calendar."""

    target: str
    target_seconds: int
    calendar: str
    add_warm_p50_us: float
    add_warm_p99_us: float
    elapsed_warm_p50_us: float
    elapsed_warm_p99_us: float
    cold_add_p50_ms: float
    cold_add_max_ms: float
    cold_elapsed_p50_ms: float
    cold_elapsed_max_ms: float
    span_p50_days: float
    """Median calendar time from start to due, in days."""
    checks: int
    """``add``/``elapsed`` identities verified for this case."""


# -- calendars -------------------------------------------------------------------------------


def benchmark_definitions() -> dict[str, CalendarDefinition]:
    """The benchmark's business calendars, with holidays resolved as workflows see them."""
    policy = resolve_holidays(Policy.model_validate(_POLICY), LOAD_YEAR)
    return dict(policy.calendars)


def fresh_calendar(definition: CalendarDefinition | None) -> Calendar:
    """A new calendar object with nothing built yet (``None`` is the 24x7 calendar)."""
    if definition is None:
        return AlwaysOpen()
    # What the cache miss in BusinessCalendar.from_definition does, minus parsing its JSON key.
    calendar = BusinessCalendar.__new__(BusinessCalendar)
    calendar._init(definition)
    return calendar


def start_instants(count: int) -> list[datetime]:
    """``count`` reproducible instants in the first half of the load year (any weekday, hour
    and microsecond), then the landmarks."""
    rng = random.Random(3)
    first = datetime(LOAD_YEAR, 1, 1, tzinfo=UTC)
    half_year_us = 181 * 86_400 * 1_000_000
    drawn = [first + timedelta(microseconds=rng.randrange(half_year_us)) for _ in range(count)]
    return drawn + list(_LANDMARKS)


# -- timing ----------------------------------------------------------------------------------


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _time_add(
    calendar: Calendar, starts: Sequence[datetime], target: timedelta, calls: int
) -> list[int]:
    clock = time.perf_counter_ns
    add = calendar.add
    count = len(starts)
    samples = [0] * calls
    for i in range(calls):
        start = starts[i % count]
        before = clock()
        add(start, target)
        samples[i] = clock() - before
    return samples


def _time_elapsed(
    calendar: Calendar, spans: Sequence[tuple[datetime, datetime]], calls: int
) -> list[int]:
    clock = time.perf_counter_ns
    elapsed = calendar.elapsed
    count = len(spans)
    samples = [0] * calls
    for i in range(calls):
        start, end = spans[i % count]
        before = clock()
        elapsed(start, end)
        samples[i] = clock() - before
    return samples


def timer_overhead_ns(calls: int = 10_000) -> float:
    """Median cost of the ``perf_counter_ns`` pair around each timed call."""
    clock = time.perf_counter_ns
    samples = [0] * calls
    with _gc_paused():
        for i in range(calls):
            before = clock()
            samples[i] = clock() - before
    return float(statistics.median(samples))


def percentile(samples: Sequence[int], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1) of non-empty ``samples``."""
    return float(nearest_rank(samples, share * 100))


# -- one case --------------------------------------------------------------------------------


class VerificationError(AssertionError):
    """Calendar math that broke ``elapsed(s, add(s, d)) == d`` or disagreed with itself."""


def measure(
    calendar_name: str,
    definition: CalendarDefinition | None,
    target_name: str,
    target: timedelta,
    starts: Sequence[datetime],
    settings: Settings,
) -> Row:
    """Time and verify one target on one calendar.

    Raises:
        VerificationError: a computed due time or elapsed time is wrong.
    """
    warm = fresh_calendar(definition)
    case = f"{calendar_name} {target_name}"

    # Verify every start first; this also builds the warm calendar's timeline.
    spans: list[tuple[datetime, datetime]] = []
    for start in starts:
        due = warm.add(start, target)
        got = warm.elapsed(start, due)
        if got != target:
            raise VerificationError(
                f"{case}: elapsed({start.isoformat()}, add(...) = {due.isoformat()}) is {got}, "
                f"not {target}"
            )
        spans.append((start, due))
    checks = len(starts)

    with _gc_paused():
        _time_add(warm, starts, target, min(settings.warm_calls, 1_000))  # untimed warm-up
        add_ns = _time_add(warm, starts, target, settings.warm_calls)
        _time_elapsed(warm, spans, min(settings.warm_calls, 1_000))
        elapsed_ns = _time_elapsed(warm, spans, settings.warm_calls)

    clock = time.perf_counter_ns
    cold_add_ns: list[int] = []
    cold_elapsed_ns: list[int] = []
    for run in range(settings.cold_runs):
        start, due = spans[run % len(spans)]
        with _gc_paused():
            before = clock()
            cold_due = fresh_calendar(definition).add(start, target)
            cold_add_ns.append(clock() - before)
            before = clock()
            cold_elapsed = fresh_calendar(definition).elapsed(start, due)
            cold_elapsed_ns.append(clock() - before)
        if cold_due != due or cold_elapsed != target:
            raise VerificationError(
                f"{case} from {start.isoformat()}: a fresh calendar says due {cold_due} and "
                f"elapsed {cold_elapsed}; the warm one says {due} and {target}"
            )
        checks += 1

    us, ms, day_s = 1_000.0, 1_000_000.0, 86_400.0
    span_days = statistics.median((due - start).total_seconds() / day_s for start, due in spans)
    return Row(
        target=target_name,
        target_seconds=int(target.total_seconds()),
        calendar=calendar_name,
        add_warm_p50_us=statistics.median(add_ns) / us,
        add_warm_p99_us=percentile(add_ns, 0.99) / us,
        elapsed_warm_p50_us=statistics.median(elapsed_ns) / us,
        elapsed_warm_p99_us=percentile(elapsed_ns, 0.99) / us,
        cold_add_p50_ms=statistics.median(cold_add_ns) / ms,
        cold_add_max_ms=max(cold_add_ns) / ms,
        cold_elapsed_p50_ms=statistics.median(cold_elapsed_ns) / ms,
        cold_elapsed_max_ms=max(cold_elapsed_ns) / ms,
        span_p50_days=span_days,
        checks=checks,
    )


def run(settings: Settings) -> tuple[list[Row], list[str]]:
    """Every target on every calendar: the rows measured, and any verification failures."""
    definitions: dict[str, CalendarDefinition | None] = {
        NY_SUPPORT: None,
        BERLIN_NIGHT: None,
        ALWAYS_OPEN: None,
    }
    definitions.update(benchmark_definitions())
    starts = start_instants(settings.random_starts)
    rows: list[Row] = []
    failures: list[str] = []
    for target_name, target in TARGETS:
        for calendar_name in CALENDARS:
            try:
                rows.append(
                    measure(
                        calendar_name,
                        definitions[calendar_name],
                        target_name,
                        target,
                        starts,
                        settings,
                    )
                )
            except VerificationError as exc:
                failures.append(str(exc))
    return rows, failures


# -- reporting -------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    usable: int | None = os.cpu_count()
    if sys.platform == "linux":
        usable = len(os.sched_getaffinity(0))
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "uname": " ".join(platform.uname()),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "timer_overhead_ns": timer_overhead_ns(),
    }


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return platform.processor() or "unknown"


def _span(days: float) -> str:
    if days < 1:
        return f"{days * 24:.1f}h"
    if days < 365:
        return f"{days:.1f}d"
    return f"{days / 365.25:.2f}y"


_HEADER = (
    "target",
    "calendar",
    "span p50",
    "add p50 µs",
    "add p99 µs",
    "elapsed p50 µs",
    "elapsed p99 µs",
    "cold add ms",
    "cold elapsed ms",
)


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (readable as plain text too)."""
    lines = [
        [
            row.target,
            row.calendar,
            _span(row.span_p50_days),
            f"{row.add_warm_p50_us:.2f}",
            f"{row.add_warm_p99_us:.2f}",
            f"{row.elapsed_warm_p50_us:.2f}",
            f"{row.elapsed_warm_p99_us:.2f}",
            f"{row.cold_add_p50_ms:.3f}",
            f"{row.cold_elapsed_p50_ms:.3f}",
        ]
        for row in rows
    ]
    widths = [max(len(cell) for cell in column) for column in zip(_HEADER, *lines, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.ljust(width) if i < 3 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = "|".join("-" * (w + 1) + ":" if i >= 3 else "-" * (w + 2) for i, w in enumerate(widths))
    return "\n".join([line(_HEADER), f"|{rule}|", *(line(cells) for cells in lines)])


def report(
    rows: Sequence[Row], failures: Sequence[str], machine: dict[str, Any], settings: Settings
) -> str:
    """The human-readable report: machine, settings, table and verification result."""
    checks = sum(row.checks for row in rows)
    parts = [
        "Calendar math: BusinessCalendar.add / .elapsed",
        f"python {machine['python']} ({machine['implementation']}) on {machine['platform']}",
        f"cpu: {machine['cpu_model']}; cpu_count {machine['cpu_count']}, "
        f"usable {machine['usable_cpus']}; timer overhead {machine['timer_overhead_ns']:.0f} ns "
        "(included in every warm figure)",
        f"warm: {settings.warm_calls} timed calls per cell; cold: {settings.cold_runs} fresh "
        "calendars per cell (median shown)",
        "",
        table(rows),
        "",
    ]
    if failures:
        parts += ["VERIFICATION FAILED:", *(f"  {failure}" for failure in failures)]
    else:
        parts.append(f"verified: elapsed(s, add(s, d)) == d and cold == warm in {checks} checks")
    return "\n".join(parts)


def document(
    rows: Sequence[Row], failures: Sequence[str], machine: dict[str, Any], settings: Settings
) -> dict[str, Any]:
    """The machine-readable report."""
    return {
        "benchmark": "calendar_math",
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine,
        "settings": asdict(settings),
        "load_year": LOAD_YEAR,
        "results": [asdict(row) for row in rows],
        "checks": sum(row.checks for row in rows),
        "failures": list(failures),
        "ok": not failures,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 when every case verified, 1 when one did not."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.calendar_math",
        description="Time BusinessCalendar.add and .elapsed, warm and cold.",
    )
    parser.add_argument("--quick", action="store_true", help="few repetitions (for CI)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="also write a JSON document: it goes to stdout and the table to stderr",
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    text_out = sys.stderr if args.json else sys.stdout

    machine = machine_info()
    rows, failures = run(settings)
    print(report(rows, failures, machine, settings), file=text_out, flush=True)
    if args.json:
        print(json.dumps(document(rows, failures, machine, settings), indent=2))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
