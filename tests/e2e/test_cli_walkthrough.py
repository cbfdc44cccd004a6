"""The README walkthrough with the real ``temporal`` CLI: any Temporal client speaks plain JSON."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from functools import partial
from typing import Any

import pytest

from escalations.runtime.binaries import find_binary
from tests.e2e.conftest import Workers
from tests.e2e.helpers import POLICY_NAME, new_ticket, wait_until
from tests.e2e.processes import DevServer
from workflows.ticket_messages import workflow_id_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


class Cli:
    """The ``temporal`` binary pointed at one server, ignoring any user config or env."""

    def __init__(self, address: str) -> None:
        self._binary = find_binary("temporal")
        self._address = address
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}

    async def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [
            self._binary,
            *args,
            "--address",
            self._address,
            "--namespace",
            "default",
            "--disable-config-file",
            "--disable-config-env",
            "--color",
            "never",
            "--command-timeout",
            "20s",
        ]
        result = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, env=self._env, timeout=60
        )
        print(f"$ temporal {' '.join(args)}\n-> exit {result.returncode}")
        return result

    async def json(self, *args: str) -> Any:
        """Run a command with ``--output json`` and parse its output; fail on non-zero exit."""
        result = await self.run(*args, "--output", "json")
        assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}{result.stdout}"
        return json.loads(result.stdout)


async def test_temporal_cli_walkthrough(dev_server: DevServer, workers: Workers) -> None:
    worker = await workers.start(dev_server.address)
    cli = Cli(dev_server.address)
    ticket_id = new_ticket("P4").ticket_id
    workflow_id = workflow_id_for(ticket_id)
    # Written by hand, as a service in another language would: only the required fields.
    ticket_json = json.dumps(
        {
            "ticket_id": ticket_id,
            "title": "Refund stuck in pending",
            "priority": "P4",  # targets in hours: nothing fires during the test
            "team": "support",
            "customer": "Acme",
            "requester": "buyer@acme.example",
            "policy": POLICY_NAME,
        }
    )

    started = await cli.json(
        "workflow",
        "start",
        "--type",
        "TicketEscalation",
        "--task-queue",
        workers.task_queue,
        "--workflow-id",
        workflow_id,
        "--input",
        ticket_json,
    )
    assert started["workflowId"] == workflow_id

    # The first query may come before the ticket has loaded its policy; that one is refused.
    opened = await wait_until(
        partial(_query_status, cli, workflow_id),
        within=30,
        what="the status query to answer",
        interval=0.5,
        watch=worker.assert_running,
    )
    assert opened["ticket_id"] == ticket_id
    assert opened["state"] == "open"
    assert opened["policy"] == POLICY_NAME
    assert opened["priority"] == "P4"
    assert opened["clocks"]["first_response"]["running"] is True

    acknowledged = await cli.json(
        "workflow",
        "update",
        "execute",
        "--workflow-id",
        workflow_id,
        "--name",
        "acknowledge",
        "--input",
        json.dumps({"by": "alice"}),
    )
    # An update answers with the ticket's status, as JSON too.
    assert acknowledged["result"]["state"] == "acknowledged"
    status = await _query_status(cli, workflow_id)
    assert status["state"] == "acknowledged"
    assert status["acknowledged_by"] == "alice"
    first_response = status["clocks"]["first_response"]
    assert first_response["running"] is False
    assert first_response["stopped_at"] is not None
    assert status["clocks"]["resolution"]["running"] is True

    rejected = await cli.run(
        "workflow",
        "update",
        "execute",
        "--workflow-id",
        workflow_id,
        "--name",
        "resume",
        "--input",
        "{}",
    )
    output = rejected.stdout + rejected.stderr
    print(output)
    assert rejected.returncode != 0
    assert "resume: the ticket is not paused (it is acknowledged)" in output
    # A rejected update leaves no trace on the ticket.
    assert (await _query_status(cli, workflow_id))["state"] == "acknowledged"
    worker.assert_running()


async def _query_status(cli: Cli, workflow_id: str) -> dict[str, Any]:
    answer = await cli.json("workflow", "query", "--workflow-id", workflow_id, "--name", "status")
    # The CLI prints {"queryResult": [<one JSON value per result payload>]}.
    (status,) = answer["queryResult"]
    assert isinstance(status, dict)
    return status
