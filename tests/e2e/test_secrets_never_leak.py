"""Secrets never leave the process that holds them: not into workflow history, logs, exception
messages, ``status``, CLI output or codec-server answers.

One ticket runs through ``worker.py`` and the ``escalations`` CLI, both configured with canary
secrets: a SendGrid key, two encryption keys, a Temporal API key and a codec-server token. The
fake SendGrid echoes the SendGrid key back in its 500 and 400 error bodies (as a proxy or a
future error format might), so the key reaches our error handling. Afterwards every artefact is
searched for every secret, in every form it could take (text, base64, raw bytes, hex).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.api.history.v1 import History

from escalations.runtime.config import load_settings
from escalations.runtime.encryption import EncryptionCodec, EncryptionKey, generate_key
from escalations.testing.fake_sendgrid import FakeSendGrid, sendgrid_error
from tests.e2e.conftest import LogBook, Workers
from tests.e2e.helpers import new_ticket, wait_until
from tests.e2e.processes import REPO_ROOT, DevServer, LoggedProcess, WorkerProcess, free_port
from tests.e2e.processes import connect as plain_connect
from workflows.ticket_messages import TicketStatus, workflow_id_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CLI = [sys.executable, "-m", "escalations.cli.main"]


class Secrets:
    """Canary values for every secret the service holds, unique to one test run."""

    def __init__(self) -> None:
        canary = uuid.uuid4().hex
        self.sendgrid_key = f"SG.canary-sendgrid-{canary}"
        self.temporal_api_key = f"canary-temporal-api-key-{canary}"
        self.codec_token = f"canary-codec-token-{canary}"
        self.old_key = generate_key(f"leak-old-{canary[:6]}")
        self.new_key = generate_key(f"leak-new-{canary[:6]}")

    def environment(self) -> dict[str, str]:
        keys = ",".join(_inline(k) for k in (self.old_key, self.new_key))
        return {
            "SENDGRID_API_KEY": self.sendgrid_key,
            "ESCALATIONS_ENCRYPTION_KEYS": keys,
            "TEMPORAL_API_KEY": self.temporal_api_key,
            # The dev server speaks plain gRPC; the API key still rides on every call.
            "TEMPORAL_TLS": "false",
            "ESCALATIONS_CODEC_SERVER_TOKEN": self.codec_token,
        }

    def forms(self) -> dict[str, bytes]:
        """Each secret in every encoding that could carry it into an artefact."""
        found: dict[str, bytes] = {}
        for name, text in (
            ("SendGrid API key", self.sendgrid_key),
            ("Temporal API key", self.temporal_api_key),
            ("codec token", self.codec_token),
        ):
            found[name] = text.encode()
            found[f"{name} (base64)"] = base64.b64encode(text.encode())
        for key in (self.old_key, self.new_key):
            label = f"encryption key {key.key_id}"
            found[f"{label} (base64)"] = base64.b64encode(key.secret)
            found[f"{label} (urlsafe base64)"] = base64.urlsafe_b64encode(key.secret)
            found[f"{label} (raw)"] = key.secret
            found[f"{label} (hex)"] = key.secret.hex().encode()
        return found


def _inline(key: EncryptionKey) -> str:
    return key.to_line().replace(" ", ":", 1)


class Artefacts:
    """Everything a secret could leak into, by where it came from."""

    def __init__(self) -> None:
        self._items: dict[str, bytes] = {}

    def add(self, where: str, content: bytes | str) -> None:
        data = content.encode() if isinstance(content, str) else content
        self._items[where] = self._items.get(where, b"") + data

    def add_file(self, where: str, path: Path) -> None:
        self.add(where, path.read_bytes())

    def leaks(self, secrets: Mapping[str, bytes]) -> list[str]:
        return [
            f"{name} found in {where}"
            for where, data in self._items.items()
            for name, secret in secrets.items()
            if secret in data
        ]

    def __contains__(self, text: str) -> bool:
        return any(text.encode() in data for data in self._items.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)


async def test_no_secret_reaches_history_logs_errors_or_status(
    dev_server: DevServer,
    workers: Workers,
    sendgrid: FakeSendGrid,
    logs: LogBook,
    tmp_path: Path,
) -> None:
    secrets = Secrets()
    env = {**workers.environment(dev_server.address), **secrets.environment()}
    artefacts = Artefacts()

    # SendGrid echoes the key: a 500 (retried), then a 400 (the notice fails for good); the
    # next level's notice is accepted.
    echo = sendgrid_error(f"key {secrets.sendgrid_key} is not allowed", field="Authorization")
    sendgrid.answer_next(500, body=echo)
    sendgrid.answer_next(400, body=echo)

    worker = WorkerProcess("worker with canary secrets", env, tmp_path / "canary-worker.log")
    logs.add(worker)
    worker.start()
    try:
        await worker.wait_ready()
        status = await _run_ticket(env, artefacts, worker)
    finally:
        worker.stop(timeout=10)

    # The scenario really went through the paths that handle the echoed key.
    [failed, sent] = status.escalations[:2]
    assert failed.delivery.status == "failed", failed
    assert "[redacted]" in (failed.delivery.detail or ""), failed.delivery.detail
    assert sent.delivery.status == "sent", sent
    assert any(
        r.headers.get("authorization") == f"Bearer {secrets.sendgrid_key}"
        for r in sendgrid.requests
    )

    await _collect_history(dev_server.address, status.ticket_id, secrets, artefacts)
    await _codec_server_exchanges(env, tmp_path, logs, artefacts, status.ticket_id, dev_server)
    _bad_configuration_errors(env, secrets, artefacts)
    artefacts.add_file("worker log", worker.log_path)
    artefacts.add_file("Temporal dev server log", dev_server.log_path)

    # The search itself can fail: the decoded history holds the ticket, and the logs the
    # rejected notice's redacted reason.
    assert status.title in artefacts
    assert "[redacted]" in artefacts
    leaks = artefacts.leaks(secrets.forms())
    assert not leaks, "\n".join(leaks) + f"\nsearched: {', '.join(artefacts)}"


async def _run_ticket(
    env: dict[str, str], artefacts: Artefacts, worker: WorkerProcess
) -> TicketStatus:
    """Open a ticket through the CLI, wait for two settled notices, then resolve it."""
    ticket = new_ticket("P3", title=f"Payroll export leaks {uuid.uuid4().hex[:8]}")
    ticket_id = ticket.ticket_id
    opened = await _cli(
        env, artefacts, "ticket open",
        ["ticket", "open", "--id", ticket_id, "--title", ticket.title, "--priority", "P3",
         "--team", "support", "--customer", "Acme", "--requester", "buyer@acme.example",
         "--assignee", "agent@example.com", "--policy", "e2e", "--json"],
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr

    async def two_notices_settled() -> TicketStatus | None:
        shown = await _cli(
            env, artefacts, "ticket status", ["ticket", "status", ticket_id, "--json"]
        )
        assert shown.returncode == 0, shown.stderr
        status = TicketStatus.model_validate_json(shown.stdout)
        settled = [e for e in status.escalations if e.delivery.status in {"sent", "failed"}]
        return status if len(settled) >= 2 else None

    await wait_until(
        two_notices_settled, within=60, what="two settled notices", watch=worker.assert_running
    )
    acked = await _cli(
        env, artefacts, "ticket ack", ["ticket", "ack", ticket_id, "--by", "agent@example.com"]
    )
    assert acked.returncode == 0, acked.stderr
    # Refused updates: their error messages are artefacts too.
    refused = await _cli(env, artefacts, "refused update", ["ticket", "priority", ticket_id, "P9"])
    assert refused.returncode == 1, refused.stdout
    # Without the keys the CLI cannot read the ticket, and says so without a traceback.
    keyless = {k: v for k, v in env.items() if not k.startswith("ESCALATIONS_ENCRYPTION")}
    blind = await _cli(keyless, artefacts, "status without keys", ["ticket", "status", ticket_id])
    assert blind.returncode == 1, blind.stdout
    assert "encrypted" in blind.stderr, blind.stderr
    assert "Traceback" not in blind.stderr, blind.stderr
    resolved = await _cli(
        env,
        artefacts,
        "ticket resolve",
        ["ticket", "resolve", ticket_id, "--by", "agent@example.com", "--note", "fixed", "--json"],
    )
    assert resolved.returncode == 0, resolved.stderr
    return TicketStatus.model_validate_json(resolved.stdout)


async def _cli(
    env: Mapping[str, str], artefacts: Artefacts, what: str, args: list[str]
) -> subprocess.CompletedProcess[str]:
    """Run the ``escalations`` CLI; its output and errors go to the artefacts."""
    done = await asyncio.to_thread(
        subprocess.run,
        [*CLI, *args],
        cwd=REPO_ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    artefacts.add(f"CLI {what} (stdout)", done.stdout)
    artefacts.add(f"CLI {what} (stderr)", done.stderr)
    return done


async def _collect_history(
    address: str, ticket_id: str, secrets: Secrets, artefacts: Artefacts
) -> None:
    """The history as the server stores it, and every payload in it decrypted."""
    client = await plain_connect(address)
    history = await client.get_workflow_handle(workflow_id_for(ticket_id)).fetch_history()
    stored = History(events=history.events)
    raw = stored.SerializeToString()
    assert b"binary/encrypted" in raw
    artefacts.add("history as stored", raw)
    codec = EncryptionCodec((secrets.old_key, secrets.new_key))
    decrypted = [codec.decrypt(payload).data for payload in _payloads(stored)]
    artefacts.add("history, every payload decrypted", b"\n".join(decrypted))
    # The workflow's own failure messages and stack traces (in encoded attributes) included.
    artefacts.add("history as JSON", json.dumps(history.to_json_dict()))


def _payloads(message: Message) -> Iterator[Payload]:
    """Every ``Payload`` inside a protobuf message, however deeply nested (maps included)."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            children: Any = value.values()
            if field.message_type.fields_by_name["value"].message_type is None:
                continue
        elif field.is_repeated:
            children = value
        else:
            children = [value]
        for child in children:
            yield from _payloads(child)


async def _codec_server_exchanges(
    env: dict[str, str],
    tmp_path: Path,
    logs: LogBook,
    artefacts: Artefacts,
    ticket_id: str,
    dev_server: DevServer,
) -> None:
    """Decode through ``escalations codec-server`` with the right token, a wrong one, none."""
    port = free_port()
    server = LoggedProcess(
        "codec server",
        [*CLI, "codec-server", "--port", str(port), "--ui-origin", "http://ui.example:8233"],
        tmp_path / "codec-server.log",
        cwd=REPO_ROOT,
        env=env,
    )
    logs.add(server)
    server.start()
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_until(
            lambda: asyncio.to_thread(_get, f"{base}/healthz"),
            within=20,
            what="codec server health",
            watch=server.assert_running,
        )
        client = await plain_connect(dev_server.address)
        history = await client.get_workflow_handle(workflow_id_for(ticket_id)).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        body = json.dumps({"payloads": [_payload_json(p) for p in started.input.payloads]}).encode()
        token = env["ESCALATIONS_CODEC_SERVER_TOKEN"]
        attempts = {
            "right token": {"Authorization": f"Bearer {token}"},
            "wrong token": {"Authorization": f"Bearer {token[:-1]}x"},
            "no token": {},
            "foreign origin": {"Authorization": f"Bearer {token}", "Origin": "http://evil.example"},
        }
        answers = {}
        for what, headers in attempts.items():
            status, text = await asyncio.to_thread(_post, f"{base}/decode", body, headers)
            artefacts.add(f"codec server answer ({what})", text)
            answers[what] = status
        login_status, login_page = await asyncio.to_thread(
            _post,
            f"{base}/login",
            f"token={token}".encode(),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        artefacts.add("codec server sign-in answer", login_page)
        assert answers["right token"] == 200
        assert answers["wrong token"] == answers["no token"] == 401
        assert answers["foreign origin"] == 403
        assert login_status == 200
    finally:
        server.stop(timeout=10)
    artefacts.add_file("codec server log", server.log_path)


def _payload_json(payload: Payload) -> dict[str, Any]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return str(answer.read().decode())
    except OSError:
        return None


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read().decode()
            # Decoded payload data is base64 in the protocol: look inside it too.
            return answer.status, text + _decoded_data(text)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode() + str(dict(err.headers))


def _decoded_data(text: str) -> str:
    try:
        payloads = json.loads(text).get("payloads", [])
    except (ValueError, AttributeError):
        return ""
    return "".join(base64.b64decode(p.get("data", "")).decode(errors="replace") for p in payloads)


def _bad_configuration_errors(env: dict[str, str], secrets: Secrets, artefacts: Artefacts) -> None:
    """Settings that cannot be used are refused with messages that never quote the secret."""
    short_key = base64.b64encode(secrets.new_key.secret[:31]).decode()
    broken = {
        "a short encryption key": {"ESCALATIONS_ENCRYPTION_KEYS": f"short:{short_key}"},
        "a key without an id": {
            "ESCALATIONS_ENCRYPTION_KEYS": base64.b64encode(secrets.new_key.secret).decode()
        },
        "two keys with one id": {
            "ESCALATIONS_ENCRYPTION_KEYS": f"{_inline(secrets.new_key)},{_inline(secrets.new_key)}"
        },
        "a short codec token": {"ESCALATIONS_CODEC_SERVER_TOKEN": secrets.codec_token[:8]},
    }
    for what, change in broken.items():
        for command in ([*CLI, "ticket", "status", "T-1"], [sys.executable, "worker.py"]):
            done = subprocess.run(
                command,
                cwd=REPO_ROOT,
                env={**env, **change},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 2, (what, command, done.returncode, done.stderr)
            assert "Traceback" not in done.stderr, done.stderr
            artefacts.add(f"{' '.join(command[-3:])} with {what}", done.stdout + done.stderr)
            for secret_text in change.values():
                # A fragment of a secret is a leak too.
                assert secret_text not in done.stderr, (what, done.stderr)
    # The same in-process: ConfigError messages.
    for what, change in broken.items():
        try:
            load_settings({**env, **change})
        except ValueError as err:
            artefacts.add(f"ConfigError for {what}", str(err) + repr(err))
        else:
            raise AssertionError(f"{what} was accepted")
    artefacts.add("Settings repr", repr(load_settings(env)))
