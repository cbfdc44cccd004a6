"""Record fresh TicketEscalation histories for the replay tests.

Run ``python -m tests.replay.record --label v5`` before a release (or after a workflow change
that is behind ``workflow.patched``) and commit the new files: every committed history must
keep replaying on every later version of the workflow code, which ``tests/replay`` checks in CI.
Each scenario (``tests/replay/scenarios.py``) runs real activities against a loopback fake
SendGrid and is saved as ``histories/<scenario>-<label>.json``. Most run on the time-skipping
server; the continue-as-new scenario runs in real time on a dev server started here with a low
``limit.historyCount.suggestContinueAsNew``, and is saved as one file per run of the chain:
``<scenario>-first-<label>.json`` and ``<scenario>-continued-<label>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.channels.dispatch import ChannelActivities
from activities.channels.secrets import SecretSource
from activities.notifications import build_notification_activities
from activities.outbox import OutboxWriter
from activities.policy_files import PolicyActivities
from escalations.testing.fake_sendgrid import FakeSendGrid
from policies.loader import default_policy_dir
from tests.e2e.processes import DevServer
from tests.replay.scenarios import (
    DEV_SERVER,
    TIME_SKIPPING,
    Handle,
    Opener,
    Recording,
    Scenario,
)
from tests.server_setup import start_time_skipping
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import TicketInput, workflow_id_for

HISTORIES = Path(__file__).parent / "histories"
POLICY_DIRS = (
    default_policy_dir(),
    Path(__file__).parent.parent / "workflows" / "policies",
    Path(__file__).parent / "policies",
)
# The dev server suggests continue-as-new once a run's history has this many events (its
# default is 4,096). About four notices of the ``seconds`` policy; the continued run is
# resolved well before it reaches the limit again.
SUGGEST_CONTINUE_AS_NEW_AFTER = 50


class _Recorder:
    """Runs scenarios on one server with a worker and saves their histories."""

    def __init__(self, label: str, fake: FakeSendGrid, workdir: Path) -> None:
        self.label = label
        self.fake = fake
        # Written only once every scenario succeeded: a half-recorded set would block the label.
        self.histories: dict[Path, str] = {}
        outbox = workdir / "outbox"
        policy_dir = workdir / "policies"
        outbox.mkdir()
        policy_dir.mkdir()
        for source in POLICY_DIRS:
            for path in source.glob("*.yaml"):
                shutil.copy(path, policy_dir / path.name)
        self._policy_dir = policy_dir
        self._policies = PolicyActivities(policy_dir)
        self._notifications = build_notification_activities(
            api_key="SG.test-key",
            sendgrid_host=fake.url,
            from_address="escalations@example.com",
            outbox_dir=outbox,
        )
        # No channel secrets: the shipped policies' Slack and PagerDuty channels write to the
        # outbox, which answers as a live channel does (ids, a Slack thread to reply under).
        self._channels = ChannelActivities(
            OutboxWriter(outbox, "escalations@example.com"), secrets=SecretSource({})
        )

    async def run(self, env: WorkflowEnvironment, scenarios: dict[str, Scenario]) -> None:
        queue = f"record-{uuid.uuid4()}"
        with ThreadPoolExecutor(max_workers=4) as executor:
            async with Worker(
                env.client,
                task_queue=queue,
                workflows=[TicketEscalation],
                activities=[
                    self._policies.load_policy,
                    self._notifications.send_notification,
                    self._channels.send_channel_notice,
                ],
                activity_executor=executor,
            ):
                for name, script in scenarios.items():
                    handle = await script(
                        Recording(env, self.fake, _opener(env, name, queue), self._policy_dir)
                    )
                    await handle.result()
                    await self._save(env.client, name, handle)

    async def _save(self, client: Client, name: str, handle: Handle) -> None:
        runs = await _chain(client, handle.id, handle.result_run_id)
        if len(runs) > 2:
            raise RuntimeError(
                f"{name}: the ticket continued as new {len(runs) - 1} times; the scenario "
                "records one: resolve it sooner or raise SUGGEST_CONTINUE_AS_NEW_AFTER"
            )
        stems = [name] if len(runs) == 1 else [f"{name}-first", f"{name}-continued"]
        for stem, history in zip(stems, runs, strict=True):
            self.histories[HISTORIES / f"{stem}-{self.label}.json"] = history.to_json()


def _opener(env: WorkflowEnvironment, name: str, queue: str) -> Opener:
    async def open_ticket(**overrides: Any) -> Handle:
        ticket = TicketInput(
            **{
                "ticket_id": f"REC-{name}",
                "title": "Checkout down",
                "team": "payments",
                "customer": "Acme",
                "requester": "buyer@acme.example",
                "assignee": "agent@example.com",
                **overrides,
            }
        )
        return await env.client.start_workflow(
            TicketEscalation.run, ticket, id=workflow_id_for(ticket.ticket_id), task_queue=queue
        )

    return open_ticket


async def _chain(client: Client, workflow_id: str, run_id: str | None) -> list[WorkflowHistory]:
    """The histories of ``run_id`` and of every run it continued as."""
    runs: list[WorkflowHistory] = []
    while run_id:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        runs.append(history)
        last = history.events[-1]
        continued = last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        attributes = last.workflow_execution_continued_as_new_event_attributes
        run_id = attributes.new_execution_run_id if continued else None
    return runs


@contextlib.asynccontextmanager
async def _dev_server(workdir: Path) -> AsyncIterator[WorkflowEnvironment]:
    """A dev server that suggests continue-as-new early; stopped (and reaped) on exit."""
    server = DevServer(workdir)
    server.args += [
        "--dynamic-config-value",
        f"limit.historyCount.suggestContinueAsNew={SUGGEST_CONTINUE_AS_NEW_AFTER}",
    ]
    server.start()
    try:
        client = await server.wait_ready()
        yield WorkflowEnvironment.from_client(client)
    finally:
        server.stop()


async def record(label: str) -> list[Path]:
    """Run every scenario and save its history; returns the files written."""
    existing = sorted(path.name for path in HISTORIES.glob(f"*-{label}.json"))
    if existing:
        # A committed set is the record of what tickets of that version look like: replacing
        # it with histories of today's code would stop testing those tickets.
        raise SystemExit(f"histories labelled {label} exist already ({', '.join(existing)})")
    with FakeSendGrid() as fake, tempfile.TemporaryDirectory() as tmp:
        recorder = _Recorder(label, fake, Path(tmp))
        env = await start_time_skipping()
        try:
            await recorder.run(env, TIME_SKIPPING)
        finally:
            await env.shutdown()
        async with _dev_server(Path(tmp)) as dev:
            await recorder.run(dev, DEV_SERVER)
    for path, text in recorder.histories.items():
        path.write_text(text)
    return list(recorder.histories)


def _label(text: str) -> str:
    # tests/replay/test_coverage.py finds the newest set by this number.
    if not re.fullmatch(r"v\d+", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not v<N>, such as v5")
    return text


def main() -> None:
    """Command line: ``python -m tests.replay.record --label v5``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--label",
        required=True,
        type=_label,
        help="vN, one more than the newest set under histories/",
    )
    args = parser.parse_args()
    started = time.monotonic()
    for path in asyncio.run(record(args.label)):
        print(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    print(f"recorded in {time.monotonic() - started:.0f}s")
    # The SDK's runtime can abort the interpreter at exit while its threads still hold
    # references; collecting them first avoids that (the same workaround as the CLI's).
    gc.collect()


if __name__ == "__main__":
    main()
