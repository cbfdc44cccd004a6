"""``escalations bench --quick`` runs every scenario end to end and reports its figures.

It asserts that the run completes and what it reports, never a time: timings belong in
BENCHMARKS.md, from a full run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from escalations.bench.scenarios import SCENARIOS


def test_quick_bench_runs_every_scenario_and_reports(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    run = subprocess.run(
        [sys.executable, "-m", "escalations.cli.main", "bench", "--quick", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    for figure in (
        "lateness p99 s",
        "per second",
        "worker CPU s",
        "last fired at",
        "history events",
        "billable actions",
        "StartTimer",
    ):
        assert figure in run.stdout
    result = json.loads(out.read_text())
    scenarios = {s["name"]: s for s in result["scenarios"]}
    assert set(scenarios) == {"open", "spread", "storm"}
    for name in ("spread", "storm"):
        for side in ("ours", "floor"):
            lateness = scenarios[name][side]["lateness"]
            assert lateness["missing"] == 0, f"{name}/{side}: thresholds that never fired"
            assert lateness["count"] == result["config"]["tickets" if name == "spread" else "storm"]
    assert scenarios["open"]["ours"]["per_second"] > 0
    costs = {c["name"]: c for c in result["costs"]}
    assert set(costs) == {scenario.name for scenario in SCENARIOS}
    for name, cost in costs.items():
        for side in ("ours", "floor"):
            figures = cost[side]
            for figure in ("history_events", "billable_actions", "workflow_tasks"):
                assert figures[figure] > 0, f"{name}/{side}: {figure}"
            assert figures["commands"]["StartTimer"] > 0, f"{name}/{side}: no timer"
            assert sum(figures["actions"].values()) == figures["billable_actions"]
    assert costs["full ladder"]["floor"]["commands"]["ScheduleActivityTask"] > 0
    assert result["worker_peak_rss_mb"] > 0
