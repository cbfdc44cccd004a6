"""Every committed history must replay on the current workflow code.

A failure here means a change alters the commands of tickets already running in production:
put it behind ``workflow.patched`` (see docs/contributing.md) instead of changing it in place.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from escalations.runtime.config import Settings
from escalations.runtime.data_converter import data_converter
from escalations.runtime.worker import workflow_runner
from workflows.ticket_escalation import TicketEscalation

HISTORIES = {
    path.stem: path.read_text()
    for path in sorted((Path(__file__).parent / "histories").glob("*.json"))
}


def test_histories_are_committed() -> None:
    assert HISTORIES, "no recorded histories under tests/replay/histories"


@pytest.mark.parametrize("sandbox", [False, True], ids=["production runner", "sandbox"])
@pytest.mark.parametrize("name", HISTORIES)
async def test_history_replays(name: str, sandbox: bool) -> None:
    # Both runners: production workers run unsandboxed, development may turn the sandbox on.
    history = WorkflowHistory.from_json(f"replay-{name}", HISTORIES[name])
    runner = workflow_runner(Settings(workflow_sandbox=sandbox))
    replayer = Replayer(
        workflows=[TicketEscalation], data_converter=data_converter, workflow_runner=runner
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{name}: {result.replay_failure}"
