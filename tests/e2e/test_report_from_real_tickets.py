"""``escalations report`` over real tickets: 240 ``TicketEscalation`` workflows run by
``worker.py`` on the dev server, opened in the past with ``opened_at``, acknowledged and
resolved with ``at``, some rated. The report's figures must be exactly the ones computed here
from the known times, so the whole path is checked: the workflow's business-time math, the
outcome memo and search attributes it publishes, visibility paging and the figures.
"""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from escalations.cli.main import main
from escalations.client.tickets import TicketClient
from escalations.runtime.config import load_settings
from tests.e2e.conftest import Workers
from tests.e2e.processes import DevServer
from workflows.ticket_messages import (
    AcknowledgeRequest,
    FeedbackRequest,
    ResolveRequest,
    TicketInput,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(280)]

TICKETS = 240
TEAMS = ("payments", "identity", "infra")
TARGETS = {"P1": (15 * 60, 4 * 3600), "P2": (3600, 8 * 3600)}
# 24x7 targets, so business time is wall time and the expected figures are plain arithmetic.
# No level can fire: the test is about the clocks and the report, not the notices.
POLICY_YAML = """\
name: {name}
version: 1
targets:
  P1: {{first_response: 15m, resolution: 4h}}
  P2: {{first_response: 1h, resolution: 8h}}
contacts:
  manager: [manager@example.com]
levels:
  - name: never
    when: {{field: affected_users, gte: 1000000000}}
    notify: [manager]
service_levels:
  objectives:
    - {{priority: P1, clock: first_response, objective: 90%}}
    - {{priority: P2, clock: resolution, objective: 95%}}
"""


@dataclass(frozen=True)
class Known:
    """One ticket's scripted times, in seconds after it opened."""

    ticket: TicketInput
    first_response: int
    resolution: int | None
    csat: int | None


def _script(policy: str, base: datetime) -> list[Known]:
    run = uuid.uuid4().hex[:6]
    known = []
    for i in range(TICKETS):
        priority = "P1" if i % 2 else "P2"
        ticket = TicketInput(
            ticket_id=f"RPT-{run}-{i}",
            title=f"Report ticket {i}",
            priority=priority,
            team=TEAMS[i % 3],
            customer="Acme",
            requester="buyer@acme.example",
            policy=policy,
            opened_at=base + timedelta(minutes=7 * i),
        )
        first = 60 * ((i * 13) % 50 + 1)  # 1..50 minutes: some P1 responses breach 15m
        resolution = None if i % 10 == 0 else 3600 * ((i * 7) % 10) + 600  # 10m..9h10m
        csat = (i % 5) + 1 if i % 3 == 0 and resolution is not None else None
        known.append(Known(ticket, first, resolution, csat))
    return known


async def _run(tickets: TicketClient, item: Known) -> None:
    opened = item.ticket.opened_at
    assert opened is not None
    await tickets.open(item.ticket)
    at = opened + timedelta(seconds=item.first_response)
    await tickets.acknowledge(item.ticket.ticket_id, AcknowledgeRequest(by="agent", at=at))
    if item.resolution is not None:
        done = opened + timedelta(seconds=item.resolution)
        await tickets.resolve(item.ticket.ticket_id, ResolveRequest(by="agent", at=done))
        if item.csat is not None:
            await tickets.feedback(item.ticket.ticket_id, FeedbackRequest(csat=item.csat))


def _nearest_rank(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(percent / 100 * len(ordered))) - 1]


def _expected_group(items: list[Known]) -> dict[str, Any]:
    first = [float(k.first_response) for k in items]
    resolved = [k for k in items if k.resolution is not None]
    resolution = [float(k.resolution) for k in resolved if k.resolution is not None]
    rated = [k.csat for k in resolved if k.csat is not None]
    breaches = {
        "first_response": sum(k.first_response >= TARGETS[k.ticket.priority][0] for k in items),
        # Tickets left open have run for days: their resolution clocks have all breached.
        "resolution": sum(
            k.resolution is None or k.resolution >= TARGETS[k.ticket.priority][1] for k in items
        ),
    }
    return {
        "opened": len(items),
        "resolved": len(resolved),
        "first_response": {
            "count": len(first),
            "mean": sum(first) / len(first),
            "p50": _nearest_rank(first, 50),
            "p90": _nearest_rank(first, 90),
            "p99": _nearest_rank(first, 99),
        },
        "resolution_count": len(resolution),
        "resolution_p90": _nearest_rank(resolution, 90),
        "csat_responses": len(rated),
        "csat_mean": sum(rated) / len(rated) if rated else None,
        "breaches": breaches,
    }


async def test_report_figures_match_the_scripted_tickets(
    dev_server: DevServer,
    workers: Workers,
    e2e_policy_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    policy = f"reporting-{uuid.uuid4().hex[:6]}"
    (e2e_policy_dir / f"{policy}.yaml").write_text(POLICY_YAML.format(name=policy))
    await workers.start(dev_server.address)
    base = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    known = _script(policy, base)
    settings = load_settings(
        {"TEMPORAL_ADDRESS": dev_server.address, "ESCALATIONS_TASK_QUEUE": workers.task_queue}
    )
    tickets = await TicketClient.connect(settings)
    gate = asyncio.Semaphore(16)

    async def run(item: Known) -> None:
        async with gate:
            await _run(tickets, item)

    await asyncio.gather(*(run(item) for item in known))

    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("ESCALATIONS_POLICY_DIR", str(e2e_policy_dir))
    window = ["--from", base.isoformat(), "--to", (base + timedelta(days=2)).isoformat()]
    argv = ["report", *window, "--policy", policy, "--group-by", "team", "--format", "json"]
    report: dict[str, Any] = {}
    # Visibility is eventually consistent: the last updates reach it a moment later.
    for _ in range(40):
        capsys.readouterr()
        code = await asyncio.to_thread(main, argv)
        captured = capsys.readouterr()
        assert code == 0, captured.err
        report = json.loads(captured.out)
        total = report["total"]
        if (
            total["opened"] == TICKETS
            and total["csat"]["responses"] == _expected_group(known)["csat_responses"]
            and total["resolved"] == _expected_group(known)["resolved"]
        ):
            break
        await asyncio.sleep(0.5)

    groups = {g["group"]: g for g in report["groups"]}
    assert sorted(groups) == sorted(TEAMS)
    for name, figures in [*groups.items(), ("total", report["total"])]:
        items = [k for k in known if name == "total" or k.ticket.team == name]
        expected = _expected_group(items)
        assert figures["opened"] == expected["opened"], name
        assert figures["resolved"] == expected["resolved"], name
        for key, value in expected["first_response"].items():
            assert figures["first_response"][key] == pytest.approx(value), (name, key)
        assert figures["resolution"]["count"] == expected["resolution_count"], name
        assert figures["resolution"]["p90"] == pytest.approx(expected["resolution_p90"]), name
        assert figures["csat"]["responses"] == expected["csat_responses"], name
        if expected["csat_mean"] is not None:
            assert figures["csat"]["mean"] == pytest.approx(expected["csat_mean"]), name
        for clock, count in expected["breaches"].items():
            assert figures["breaches"].get(clock, 0) == count, (name, clock)

    # SLO attainment of the objectives, over all the tickets.
    attainment = {a["key"]: a for a in report["total"]["attainment"]}
    p1 = [k for k in known if k.ticket.priority == "P1"]
    p1_met = sum(k.first_response < TARGETS["P1"][0] for k in p1)
    assert attainment["P1-first_response"]["measured"] == len(p1)
    assert attainment["P1-first_response"]["met"] == p1_met
    p2 = [k for k in known if k.ticket.priority == "P2" and k.resolution is not None]
    p2_met = sum(k.resolution is not None and k.resolution < TARGETS["P2"][1] for k in p2)
    assert attainment["P2-resolution"]["measured"] == len(p2)
    assert attainment["P2-resolution"]["met"] == p2_met
    missed = len(p2) - p2_met
    assert attainment["P2-resolution"]["error_budget_left"] == pytest.approx(
        1 - missed / (0.05 * len(p2))
    )
