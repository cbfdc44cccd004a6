"""With encryption on, the Temporal server holds only ciphertext, and operators read it through
the codec server: ``worker.py`` and the Python client configured from the environment, a real
dev server, and the real ``temporal`` CLI as the codec server's consumer."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.history.v1 import History

from escalations.client.tickets import TicketClient
from escalations.codec.server import CodecServer
from escalations.runtime.binaries import find_binary
from escalations.runtime.config import load_settings
from escalations.runtime.connection import converter_for
from escalations.runtime.encryption import EncryptionCodec, generate_key
from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.e2e.conftest import LogBook, Workers
from tests.e2e.helpers import LEVELS, new_ticket, wait_for_notices
from tests.e2e.processes import DevServer, WorkerProcess, connect, tail
from workflows.ticket_messages import AcknowledgeRequest, TicketInput, workflow_id_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CODEC_TOKEN = "e2e-codec-token-0123456789abcdef"


async def test_history_holds_only_ciphertext(
    dev_server: DevServer, workers: Workers, sendgrid: FakeSendGrid, logs: LogBook, tmp_path: Path
) -> None:
    key = generate_key(f"e2e-{uuid.uuid4().hex[:8]}")
    keys_env = {"ESCALATIONS_ENCRYPTION_KEYS": key.to_line().replace(" ", ":", 1)}
    worker = WorkerProcess(
        "encrypting worker",
        {**workers.environment(dev_server.address), **keys_env},
        tmp_path / "encrypting-worker.log",
    )
    logs.add(worker)
    worker.start()
    try:
        await worker.wait_ready()
        assert f"payloads encrypted (key {key.key_id})" in tail(worker.log_path)
        await _scenario(dev_server, workers, sendgrid, worker, keys_env, key.key_id)
    finally:
        worker.stop(timeout=10)
    assert key.to_line().split(" ")[1] not in worker.log_path.read_text(encoding="utf-8")


async def _scenario(
    dev_server: DevServer,
    workers: Workers,
    sendgrid: FakeSendGrid,
    worker: WorkerProcess,
    keys_env: dict[str, str],
    key_id: str,
) -> None:
    marker = uuid.uuid4().hex[:12]
    title = f"Salary spreadsheet exposed {marker}"
    requester = f"whistleblower-{marker}@acme.example"
    ticket = new_ticket("P3", title=title, requester=requester)  # a notice fires after 3 s
    settings = load_settings(
        {
            "TEMPORAL_ADDRESS": dev_server.address,
            "ESCALATIONS_TASK_QUEUE": workers.task_queue,
            **keys_env,
        }
    )
    # The client the CLI and other Python services use, configured from the environment.
    tickets = await TicketClient.connect(settings)
    status = await tickets.open(ticket)
    assert status.title == title
    await wait_for_notices(
        sendgrid, ticket.ticket_id, LEVELS[:1], within=30, watch=worker.assert_running
    )
    status = await tickets.acknowledge(ticket.ticket_id, AcknowledgeRequest(by="agent@example.com"))
    assert status.state == "acknowledged"
    # The worker decrypted what it needed: the notice it sent names the ticket.
    [notice] = [b for b in sendgrid.accepted if b["custom_args"]["ticket_id"] == ticket.ticket_id]
    assert marker in json.dumps(notice)

    # What the server stores, read by a client without the codec.
    plain_client = await connect(dev_server.address)
    handle = plain_client.get_workflow_handle(workflow_id_for(ticket.ticket_id))
    history = await handle.fetch_history()
    stored = History(events=history.events).SerializeToString()
    assert b"binary/encrypted" in stored
    assert key_id.encode() in stored
    for secret in (title, requester, marker):
        assert secret.encode() not in stored, f"{secret!r} is in the server's history"
    # The activity that sent the notice, an update and a timer are in it, all sealed.
    kinds = {event.WhichOneof("attributes") for event in history.events}
    assert "activity_task_completed_event_attributes" in kinds
    assert "workflow_execution_update_accepted_event_attributes" in kinds

    # With the codec, the same history reads back.
    started = history.events[0].workflow_execution_started_event_attributes
    [decoded] = await converter_for(settings).decode(list(started.input.payloads), [TicketInput])
    assert decoded == ticket

    # An operator's view: the real `temporal` CLI decoding through the codec server.
    codec = EncryptionCodec(settings.encryption_keys)
    with CodecServer(codec, token=CODEC_TOKEN, port=0) as server:
        shown = await _workflow_show(dev_server.address, handle.id, server.url, CODEC_TOKEN)
        assert shown.returncode == 0, shown.stderr
        decoded_text = _payload_data(shown.stdout)
        assert title in decoded_text
        assert requester in decoded_text
        refused = await _workflow_show(dev_server.address, handle.id, server.url, "wrong" * 5)
        assert title not in _payload_data(refused.stdout) + refused.stderr
    without_codec = await _workflow_show(dev_server.address, handle.id, None, None)
    assert without_codec.returncode == 0, without_codec.stderr
    assert title not in _payload_data(without_codec.stdout)
    assert "binary/encrypted" in _payload_encodings(without_codec.stdout)


def _payloads(output: str) -> list[dict[str, Any]]:
    """Every payload in ``temporal workflow show --output json`` output."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "metadata" in node and "data" in node:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    if output.strip():
        walk(json.loads(output))
    return found


def _payload_data(output: str) -> str:
    # Payload data is base64 in the CLI's JSON: decode it to look for the plaintext.
    return "\n".join(
        base64.b64decode(p["data"]).decode("utf-8", errors="replace") for p in _payloads(output)
    )


def _payload_encodings(output: str) -> set[str]:
    return {base64.b64decode(p["metadata"].get("encoding", "")).decode() for p in _payloads(output)}


async def _workflow_show(
    address: str, workflow_id: str, endpoint: str | None, token: str | None
) -> subprocess.CompletedProcess[str]:
    command = [
        find_binary("temporal"),
        "workflow",
        "show",
        "--workflow-id",
        workflow_id,
        "--output",
        "json",
        "--address",
        address,
        "--namespace",
        "default",
        "--disable-config-file",
        "--disable-config-env",
        "--command-timeout",
        "20s",
    ]
    if endpoint is not None:
        command += ["--codec-endpoint", endpoint]
    if token is not None:
        command += ["--codec-auth", f"Bearer {token}"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    return await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=60
    )
