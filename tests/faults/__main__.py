"""``python -m tests.faults --tickets 600 --kills 6``: the fault-injection scenario at any size.

Prints the figures the CI test asserts on, as a table and as JSON. Exit code 1 when a notice
was lost, a due time was wrong, or duplicates exceeded one per kill.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from pathlib import Path

from tests.faults.scenario import FaultPlan, FaultRun


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=600, help="tickets to open (default 600)")
    parser.add_argument("--kills", type=int, default=6, help="worker SIGKILLs (default 6)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault moments")
    parser.add_argument("--keep", type=Path, default=None, help="keep logs in this directory")
    args = parser.parse_args()
    if args.tickets < 1 or args.kills < 0:
        parser.error("--tickets must be at least 1 and --kills at least 0")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    plan = FaultPlan.random(args.tickets, args.kills, seed)
    with tempfile.TemporaryDirectory(prefix="faults-") as scratch:
        directory = args.keep or Path(scratch)
        directory.mkdir(parents=True, exist_ok=True)
        report = asyncio.run(FaultRun(plan, directory).run())
    print(report.format())
    print(json.dumps(report.figures()))
    print("latest escalation:", report.latest)
    print("fault moments (s after the first open):", _moments(plan))
    for problem in [*report.lost, *report.wrong_due_times, *report.wrong_ladders][:20]:
        print("problem:", problem)
    failed = report.lost or report.wrong_due_times or report.wrong_ladders
    return 1 if failed or report.duplicated > report.kills else 0


def _moments(plan: FaultPlan) -> str:
    kills = ", ".join(f"{moment:.0f}" for moment in plan.kills)
    return (
        f"kills {kills}; server restart {plan.server_restart_at:.0f}; "
        f"429 from {plan.rate_limited[0]:.0f}; 500 until {plan.unavailable[1]:.0f}"
    )


if __name__ == "__main__":
    sys.exit(main())
