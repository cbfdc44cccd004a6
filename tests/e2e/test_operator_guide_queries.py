"""The ready-made visibility queries of docs/operator-guide.md are valid on a real server.

Operators paste them into the Web UI as they stand; a typo or an attribute of the wrong type
would only show there, as an error. Each runs as a count on the dev server with every search
attribute registered, and the breach query finds a breached ticket and no other.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client

from tests.e2e.conftest import Workers
from tests.e2e.helpers import new_ticket, open_ticket, query_status, wait_until
from tests.e2e.processes import DevServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

GUIDE = Path(__file__).parents[2] / "docs" / "operator-guide.md"


def guide_queries() -> dict[str, str]:
    """The queries table: what -> query."""
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("## Finding tickets", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| ([^|`]+?) \| `([^`]+)` \|$", section, flags=re.MULTILINE)
    return {what: query for what, query in rows}


def test_the_guide_has_its_queries() -> None:
    queries = guide_queries()
    assert len(queries) >= 8
    assert all(query.startswith("WorkflowType = 'TicketEscalation'") for query in queries.values())


async def test_every_guide_query_runs_on_the_server(
    dev_server: DevServer, client: Client, workers: Workers
) -> None:
    await workers.start(dev_server.address)
    run = uuid.uuid4().hex[:8]
    # P1 breaches its 6 s first-response target during the test; P4 breaches nothing.
    breaching = new_ticket("P1", ticket_id=f"T-{run}-late", team=f"ops-{run}")
    calm = new_ticket("P4", ticket_id=f"T-{run}-calm", team=f"ops-{run}")
    handles = [await open_ticket(client, t, workers.task_queue) for t in (breaching, calm)]

    async def breached() -> bool | None:
        return True if (await query_status(handles[0])).clocks["first_response"].breached else None

    await wait_until(breached, within=30, what="the P1 ticket to breach")
    for what, query in guide_queries().items():
        # Raises with the server's message on a query it cannot parse.
        await client.count_workflows(query)
        print(f"ok: {what}")

    found = f"{guide_queries()['breaching now']} AND Team = 'ops-{run}'"

    async def only_the_breaching_one() -> list[str] | None:
        ids = [e.id async for e in client.list_workflows(found)]
        return ids if ids == [f"ticket-{breaching.ticket_id}"] else None

    await wait_until(only_the_breaching_one, within=30, what="the breach query to find it")
    for handle in handles:
        await handle.terminate("test finished")
