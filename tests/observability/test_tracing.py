"""OpenTelemetry tracing: one trace from the client's start through the workflow to its
activities, exported here to memory instead of over OTLP."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from escalations.client.tickets import TicketClient
from escalations.runtime import worker
from escalations.runtime.config import ConfigError, Settings, load_settings
from escalations.runtime.connection import connect
from escalations.runtime.telemetry import TRACING_EXTRA, tracing_interceptor
from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.e2e.helpers import LEVELS, new_ticket, wait_for_notices
from tests.e2e.processes import REPO_ROOT, DevServer
from workflows.ticket_messages import AcknowledgeRequest, workflow_id_for


@pytest.mark.e2e
@pytest.mark.timeout(120)
async def test_a_ticket_is_one_trace_from_its_start_to_its_notices(
    dev_server: DevServer, e2e_policy_dir: Path, sendgrid: FakeSendGrid, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = Settings(
        temporal_address=dev_server.address,
        task_queue=f"tracing-{uuid.uuid4()}",
        policy_dir=e2e_policy_dir,
        sendgrid_api_key=SecretStr("SG.tracing-test-key"),
        sendgrid_host=sendgrid.url,
        sendgrid_from="escalations@example.com",
        outbox_dir=tmp_path / "outbox",
        delivery_ledger=tmp_path / "deliveries.sqlite3",
        tracing="otlp",
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run_worker(settings, stop, tracer_provider=provider))
    try:
        tickets = TicketClient(
            await connect(settings, tracer_provider=provider), settings.task_queue
        )
        ticket = new_ticket("P3")  # its first level fires after 3 s
        await tickets.open(ticket, wait=False)
        await wait_for_notices(sendgrid, ticket.ticket_id, LEVELS[:1], within=60)
        await tickets.acknowledge(ticket.ticket_id, AcknowledgeRequest(by="agent@example.com"))
    finally:
        stop.set()
        await running
    provider.shutdown()
    spans = exporter.get_finished_spans()

    def one(name: str) -> ReadableSpan:
        found = [s for s in spans if s.name == name]
        assert len(found) == 1, f"{name}: {len(found)} spans in {[s.name for s in spans]}"
        return found[0]

    def assert_child(span: ReadableSpan, parent: ReadableSpan) -> None:
        assert span.parent is not None, f"{span.name} has no parent"
        assert span.context is not None
        assert parent.context is not None
        assert span.parent.span_id == parent.context.span_id, f"{span.name} not under {parent.name}"
        assert span.context.trace_id == parent.context.trace_id

    start = one("StartWorkflow:TicketEscalation")
    assert start.parent is None, "the client's start is the root of the ticket's trace"
    assert start.attributes is not None
    assert start.attributes["temporalWorkflowID"] == workflow_id_for(ticket.ticket_id)
    # The SDK's interceptor ends the workflow's own span at once (a workflow may run for
    # weeks), so what the workflow does hangs off the span that started the ticket.
    assert_child(one("RunWorkflow:TicketEscalation"), start)
    for activity in ("load_policy", "send_notification"):
        scheduled = one(f"StartActivity:{activity}")
        assert_child(scheduled, start)
        assert_child(one(f"RunActivity:{activity}"), scheduled)
    assert_child(one("HandleUpdate:acknowledge"), start)
    # The caller's side of the update is a trace of the caller's.
    assert one("StartWorkflowUpdate:acknowledge").parent is None


def test_tracing_without_the_extra_is_a_one_line_error_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # as if not installed
    with pytest.raises(ConfigError) as raised:
        tracing_interceptor(dataclasses.replace(Settings(), tracing="otlp"))
    assert str(raised.value) == (
        f"ESCALATIONS_TRACING=otlp needs the tracing extra: {TRACING_EXTRA}"
    )
    assert tracing_interceptor(Settings()) is None


def test_worker_py_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None  # the tracing extra is not installed\n"
        "import worker\n"
        "worker.main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env={"ESCALATIONS_TRACING": "otlp", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "worker.py: ESCALATIONS_TRACING=otlp needs the tracing extra: "
        "pip install 'helpdesk-escalations[tracing]'\n"
    )


def test_a_bad_tracing_setting_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^ESCALATIONS_TRACING='zipkin': use otlp"):
        load_settings({"ESCALATIONS_TRACING": "zipkin"})
    assert load_settings({"ESCALATIONS_TRACING": "OTLP"}).tracing == "otlp"
    assert load_settings({}).tracing == "off"
