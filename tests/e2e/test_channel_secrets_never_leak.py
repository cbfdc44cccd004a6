"""The channels' secrets never leave the worker: a Slack bot token, a PagerDuty routing key,
a Teams webhook URL (its ``sig`` lets anyone post) and a webhook signing secret.

A ticket climbs a four-channel ladder through ``worker.py`` with canary secrets, while the
fakes echo each secret back in their error bodies (as a proxy or a future error format might)
so the secrets reach our error handling; a fifth channel's secret is unset, so its requests go
to the outbox. Then the history, the worker's log, the CLI's status output and the outbox files
are searched for every secret in every form (text, base64, URL-quoted).
"""

from __future__ import annotations

import asyncio
import base64
import secrets as random
import subprocess
import sys
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from tests.e2e.conftest import LogBook, Workers
from tests.e2e.helpers import new_ticket, open_ticket, query_status, wait_until
from tests.e2e.processes import REPO_ROOT, DevServer
from tests.e2e.test_channels_ladder import CHANNELS_POLICY
from tests.e2e.test_secrets_never_leak import Artefacts
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.teams import FakeTeams
from tests.fakes.webhook_receiver import FakeWebhookReceiver
from workflows.ticket_messages import ResolveRequest, workflow_id_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

# The ladder's policy, plus a channel whose secret nobody sets: it writes to the outbox.
POLICY = CHANNELS_POLICY.replace(
    "  itsm: {webhook:",
    "  unset-pd: {pagerduty: {routing_key_env: E2E_UNSET_ROUTING_KEY}}\n  itsm: {webhook:",
).replace("  executive: [cto@example.com,", "  executive: [cto@example.com, unset-pd,")


def _add_outbox(artefacts: Artefacts, outbox: Path) -> int:
    files = sorted(outbox.glob("*.json"))
    for path in files:
        artefacts.add(f"outbox {path.name}", path.read_bytes())
    return len(files)


def _forms(name: str, secret: str) -> dict[str, bytes]:
    return {
        name: secret.encode(),
        f"{name} (base64)": base64.b64encode(secret.encode()),
        f"{name} (URL-quoted)": urllib.parse.quote(secret, safe="").encode(),
    }


async def test_no_channel_secret_reaches_history_logs_outbox_or_status(
    client: Client, dev_server: DevServer, workers: Workers, logs: LogBook, tmp_path: Path
) -> None:
    canary = uuid.uuid4().hex
    token = f"xoxb-canary-{canary}"
    routing_key = canary  # 32 hex characters: a well-formed routing key
    webhook_secret = "whsec_" + base64.b64encode(random.token_bytes(32)).decode()
    policy_dir = tmp_path / "leak-policies"
    policy_dir.mkdir()
    (policy_dir / "channels.yaml").write_text(POLICY, encoding="utf-8")

    with (
        FakeSlack(token=token) as slack,
        FakePagerDuty(routing_keys=[routing_key]) as pagerduty,
        FakeTeams() as teams,
        FakeWebhookReceiver(secret=webhook_secret) as receiver,
    ):
        slack.add_channel("#ops-escalations")
        teams_url = teams.add_flow()
        # Each provider echoes the secret once: retried (5xx) or refused for good (4xx).
        slack.answer_next(500, body={"ok": False, "error": f"internal_error {token}"})
        pagerduty.answer_next(400, body={"status": "invalid event", "message": routing_key})
        teams.answer_next(503, body={"error": {"message": f"cannot post to {teams_url}"}})
        receiver.answer_next(500, body={"detail": f"bad secret {webhook_secret}"})
        environment = {
            "ESCALATIONS_POLICY_DIR": str(policy_dir),
            "ESCALATIONS_SLACK_API_URL": f"{slack.url}/api/",
            "ESCALATIONS_PAGERDUTY_EVENTS_URL": pagerduty.url,
            "SLACK_BOT_TOKEN": token,
            "E2E_PD_ROUTING_KEY": routing_key,
            "E2E_TEAMS_WEBHOOK_URL": teams_url,
            "E2E_WEBHOOK_URL": f"{receiver.url}/hooks/sla",
            "E2E_WEBHOOK_SECRET": webhook_secret,
        }
        worker = await workers.start(dev_server.address, **environment)
        ticket = new_ticket("P1", policy="channels", title=f"Leak check {canary[:8]}")
        handle = await open_ticket(client, ticket, workers.task_queue)

        async def settled() -> Any:
            status = await query_status(handle)
            done = [e for e in status.escalations if e.delivery.status in ("sent", "failed")]
            written = [e for e in status.escalations if e.delivery.status == "written"]
            return status if len(done) + len(written) == len(status.escalations) == 15 else None

        status = await wait_until(settled, within=120, what="every notice settled")
        await handle.execute_update("resolve", ResolveRequest(by="agent@example.com"))
        await asyncio.sleep(2)
        shown = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "escalations.cli.main", "ticket", "status", ticket.ticket_id],
            cwd=REPO_ROOT,
            env=workers.environment(dev_server.address),
            capture_output=True,
            text=True,
            timeout=60,
        )
        worker.stop(timeout=10)

    # The scenario went through the paths that handle the echoed secrets.
    assert shown.returncode == 0, shown.stderr
    failed = {e.channel for e in status.escalations if e.delivery.status == "failed"}
    assert "pd-ops" in failed, [(e.channel, e.delivery) for e in status.escalations]
    assert any(e.delivery.status == "written" for e in status.escalations)
    assert len(slack.requests) >= 2  # the 500, then the retry
    artefacts = Artefacts()
    history = await client.get_workflow_handle(workflow_id_for(ticket.ticket_id)).fetch_history()
    artefacts.add("history", history.to_json())
    artefacts.add_file("worker log", worker.log_path)
    artefacts.add("CLI status", shown.stdout + shown.stderr)
    outbox = Path(workers.environment(dev_server.address)["ESCALATIONS_OUTBOX"])
    assert _add_outbox(artefacts, outbox), "the unset channel wrote its requests to the outbox"
    assert "E2E_UNSET_ROUTING_KEY" in artefacts
    assert "[redacted]" in artefacts
    forms = {
        **_forms("Slack token", token),
        **_forms("routing key", routing_key),
        **_forms("Teams webhook URL", teams_url),
        **_forms("Teams URL signature", urllib.parse.parse_qs(teams_url)["sig"][0]),
        **_forms("webhook secret", webhook_secret),
    }
    leaks = artefacts.leaks(forms)
    assert not leaks, "\n".join(leaks)
