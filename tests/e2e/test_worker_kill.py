"""A worker SIGKILLed in the middle of a ticket's ladder: a new worker fires every level."""

from __future__ import annotations

import asyncio
import time
from functools import partial

import pytest
from temporalio.client import Client

from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.e2e.conftest import Workers
from tests.e2e.helpers import (
    LEVELS,
    accepted_for,
    accepted_levels,
    all_levels_sent,
    describe_lateness,
    new_ticket,
    open_ticket,
    recovery_events,
    wait_for_notices,
    wait_until,
)
from tests.e2e.processes import DevServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

# A notice whose worker died mid-send is retried only when its attempt times out
# (NOTIFY_ATTEMPT_TIMEOUT, 30 s), so its delivery may need that long to show "sent".
ALL_SENT_TIMEOUT = 90


async def test_worker_killed_mid_ladder_still_fires_every_level(
    client: Client, dev_server: DevServer, workers: Workers, sendgrid: FakeSendGrid
) -> None:
    first = await workers.start(dev_server.address)
    ticket = new_ticket("P1")  # levels at 3 s, 6 s and 12 s
    handle = await open_ticket(client, ticket, workers.task_queue)
    tid = ticket.ticket_id

    await wait_for_notices(sendgrid, tid, LEVELS[:1], within=30, watch=first.assert_running)
    pid = first.pid
    killed_at = time.monotonic()
    first.kill()
    print(f"SIGKILLed worker #1 (pid {pid}) right after the first notice was accepted")

    await asyncio.sleep(2)
    second = await workers.start(dev_server.address)
    print(f"worker #2 polling {time.monotonic() - killed_at:.1f}s after the kill")

    await wait_for_notices(sendgrid, tid, within=60, watch=second.assert_running)
    print(f"every level accepted {time.monotonic() - killed_at:.1f}s after the kill")

    status = await wait_until(
        partial(all_levels_sent, handle),
        within=ALL_SENT_TIMEOUT,
        what="every escalation's delivery to be 'sent' in the status query",
        interval=0.5,
        watch=second.assert_running,
    )
    bodies = accepted_for(sendgrid, tid)
    counts = accepted_levels(sendgrid, tid)
    duplicates = {level: n - 1 for level, n in counts.items() if n > 1}
    print(f"accepted notices per level: {dict(counts)}; duplicates: {duplicates or 'none'}")
    print(f"escalations (status query):\n{describe_lateness(status)}")
    recovery = await recovery_events(handle)
    print("recovery in history:", *(recovery or ["nothing timed out"]), sep="\n  ")

    assert set(counts) == set(LEVELS)
    assert [e.level for e in status.escalations] == list(LEVELS)
    assert all(e.repeat == 0 for e in status.escalations)
    assert [e.delivery.status for e in status.escalations] == ["sent"] * len(LEVELS)
    assert status.current_level == LEVELS[-1]
    # A duplicate is a retry of the same notice: it carries the same idempotency key, so a
    # receiver can drop it; distinct notices never share one.
    keys_by_level: dict[str, set[str]] = {}
    for body in bodies:
        args = body["custom_args"]
        keys_by_level.setdefault(args["level"], set()).add(args["idempotency_key"])
    assert {level: len(keys) for level, keys in keys_by_level.items()} == dict.fromkeys(LEVELS, 1)
    assert len(set().union(*keys_by_level.values())) == len(LEVELS)
