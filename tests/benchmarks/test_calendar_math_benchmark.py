"""``python -m benchmarks.calendar_math`` runs, reports every case, and fails on wrong math.

Nothing here asserts on a time: the figures depend on the machine, so the tests only check
that each one is measured (positive) and reported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from benchmarks import calendar_math
from policies.calendar import Calendar
from policies.calendar_definition import CalendarDefinition

REPO_ROOT = Path(__file__).resolve().parents[2]

FIGURES = (
    "add_warm_p50_us",
    "add_warm_p99_us",
    "elapsed_warm_p50_us",
    "elapsed_warm_p99_us",
    "cold_add_p50_ms",
    "cold_add_max_ms",
    "cold_elapsed_p50_ms",
    "cold_elapsed_max_ms",
    "span_p50_days",
)


def test_quick_json_run_reports_every_case() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.calendar_math", "--quick", "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    # The table goes to stderr when --json puts the document on stdout.
    rows = {
        tuple(cell.strip() for cell in line.strip("|").split("|")[:2])
        for line in done.stderr.splitlines()
        if line.startswith("| ")
    }
    for target, _ in calendar_math.TARGETS:
        for calendar in calendar_math.CALENDARS:
            assert (target, calendar) in rows, f"no row for {target} on {calendar}"
    assert "verified:" in done.stderr

    document = json.loads(done.stdout)
    assert document["ok"] is True
    assert document["failures"] == []
    assert document["settings"] == {
        "warm_calls": calendar_math.QUICK.warm_calls,
        "cold_runs": calendar_math.QUICK.cold_runs,
        "random_starts": calendar_math.QUICK.random_starts,
    }
    machine = document["machine"]
    assert machine["python"] == ".".join(str(part) for part in sys.version_info[:3])
    assert machine["cpu_count"] >= 1
    results = document["results"]
    assert len(results) == len(calendar_math.TARGETS) * len(calendar_math.CALENDARS)
    assert {(r["target"], r["calendar"]) for r in results} == {
        (target, calendar)
        for target, _ in calendar_math.TARGETS
        for calendar in calendar_math.CALENDARS
    }
    for result in results:
        for figure in FIGURES:
            assert result[figure] > 0, f"{result['target']} {result['calendar']} {figure}"
        assert result["target_seconds"] > 0
        assert result["checks"] > 0
    assert document["checks"] == sum(r["checks"] for r in results)


def test_plain_run_prints_only_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert calendar_math.main(["--quick"]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith("Calendar math: ")
    assert out.count("\n| ") == 1 + len(calendar_math.TARGETS) * len(calendar_math.CALENDARS)
    assert "{" not in out


class _OffByOne:
    """A calendar whose due times are a microsecond late."""

    def __init__(self, calendar: Calendar) -> None:
        self._calendar = calendar
        self.timezone = calendar.timezone

    def add(self, start: datetime, business_duration: timedelta) -> datetime:
        return self._calendar.add(start, business_duration) + timedelta(microseconds=1)

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return self._calendar.elapsed(start, end)

    def next_open(self, at: datetime) -> datetime:
        return self._calendar.next_open(at)


def test_wrong_math_fails_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = calendar_math.fresh_calendar

    def broken(definition: CalendarDefinition | None) -> Calendar:
        calendar = real(definition)
        return calendar if definition is None else _OffByOne(calendar)

    monkeypatch.setattr(calendar_math, "fresh_calendar", broken)
    assert calendar_math.main(["--quick", "--json"]) == 1
    out, err = capsys.readouterr()
    assert "VERIFICATION FAILED" in err
    document = json.loads(out)
    assert document["ok"] is False
    assert len(document["failures"]) == len(calendar_math.TARGETS) * 2  # not the 24x7 rows
