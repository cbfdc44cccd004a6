"""What an operator sees in the Temporal Web UI, in a real (headless) browser.

``escalations dev`` runs the dev server, its Web UI and our worker; four tickets of two teams
and two priorities open, two of them breach their first-response target and one is
acknowledged. Chromium then filters the workflow list by our search attributes (through the
``?query=`` URL parameter and typed into the raw query box) and opens one ticket's page, whose
summary and current details are the ones the workflow sets. Screenshots go to
``$E2E_SCREENSHOT_DIR`` (else the test's tmp_path); the assertions read the page's text.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import pytest
from playwright.async_api import Page, Response, expect
from temporalio.client import Client

from escalations.client.tickets import TicketClient
from policies.loader import parse_policy
from tests.e2e.browser import chromium_context, find_chromium, no_chromium_reason, screenshot_dir
from tests.e2e.conftest import LogBook
from tests.e2e.helpers import wait_until
from tests.e2e.processes import (
    READY_TIMEOUT,
    WORKER_READY_LINE,
    LoggedProcess,
    connect,
    free_port,
    tail,
)
from workflows.ticket_messages import (
    AcknowledgeRequest,
    TicketInput,
    TicketStatus,
    workflow_id_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

POLICY_NAME = "web-ui"
# P1 breaches its first response 3 s after opening and then stays still for an hour, so the
# page reads the same however long the browser takes; P3 fires nothing during the test.
POLICY_YAML = """\
name: web-ui
version: 1
description: Web UI test policy; P1 breaches its first response within seconds.

targets:
  P1: {first_response: 3s, resolution: 1h}
  P3: {first_response: 1h, resolution: 1d}

contacts:
  team_lead: [lead@example.com]
  manager: [manager@example.com]

levels:
  - name: response-at-risk
    when: {clock: first_response, at: 50%}
    notify: [assignee]
  - name: response-breached
    when: {clock: first_response, at: 100%}
    notify: [team_lead]
  - name: resolution-breached
    when: {clock: resolution, at: 100%}
    notify: [manager]
"""
UI_TIMEOUT_MS = 20_000
VISIBILITY_TIMEOUT = 30.0
_SERVICE_ENV_PREFIXES = ("TEMPORAL_", "ESCALATIONS_", "SENDGRID_")


class EmbeddedStack(LoggedProcess):
    """``escalations dev --in-memory`` on free ports: dev server, Web UI and worker in one."""

    def __init__(self, directory: Path, policy_dir: Path) -> None:
        self.port = free_port()
        self.ui_port = free_port()
        script = Path(sys.executable).with_name("escalations")
        command = str(script) if script.exists() else shutil.which("escalations") or "escalations"
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SERVICE_ENV_PREFIXES)}
        env.update(
            {
                "ESCALATIONS_POLICY_DIR": str(policy_dir),
                # No SENDGRID_API_KEY: notices are written to the outbox, as `make dev` does.
                "ESCALATIONS_OUTBOX": str(directory / "outbox"),
                "ESCALATIONS_DELIVERY_LEDGER": str(directory / "deliveries.sqlite3"),
                # The dev default is a fixed port, taken if another `escalations dev` runs.
                "ESCALATIONS_METRICS_ADDRESS": "off",
                "PYTHONUNBUFFERED": "1",
            }
        )
        args = [command, "dev", "--port", str(self.port), "--ui-port", str(self.ui_port)]
        args += ["--api-port", str(free_port())]
        args += ["--data-dir", str(directory / "data"), "--in-memory"]
        super().__init__(
            "escalations dev", args, directory / "escalations-dev.log", cwd=directory, env=env
        )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    async def wait_ready(self, within: float = READY_TIMEOUT) -> None:
        """Wait until the worker polls and the Web UI accepts connections."""

        async def polling() -> bool | None:
            if WORKER_READY_LINE not in tail(self.log_path, 200):
                return None
            _, writer = await asyncio.open_connection("127.0.0.1", self.ui_port)
            writer.close()
            await writer.wait_closed()
            return True

        await wait_until(
            polling, within=within, what="`escalations dev` to start", watch=self.assert_running
        )


@pytest.fixture
def chromium() -> str:
    """The system Chromium; the test skips (before starting anything) without one."""
    found = find_chromium()
    if found is None:
        pytest.skip(no_chromium_reason())
    return found


@pytest.fixture
async def stack(tmp_path: Path, logs: LogBook) -> AsyncIterator[EmbeddedStack]:
    policy_dir = tmp_path / "policies"
    policy_dir.mkdir()
    policy_path = policy_dir / f"{POLICY_NAME}.yaml"
    policy_path.write_text(POLICY_YAML, encoding="utf-8")
    parse_policy(POLICY_YAML, str(policy_path))
    process = EmbeddedStack(tmp_path, policy_dir)
    logs.add(process)
    process.start()
    try:
        await process.wait_ready()
        yield process
    finally:
        process.stop(timeout=20)


def _utc(moment: datetime | None) -> str:
    # How workflows/ticket_details.py writes a UTC time into the current details.
    assert moment is not None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


async def _wait_listed(
    client: Client, query: str, expected: list[str], watch: LoggedProcess
) -> None:
    """Wait until visibility answers ``query`` with exactly ``expected`` (it lags upserts)."""

    async def listed() -> list[str] | None:
        found = sorted([execution.id async for execution in client.list_workflows(query)])
        return found if found == sorted(expected) else None

    await wait_until(
        listed,
        within=VISIBILITY_TIMEOUT,
        what=f"visibility to list exactly {expected} for {query}",
        interval=0.3,
        watch=watch.assert_running,
    )


def _list_response_for(query: str) -> Callable[[Response], bool]:
    """Matches the Web UI's request for the list page of ``query``."""

    def matches(response: Response) -> bool:
        url = urlsplit(response.url)
        listing = url.path.endswith("/namespaces/default/workflows")
        return listing and parse_qs(url.query).get("query") == [query]

    return matches


async def _expect_listed(page: Page, shown: list[str], hidden: list[str]) -> None:
    """The list shows exactly the workflows ``shown`` (and so none of ``hidden``)."""
    rows = page.get_by_test_id("workflows-summary-configurable-table-row")
    ids = rows.get_by_role("link", name=re.compile(r"^ticket-"))
    await expect(page.get_by_test_id("workflow-count")).to_have_text(
        str(len(shown)), timeout=UI_TIMEOUT_MS
    )
    await expect(ids).to_have_count(len(shown), timeout=UI_TIMEOUT_MS)
    for workflow_id in shown:
        link = rows.get_by_role("link", name=workflow_id, exact=True)
        await expect(link, f"{workflow_id} is listed").to_be_visible()
    for workflow_id in hidden:
        link = rows.get_by_role("link", name=workflow_id, exact=True)
        await expect(link, f"{workflow_id} is not listed").to_have_count(0)


async def _search(page: Page, query: str) -> None:
    """Type ``query`` into the raw query box and run it; returns once the list is fetched."""
    box = page.get_by_test_id("workflow-manual-search-input")
    if not await box.is_visible():
        await page.get_by_test_id("toggle-manual-query").click()
    await box.fill(query)
    async with page.expect_response(_list_response_for(query), timeout=UI_TIMEOUT_MS):
        await page.get_by_test_id("workflow-manual-search-button").click()


TEAM = 'Team = "payments"'
BREACHED = 'Priority = "P1" AND ResponseBreached = true'
ACKNOWLEDGED = 'SlaState = "acknowledged"'


async def _check_lists(page: Page, ui_url: str, ids: list[str], shots: Path) -> None:
    """The workflow list, filtered by our search attributes, lists exactly the right tickets."""
    checkout, refund, invoices, pdf = ids
    # The filter as a link an operator would bookmark or paste: ?query=...
    await page.goto(f"{ui_url}/namespaces/default/workflows?query={quote(TEAM)}")
    await _expect_listed(page, [checkout, refund], [invoices, pdf])
    await page.screenshot(path=shots / "web-ui-list-team.png")

    # Typed into the raw query box.
    await _search(page, BREACHED)
    await expect(page).to_have_url(re.compile(re.escape(f"query={quote_plus(BREACHED)}")))
    await _expect_listed(page, [checkout, invoices], [refund, pdf])
    await page.screenshot(path=shots / "web-ui-ticket-list.png")
    await _search(page, ACKNOWLEDGED)
    await _expect_listed(page, [refund], [checkout, invoices, pdf])
    await _search(page, 'Team = "no-such-team"')
    await _expect_listed(page, [], ids)
    await expect(page.get_by_text("No Workflows Found")).to_be_visible()


async def _check_ticket_page(page: Page, status: TicketStatus, shots: Path) -> None:
    """A breached ticket's page shows the summary and current details the workflow set."""
    workflow_id = workflow_id_for(status.ticket_id)
    # Reached from the list, as an operator would.
    await _search(page, BREACHED)
    await page.get_by_role("link", name=workflow_id, exact=True).click()
    await expect(page.get_by_test_id("workflow-id-heading")).to_contain_text(workflow_id)
    await page.get_by_test_id("user-metadata-tab").click()

    # Both are markdown, rendered by the UI into iframes of their own.
    summary = page.frame_locator("#user-metadata-summary").locator("body")
    await expect(summary).to_contain_text(
        f"P1 · {status.ticket_id} · {status.title}", timeout=UI_TIMEOUT_MS
    )
    details = page.frame_locator("#user-metadata-current-details")
    paragraphs = details.locator("p")
    await expect(paragraphs.first).to_have_text(
        f"P1 · {status.ticket_id} — {status.title}", timeout=UI_TIMEOUT_MS
    )
    await expect(paragraphs.filter(has_text="State:")).to_have_text(
        "State: open · team payments · assignee agent@example.com · policy web-ui v1"
    )
    response, resolution = status.clocks["first_response"], status.clocks["resolution"]
    clocks = details.locator("li")
    await expect(clocks).to_have_count(2)
    await expect(clocks.nth(0)).to_have_text(
        re.compile(
            rf"^first_response · target 3s · elapsed \d\S* · due "
            rf"{re.escape(_utc(response.due_at))} · BREACHED$"
        )
    )
    await expect(clocks.nth(1)).to_have_text(
        re.compile(
            rf"^resolution · target 1h · elapsed \d\S* · due "
            rf"{re.escape(_utc(resolution.due_at))} · running$"
        )
    )
    escalations = paragraphs.filter(has_text="Next escalation:")
    await expect(escalations).to_contain_text(
        f"Next escalation: resolution-breached at {_utc(status.next_escalation_at)}"
    )
    await expect(escalations).to_contain_text(
        f"Last escalation: response-breached (repeat 0) at "
        f"{_utc(status.escalations[-1].fired_at)} to 1 recipient(s): written"
    )
    await page.screenshot(path=shots / "web-ui-ticket.png", full_page=True)


async def test_operator_filters_tickets_and_reads_one_in_the_web_ui(
    chromium: str, stack: EmbeddedStack, tmp_path: Path
) -> None:
    began = time.monotonic()
    shots = screenshot_dir(tmp_path / "screenshots")
    print(f"screenshots go to {shots}")
    tickets = TicketClient(await connect(stack.address), "escalations")
    run = uuid.uuid4().hex[:6]

    def ticket(key: str, team: str, priority: str, title: str) -> TicketInput:
        return TicketInput(
            ticket_id=f"T-{run}-{key}",
            title=title,
            priority=priority,
            team=team,
            customer="Acme",
            requester="buyer@acme.example",
            assignee="agent@example.com",
            policy=POLICY_NAME,
        )

    opened = [
        ticket("1", "payments", "P1", "Checkout returns 500 for every card payment"),
        ticket("2", "payments", "P3", "Refund stuck in pending"),
        ticket("3", "billing", "P1", "Invoices not generated for EU customers"),
        ticket("4", "billing", "P3", "Invoice PDF is blank"),
    ]
    for one in opened:
        await tickets.open(one)
    await tickets.acknowledge(opened[1].ticket_id, AcknowledgeRequest(by="agent@example.com"))
    ids = [workflow_id_for(t.ticket_id) for t in opened]
    checkout, refund, invoices, _ = ids
    # The UI reads visibility, which lags the workflows' upserts: wait until it has caught up.
    expected = {TEAM: [checkout, refund], BREACHED: [checkout, invoices], ACKNOWLEDGED: [refund]}
    for query, listed in expected.items():
        await _wait_listed(tickets.client, query, listed, stack)

    async def breach_notice_written() -> TicketStatus | None:
        status = await tickets.status(opened[0].ticket_id)
        last = status.escalations[-1] if status.escalations else None
        done = last and last.level == "response-breached" and last.delivery.status == "written"
        return status if done else None

    # The last update of the current details: after this the page reads the same for an hour.
    status = await wait_until(
        breach_notice_written, within=VISIBILITY_TIMEOUT, what="the breach notice written"
    )
    ready = time.monotonic()

    async with chromium_context(chromium, tmp_path / "chromium-profile", stack.ui_url) as browser:
        page = await browser.new_page()
        try:
            await _check_lists(page, stack.ui_url, ids, shots)
            await _check_ticket_page(page, status, shots)
        except Exception:
            await page.screenshot(path=shots / "failure.png", full_page=True)
            print(f"the page when the test failed ({page.url}): {shots / 'failure.png'}")
            raise

    print(
        f"screenshots: {', '.join(sorted(p.name for p in shots.glob('*.png')))}\n"
        f"tickets opened and published in {ready - began:.1f} s, browser checks "
        f"{time.monotonic() - ready:.1f} s"
    )
