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
    # One page per OpenedAt slice: 200 tickets fit in each slice's first page.
    assert result["pages"] == SLICES
    for phase in ("seed_seconds", "read_seconds", "build_seconds"):
        assert result[phase] > 0, phase
    assert set(result["render_seconds"]) == {"text", "json", "csv", "html"}
    assert all(size > 0 for size in result["output_bytes"].values())
    assert result["groups"] == 6  # the benchmark's teams
    assert result["peak_rss_mb"] > 0
    assert "report end to end" in done.stderr
