"""Prometheus metrics of a real ``worker.py``: ours and the SDK's, scraped over HTTP."""

from __future__ import annotations

import asyncio
import math
import re
import socket
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle

from escalations.dev import banner
from escalations.runtime.config import DEV_METRICS_ADDRESS, ConfigError, Settings, load_settings
from escalations.runtime.telemetry import build_runtime
from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.e2e.helpers import LEVELS, new_ticket, open_ticket, query_status, wait_until
from tests.e2e.processes import DevServer, free_port
from tests.observability.conftest import ObservedWorkers
from workflows.ticket_messages import TicketStatus
from workflows.ticket_metrics import LATENESS_BUCKETS

Sample = tuple[str, dict[str, str], float]
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> list[Sample]:
    """The samples of a Prometheus text exposition (comments skipped)."""
    samples: list[Sample] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        labels = {m["key"]: m["value"] for m in _LABEL.finditer(match["labels"] or "")}
        samples.append((match["name"], labels, float(match["value"])))
    return samples


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    """The one sample called ``name`` whose labels include ``labels`` (None if there is none)."""
    found = [v for n, lbls, v in samples if n == name and labels.items() <= lbls.items()]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} series"
    return found[0] if found else None


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        text: str = response.read().decode()
        return text


def _fired_and_delivered(status: TicketStatus) -> TicketStatus | None:
    done = [e.level for e in status.escalations] == list(LEVELS) and all(
        e.delivery.status in {"sent", "failed"} for e in status.escalations
    )
    return status if done else None


@pytest.mark.e2e
@pytest.mark.timeout(120)
async def test_worker_serves_escalation_and_sdk_metrics(
    dev_server: DevServer,
    client: Client,
    observed_workers: ObservedWorkers,
    sendgrid: FakeSendGrid,
) -> None:
    port = free_port()
    # One ticket in the cache at a time: each ticket's wake-up evicts the other, whose next
    # task replays its whole history. Replayed firings must not be counted again.
    worker = await observed_workers.start_with(
        dev_server.address,
        ESCALATIONS_METRICS_ADDRESS=f"127.0.0.1:{port}",
        ESCALATIONS_MAX_CACHED_WORKFLOWS="1",
    )
    url = f"http://127.0.0.1:{port}/metrics"
    queue = observed_workers.task_queue

    # The first notice SendGrid sees (the first ticket's first level) is refused for good.
    sendgrid.answer_next(400)
    first = new_ticket("P1")  # levels at 3 s, 6 s and 12 s; both clocks breach
    first_handle = await open_ticket(client, first, queue)

    async def first_notice() -> bool | None:
        return True if sendgrid.requests else None

    await wait_until(first_notice, within=30, what="the first notice", watch=worker.assert_running)
    second = new_ticket("P1")
    second_handle = await open_ticket(client, second, queue)
    statuses = []
    for handle in (first_handle, second_handle):

        async def settled(h: WorkflowHandle[Any, Any] = handle) -> TicketStatus | None:
            return _fired_and_delivered(await query_status(h))

        statuses.append(
            await wait_until(
                settled,
                within=60,
                what="every level fired and its notice settled",
                watch=worker.assert_running,
            )
        )
    assert [e.delivery.status for e in statuses[0].escalations] == ["failed", "sent", "sent"]

    async def complete() -> list[Sample] | None:
        # The last notice's outcome is recorded when its workflow task completes.
        samples = parse_prometheus(await asyncio.to_thread(scrape, url))
        sent = value(samples, "escalations_notices_total", task_queue=queue, outcome="sent")
        return samples if sent is not None and sent >= 5 else None

    samples = await wait_until(complete, within=15, what="five sent notices in the metrics")
    text = await asyncio.to_thread(scrape, url)
    for ticket in (first, second):
        assert ticket.ticket_id not in text, "a ticket id as a label"

    mine = {"task_queue": queue, "workflow_type": "TicketEscalation"}
    for level in LEVELS:
        fired = value(
            samples, "escalations_fired_total", level=level, policy="e2e", priority="P1", **mine
        )
        assert fired == 2, f"{level} fired {fired} times, not once per ticket"
    for clock in ("first_response", "resolution"):
        breaches = value(
            samples, "escalations_sla_breaches_total", clock=clock, priority="P1", policy="e2e"
        )
        assert breaches == 2, f"{clock} breached {breaches} times, not once per ticket"
    assert value(samples, "escalations_sla_breaches_total", clock="next_reply") is None

    notices = "escalations_notices_total"
    assert value(samples, notices, channel="email", outcome="failed", **mine) == 1
    assert value(samples, notices, channel="email", outcome="sent", **mine) == 5
    activity = {"task_queue": queue, "activity_type": "send_notification", "channel": "email"}
    deliveries = "escalations_notification_deliveries_total"
    assert value(samples, deliveries, provider="sendgrid", **activity) == 5
    failures = value(
        samples,
        "escalations_notification_failures_total",
        error_type="SendGridRejected",
        permanent="true",
        **activity,
    )
    assert failures == 1

    lateness = "escalations_lateness_seconds"
    assert value(samples, f"{lateness}_count", policy="e2e", **mine) == 6
    buckets = {
        float(lbls["le"]): v
        for n, lbls, v in samples
        if n == f"{lateness}_bucket" and lbls.get("task_queue") == queue
    }
    assert sorted(buckets) == [*LATENESS_BUCKETS, math.inf], "our buckets, not the SDK's"
    assert buckets[math.inf] == 6
    assert list(buckets.values()) == sorted(buckets.values()), "cumulative buckets"

    # The SDK's own metrics share the endpoint.
    polls = value(
        samples,
        "temporal_activity_execution_latency_count",
        activity_type="send_notification",
        task_queue=queue,
    )
    assert polls is not None
    assert polls >= 6
    assert any(n.startswith("temporal_workflow_task_") for n, _, _ in samples)


@pytest.mark.parametrize("address", ["localhost:9464x", "9464", "example.com:9464", "[::1]"])
def test_a_bad_metrics_address_is_refused_naming_the_variable(address: str) -> None:
    with pytest.raises(ConfigError, match=r"^ESCALATIONS_METRICS_ADDRESS=.*: use <ip>:<port>"):
        load_settings({"ESCALATIONS_METRICS_ADDRESS": address})


def test_metrics_are_off_for_the_worker_and_on_for_dev_unless_said_otherwise() -> None:
    assert load_settings({}).metrics_address is None
    assert load_settings({}, default_metrics_address=DEV_METRICS_ADDRESS).metrics_address == (
        "127.0.0.1:9464"
    )
    off = {"ESCALATIONS_METRICS_ADDRESS": "off"}
    assert load_settings(off, default_metrics_address=DEV_METRICS_ADDRESS).metrics_address is None
    local = {"ESCALATIONS_METRICS_ADDRESS": "localhost:9100"}
    assert load_settings(local).metrics_address == "127.0.0.1:9100"


def test_a_metrics_address_in_use_is_refused_naming_the_variable() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ConfigError) as raised:
            build_runtime(Settings(metrics_address=address))
    assert str(raised.value).startswith(
        f"ESCALATIONS_METRICS_ADDRESS={address}: cannot serve metrics there (Address already in use"
    )
    assert "\n" not in str(raised.value)


def test_the_dev_banner_shows_where_metrics_are() -> None:
    server: Any = SimpleNamespace(
        address="127.0.0.1:7233", ui_url="http://127.0.0.1:8233", log_path=Path("x")
    )
    api = "http://127.0.0.1:8082"
    shown = banner(server, Settings(metrics_address="0.0.0.0:9464"), Path(".data"), True, api)
    assert "  Metrics:       http://127.0.0.1:9464/metrics (Prometheus;" in shown
    assert "Metrics:       off" in banner(server, Settings(), Path(".data"), True, api)
    assert "  HTTP API:      http://127.0.0.1:8082 " in shown
