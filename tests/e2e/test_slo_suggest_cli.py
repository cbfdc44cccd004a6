"""``escalations slo suggest`` against a real dev server, on outcomes seeded through visibility.

The outcomes are written the way the ticket workflow publishes them (the ``sla_outcome`` memo,
the ``OpenedAt``, ``Policy`` and ``Priority`` search attributes) by a tiny stand-in registered
as ``TicketEscalation`` on this test's own task queue: the CLI reads exactly what it reads in
production, through the visibility store, and the figures are known to the second.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from escalations.cli.main import main
from policies.loader import default_policy_dir, read_policy_file
from policies.model import ClockName
from tests.e2e.helpers import wait_until
from tests.e2e.processes import DevServer
from workflows import search_attributes as sa
from workflows.ticket_messages import workflow_id_for
from workflows.ticket_outcome import OUTCOME_MEMO, ClockOutcome, Span, TicketOutcome

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

OPENED = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)  # a Monday
PERIOD = ["--from", "2025-02-01T00:00:00Z", "--to", "2025-03-01T00:00:00Z"]
P1_LINE = "  P1: {first_response: 15m, resolution: 4h, next_reply: 30m}"


@workflow.defn(name="TicketEscalation")
class SeededTicket:
    """Stands in for a finished ticket: its memo and search attributes are all a report reads."""

    @workflow.run
    async def run(self) -> None:
        return None


def outcome(policy: str, minutes: int) -> TicketOutcome:
    """A P1 ticket answered after ``minutes`` and resolved after an hour, on 24x7."""
    opened = OPENED + timedelta(hours=minutes)
    answered = opened + timedelta(minutes=minutes)
    resolved = opened + timedelta(hours=1)

    def clock(end: datetime, target: float) -> ClockOutcome:
        seconds = (end - opened).total_seconds()
        return ClockOutcome(
            target_seconds=target,
            business_seconds=seconds,
            stopped_at=end,
            breached=seconds >= target,
            calendar="24x7",
            spans=[Span(start=opened, end=end, calendar="24x7")],
        )

    return TicketOutcome(
        as_of=resolved,
        ticket_id=f"T-suggest-{uuid.uuid4().hex[:12]}",
        priority="P1",
        team="support",
        customer="Acme",
        policy=policy,
        policy_version="3",
        state="resolved",
        opened_at=opened,
        first_response_at=answered,
        resolved_at=resolved,
        clocks={
            ClockName.FIRST_RESPONSE: clock(answered, 900),
            ClockName.RESOLUTION: clock(resolved, 4 * 3600),
        },
    )


async def seed(client: Client, outcomes: list[TicketOutcome]) -> None:
    task_queue = f"seed-{uuid.uuid4()}"
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[SeededTicket],
        # The stand-in does nothing a sandbox would guard; the real workflow is sandboxed.
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handles = [
            await client.start_workflow(
                "TicketEscalation",
                id=workflow_id_for(o.ticket_id),
                task_queue=task_queue,
                memo={OUTCOME_MEMO: o},
                search_attributes=TypedSearchAttributes(
                    [
                        SearchAttributePair(sa.TICKET_ID, o.ticket_id),
                        SearchAttributePair(sa.PRIORITY, o.priority),
                        SearchAttributePair(sa.POLICY, o.policy),
                        SearchAttributePair(sa.OPENED_AT, o.opened_at),
                    ]
                ),
            )
            for o in outcomes
        ]
        await asyncio.gather(*(handle.result() for handle in handles))
    query = f"Policy = '{outcomes[0].policy}' AND ExecutionStatus = 'Completed'"

    async def all_listed() -> bool | None:
        # Visibility is eventually consistent: wait until every seeded ticket is listed.
        return (await client.count_workflows(query)).count == len(outcomes) or None

    await wait_until(all_listed, within=30, what=f"{len(outcomes)} tickets in visibility")


@pytest.fixture
async def policy_dir(
    client: Client, dev_server: DevServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, str]:
    """A copy of the default policy under a name of this test alone, with 25 P1 tickets whose
    first responses took 1, 2, ..., 25 minutes; the CLI's settings point at the dev server."""
    name = f"suggest-{uuid.uuid4().hex[:8]}"
    text = (default_policy_dir() / "default.yaml").read_text(encoding="utf-8")
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / f"{name}.yaml").write_text(
        text.replace("name: default", f"name: {name}"), encoding="utf-8"
    )
    await seed(client, [outcome(name, minutes) for minutes in range(1, 26)])
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("ESCALATIONS_POLICY_DIR", str(directory))
    monkeypatch.chdir(tmp_path)
    return directory, name


async def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    # main() runs its own event loop, so it runs in a thread beside the test's.
    code = await asyncio.to_thread(main, args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_suggest_reads_visibility_and_prints_figures_a_diff_and_a_what_if(
    policy_dir: tuple[Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory, name = policy_dir
    base = ["slo", "suggest", "--policy", name, *PERIOD]

    code, out, err = await run_cli([*base, "--format", "json"], capsys)
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert report["tickets"] == 25
    rows = {(r["priority"], r["clock"]): r for r in report["suggestions"]}
    fr = rows[("P1", "first_response")]
    # 14 of 25 under 15 m; the 95th percentile is rank 24 of 25: 24 m, so 25 m is needed.
    assert (fr["sample"], fr["current_attainment"]) == (25, 0.56)
    assert (fr["achieved_seconds"], fr["suggested_target_seconds"]) == (1440, 1500)
    assert fr["suggested_attainment"] == 0.96
    # Every ticket resolved in exactly 1 h: rank 23 of 25 at 90% is 1 h, so 1h1m.
    res = rows[("P1", "resolution")]
    assert (res["current_attainment"], res["suggested_target_seconds"]) == (1.0, 3660)

    code, out, _ = await run_cli(base, capsys)
    assert code == 0
    assert any(line.split()[:9] == ["P1", "first_response", "95%", "25", "15m", "56.0%", "24m",
                                    "25m", "96.0%"] for line in out.splitlines())  # fmt: skip

    policy_file = directory / f"{name}.yaml"
    before = policy_file.read_text(encoding="utf-8")
    code, out, _ = await run_cli([*base, "--diff"], capsys)
    assert code == 0
    assert out.splitlines()[:2] == [f"--- a/policies/{name}.yaml", f"+++ b/policies/{name}.yaml"]
    version = int(read_policy_file(policy_file).version)
    assert f"-version: {version}" in out.splitlines()
    assert f"+version: {version + 1}" in out.splitlines()
    assert "+  P1: {first_response: 25m, resolution: 1h1m, next_reply: 30m}" in out.splitlines()
    assert policy_file.read_text(encoding="utf-8") == before  # never edited in place

    patch = tmp_path / "suggested.patch"
    code, out, err = await run_cli([*base, "--write-to", str(patch)], capsys)
    assert code == 0
    assert patch.read_text(encoding="utf-8").startswith(f"--- a/policies/{name}.yaml")
    assert f"diff written to {patch}" in err
    code, _, err = await run_cli([*base, "--write-to", str(patch)], capsys)
    assert code == 2
    assert "--write-to:" in err
    assert "exists" in err

    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(before.replace(P1_LINE, P1_LINE.replace("15m", "30m")), encoding="utf-8")
    code, out, _ = await run_cli([*base, "--candidate", str(candidate), "--format", "json"], capsys)
    assert code == 0
    what = {(r["priority"], r["clock"]): r for r in json.loads(out)["what_if"]["rows"]}
    fr_what = what[("P1", "first_response")]
    assert (fr_what["current_attainment"], fr_what["candidate_attainment"]) == (0.56, 1.0)
    assert (fr_what["newly_met"], fr_what["newly_missed"]) == (11, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2025-03-01T00:00:00Z", "--to", "2025-02-01T00:00:00Z"], "--from: "),
        (["--from", "2025-03-01"], "argument --from: '2025-03-01' has no timezone"),
        (["--objective", "100%"], "argument --objective: '100%': an objective is above 0%"),
        (["--candidate", "no-such.yaml"], "--candidate: no-such.yaml: cannot read the file"),
        (["--policy", "nope"], "--policy: "),
        (["--format", "csv"], "argument --format: invalid choice"),
    ],
)
def test_bad_arguments_exit_2_naming_the_flag(
    args: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # No server: every argument is checked before connecting.
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    assert main(["slo", "suggest", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.strip().splitlines()[-1].startswith("escalations slo suggest: error: ")


def test_an_unreachable_server_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    assert main(["slo", "suggest"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach Temporal at 127.0.0.1:1 (TEMPORAL_ADDRESS)" in err
