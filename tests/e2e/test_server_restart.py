"""The dev server stops and comes back on the same database: pending timers still fire."""

from __future__ import annotations

import asyncio
import time
from functools import partial

import pytest

from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.e2e.conftest import PrivateServers, Workers
from tests.e2e.helpers import (
    LEVELS,
    accepted_levels,
    all_levels_sent,
    describe_lateness,
    new_ticket,
    open_ticket,
    query_status,
    wait_for_notices,
    wait_until,
)
from tests.e2e.processes import connect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


async def test_dev_server_restart_on_same_database_still_fires_timers(
    private_servers: PrivateServers, workers: Workers, sendgrid: FakeSendGrid
) -> None:
    server = await private_servers.start()
    worker = await workers.start(server.address)
    client = await connect(server.address)
    ticket = new_ticket("P2")  # levels at 8 s, 16 s and 20 s
    handle = await open_ticket(client, ticket, workers.task_queue)
    tid = ticket.ticket_id

    opened = await wait_until(
        partial(query_status, handle),
        within=30,
        what="the ticket to open",
        watch=worker.assert_running,
    )
    assert opened.state == "open"
    assert opened.escalations == []
    assert opened.next_escalation_level == LEVELS[0]

    stopped_at = time.monotonic()
    code = server.stop(timeout=15)
    print(f"dev server stopped (SIGTERM, exit code {code}) in {time.monotonic() - stopped_at:.1f}s")
    assert not accepted_levels(sendgrid, tid), "a level fired before the restart: make it later"
    await asyncio.sleep(1)
    server.start()
    client = await server.wait_ready()
    print(f"dev server back on {server.address} {time.monotonic() - stopped_at:.1f}s after stop")
    worker.assert_running()

    # The worker is the same process throughout: it must reconnect by itself.
    counts = await wait_for_notices(sendgrid, tid, within=60, watch=worker.assert_running)
    handle = client.get_workflow_handle(handle.id)
    status = await wait_until(
        partial(all_levels_sent, handle),
        within=30,
        what="every escalation's delivery to be 'sent' in the status query",
        watch=worker.assert_running,
    )
    print(f"accepted notices per level: {dict(counts)}")
    print(f"escalations (status query):\n{describe_lateness(status)}")

    assert set(counts) == set(LEVELS)
    assert [e.level for e in status.escalations] == list(LEVELS)
    assert [e.delivery.status for e in status.escalations] == ["sent"] * len(LEVELS)
    assert status.opened_at == opened.opened_at
    assert status.current_level == LEVELS[-1]
