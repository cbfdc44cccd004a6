"""``python -m benchmarks.report_bench`` runs end to end on a small size and reports each phase.

Nothing here asserts on a time: only that every phase is measured and the figures add up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reports.visibility import SLICES

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_a_small_run_reports_every_phase() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.report_bench", "--tickets", "200", "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["tickets"] == 200
    assert result["seed_seconds"] > 0
    reports = result["reports"]
    # Without cache, an empty cache, then the same report again (the run fails unless all three
    # come out the same).
    assert list(reports) == ["live", "cold", "warm"]
    for name, times in reports.items():
        for phase in ("read_seconds", "build_seconds", "total_seconds"):
            assert times[phase] > 0, (name, phase)
        assert set(times["render_seconds"]) == {"text", "json", "csv", "html"}
        parts = times["read_seconds"] + times["build_seconds"]
        assert times["total_seconds"] == parts + sum(times["render_seconds"].values())
    # One page per OpenedAt slice: 200 tickets fit in each slice's first page.
    assert reports["live"]["pages"] == SLICES
    assert reports["live"]["from_cache"] == 0
    # Every ticket is closed: the first cached read lists them and stores them; the repeated
    # read finds them all in the file.
    assert reports["cold"]["from_cache"] == reports["warm"]["from_cache"] == 200
    assert reports["warm"]["pages"] < reports["cold"]["pages"]
    assert result["cache_bytes"] > 0
    assert all(size > 0 for size in result["output_bytes"].values())
    assert result["groups"] == 6  # the benchmark's teams
    assert result["peak_rss_mb"] > 0
    assert "repeated read (warm cache)" in done.stderr
