"""``escalations tickets``: an outage pauses a team's tickets, and a policy change migrates them.

Real dev server, real ``worker.py``, the CLI's own ``main``; tickets are chosen through the
visibility store as an operator would (search attributes), so this also shows that the
attributes the worker publishes are the ones the commands filter on.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from temporalio.client import Client

from escalations.cli.main import main
from escalations.client.bulk import Selection
from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.e2e.conftest import LogBook, Workers
from tests.e2e.helpers import POLICY_NAME, POLICY_YAML, new_ticket, open_ticket, query_status
from tests.e2e.helpers import wait_until as poll
from tests.e2e.processes import DevServer
from workflows.ticket_messages import PauseRequest
from workflows.ticket_state import TicketStateName

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / f"{POLICY_NAME}.yaml").write_text(POLICY_YAML, encoding="utf-8")
    return directory


@pytest.fixture
def own_workers(
    tmp_path: Path, policy_dir: Path, sendgrid: FakeSendGrid, logs: LogBook
) -> Iterator[Workers]:
    pool = Workers(tmp_path, policy_dir, sendgrid, logs)
    try:
        yield pool
    finally:
        pool.stop_all()


async def _visible(client: Client, selection: Selection, count: int) -> None:
    async def probe() -> bool | None:
        found = (await client.count_workflows(selection.visibility_query())).count
        return True if found == count else None

    await poll(probe, within=30, what=f"{count} tickets matching {selection}")


async def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    # The command runs its own event loop (asyncio.run): give it a thread of its own.
    code = await asyncio.to_thread(main, ["tickets", *argv])
    captured = capsys.readouterr()
    print(captured.out, captured.err)
    return code, captured.out, captured.err


async def test_outage_pause_resume_and_policy_migration(
    dev_server: DevServer,
    client: Client,
    own_workers: Workers,
    policy_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await own_workers.start(dev_server.address)
    queue = own_workers.task_queue
    run = uuid.uuid4().hex[:8]
    team, other = f"payments-{run}", f"identity-{run}"
    # P4: nothing fires during the test, so states change only through the commands.
    tickets = {
        name: new_ticket("P4", ticket_id=f"T-{run}-{name}", team=owner)
        for name, owner in (("a", team), ("b", team), ("logs", team), ("other", other))
    }
    handles = {name: await open_ticket(client, t, queue) for name, t in tickets.items()}
    for handle in handles.values():
        await poll(partial(query_status, handle), within=30, what="the ticket to open")
    await handles["logs"].execute_update("pause", PauseRequest(reason="waiting for logs"))
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_server.address)
    monkeypatch.setenv("ESCALATIONS_TASK_QUEUE", queue)
    paused = Selection(teams=(team,), states=(TicketStateName.PAUSED,))
    await _visible(client, paused, 1)
    await _visible(client, Selection(teams=(team,)), 3)

    # A command that would touch every ticket in the namespace is refused.
    code, _, err = await _cli(capsys, "pause", "--reason", "outage INC-42")
    assert code == 2
    assert "choose tickets with --team" in err

    code, out, err = await _cli(
        capsys, "pause", "--team", team, "--reason", "outage INC-42", "--dry-run"
    )
    assert code == 0
    assert [line.split("\t")[0] for line in out.splitlines()] == [f"T-{run}-a", f"T-{run}-b"]
    assert "dry run" in err
    assert (await query_status(handles["a"])).state == "open"

    code, out, _ = await _cli(capsys, "pause", "--team", team, "--reason", "outage INC-42")
    assert code == 0
    assert out.splitlines() == ["paused: 2 ticket(s)", f"  T-{run}-a", f"  T-{run}-b"]
    for name in ("a", "b"):
        status = await query_status(handles[name])
        assert (status.state, status.paused_reason) == ("paused", "outage INC-42")
    assert (await query_status(handles["logs"])).paused_reason == "waiting for logs"
    assert (await query_status(handles["other"])).state == "open"

    # Longest paused first: the ticket waiting for logs was paused before the outage.
    await _visible(client, paused, 3)
    code, out, _ = await _cli(capsys, "paused", "--team", team)
    assert code == 0
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0][0] == f"T-{run}-logs"
    assert sorted(row[0] for row in rows[1:]) == [f"T-{run}-a", f"T-{run}-b"]
    assert [row[-1] for row in rows] == ["waiting for logs", "outage INC-42", "outage INC-42"]

    # Resume only what the outage paused: the ticket waiting on its customer stays paused.
    code, out, _ = await _cli(capsys, "resume", "--team", team, "--paused-for", "outage INC-42")
    assert code == 0
    assert out.splitlines() == [
        "resumed: 2 ticket(s)",
        f"  T-{run}-a",
        f"  T-{run}-b",
        "skipped: 1 ticket(s)",
        f"  T-{run}-logs: paused for 'waiting for logs'",
    ]
    assert [(await query_status(handles[n])).state for n in ("a", "b", "logs")] == [
        "open",
        "open",
        "paused",
    ]

    # A reviewed policy change: new targets for P4, version 2, then an explicit migration.
    path = policy_dir / f"{POLICY_NAME}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("version: 1", "version: 2").replace(
            "P4: {first_response: 1h, resolution: 1d}", "P4: {first_response: 2h, resolution: 2d}"
        ),
        encoding="utf-8",
    )
    assert (await query_status(handles["a"])).policy_version == "1"
    code, out, err = await _cli(
        capsys,
        "migrate-policy",
        "--policy",
        POLICY_NAME,
        "--team",
        team,
        "--to-version",
        "3",
        "--by",
        "ops@example.com",
        "--reason",
        "longer P4 targets",
    )
    assert code == 1, "version 3 is not what the worker has: every ticket refuses"
    assert "refused: 3 ticket(s)" in err
    assert "is at version 2 on the worker, not 3" in err

    code, out, _ = await _cli(
        capsys,
        "migrate-policy",
        "--policy",
        POLICY_NAME,
        "--team",
        team,
        "--to-version",
        "2",
        "--by",
        "ops@example.com",
        "--reason",
        "longer P4 targets",
    )
    assert code == 0
    assert out.splitlines()[0] == "migrated: 3 ticket(s)"
    for name in ("a", "b", "logs"):
        status = await query_status(handles[name])
        assert status.policy_version == "2"
        target = status.clocks["first_response"].target
        assert target is not None
        assert target.total_seconds() == 2 * 3600
        assert status.policy_migrations[0].by == "ops@example.com"
    assert (await query_status(handles["other"])).policy_version == "1"
    for handle in handles.values():
        await handle.terminate("test finished")
