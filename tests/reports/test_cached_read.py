"""A report read through the cache equals the same report read live, on a real dev server.

Stand-in tickets (workflow type ``TicketEscalation`` on a private task queue) carry the
``sla_outcome`` memo and search attributes a report reads. They can rewrite their outcome while
running, close, be deleted, and a ticket id can start a new run after its first one closed: the
ways visibility changes under a cache. After each change the test waits until visibility shows
it, then compares the cached read with a live one (``read_outcomes``), outcome for outcome and
figure for figure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio import workflow
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from benchmarks.report_bench import search_attributes
from escalations.dev import DevServer, start_dev_server
from escalations.runtime.data_converter import data_converter
from escalations.runtime.encryption import EncryptionCodec, generate_key
from reports.cached_read import CachedReadSummary, read_facts_cached
from reports.figures import build_report, report_of_facts
from reports.outcome_cache import OutcomeCache
from reports.ticket_facts import TicketFacts
from reports.visibility import TicketFilter, read_outcomes
from tests.e2e.processes import free_port
from tests.reports.outcomes import outcome, policy
from workflows import search_attributes as sa
from workflows.ticket_outcome import OUTCOME_MEMO, TicketOutcome

OTHER_NAMESPACE = "elsewhere"
TEAMS = ("payments", "identity")


@workflow.defn(name="TicketEscalation")
class StandIn:
    """A ticket whose outcome the test rewrites, and which closes when told to."""

    def __init__(self) -> None:
        self._closing = False

    @workflow.run
    async def run(self, close_at_once: bool) -> None:
        await workflow.wait_condition(lambda: close_at_once or self._closing)

    @workflow.signal
    def rewrite(self, changed: TicketOutcome, marker: str) -> None:
        workflow.upsert_memo({OUTCOME_MEMO: changed})
        # Written with the memo, so a test can wait until visibility shows the new outcome.
        workflow.upsert_search_attributes([sa.SLA_STATE.value_set(marker)])

    @workflow.signal
    def close(self) -> None:
        self._closing = True


@pytest.fixture(scope="module")
async def server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    started = await start_dev_server(
        free_port(),
        free_port(),
        tmp_path_factory.mktemp("dev-server"),
        in_memory=True,
        namespace=OTHER_NAMESPACE,
    )
    yield started
    await started.stop()


async def _client(server: DevServer, namespace: str = "default") -> Client:
    return await Client.connect(server.address, namespace=namespace, data_converter=data_converter)


@dataclass
class Helpdesk:
    """Stand-in tickets opened in a week of their own, and the changes a test makes to them."""

    client: Client
    queue: str
    start: datetime
    runs: dict[str, str] = field(default_factory=dict)
    """Workflow id to its latest run id."""
    closed: set[str] = field(default_factory=set)
    """Workflow ids whose latest run has closed."""
    count: int = 0

    def selection(self, teams: Sequence[str] = ()) -> TicketFilter:
        return TicketFilter(self.start, self.start + timedelta(days=7), teams=tuple(teams))

    def outcome(self, ticket: str, team: str, day: int, written: int = 0) -> TicketOutcome:
        made = outcome(ticket, team=team, first=600.0 * (day + 1), resolution=None)
        moved = self.start + timedelta(days=day, hours=1)
        return made.model_copy(
            update={"opened_at": moved, "as_of": moved + timedelta(hours=1 + written)}
        )

    async def settle(self, query: str, expected: int, within: float = 15) -> None:
        for _ in range(int(within / 0.05)):
            if (await self.client.count_workflows(query)).count == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"visibility never counted {expected} for {query}")

    async def open(self, ticket: str, team: str, day: int, *, closed: bool) -> str:
        """Open a ticket (a new run if the id was used before); its workflow id."""
        self.count += 1
        workflow_id = f"ticket-{ticket}"
        handle = await self.client.start_workflow(
            StandIn.run,
            closed,
            id=workflow_id,
            task_queue=self.queue,
            memo={OUTCOME_MEMO: self.outcome(ticket, team, day, written=self.count)},
            search_attributes=search_attributes(self.outcome(ticket, team, day)),
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        assert handle.result_run_id is not None
        self.runs[workflow_id] = handle.result_run_id
        status = "!= 'Running'" if closed else "= 'Running'"
        await self.settle(f"RunId = '{handle.result_run_id}' AND ExecutionStatus {status}", 1)
        (self.closed.add if closed else self.closed.discard)(workflow_id)
        return workflow_id

    async def rewrite(self, workflow_id: str, team: str, day: int) -> None:
        self.count += 1
        marker = f"v{self.count}"
        ticket = workflow_id.removeprefix("ticket-")
        changed = self.outcome(ticket, team, day, written=self.count)
        await self.client.get_workflow_handle(workflow_id).signal(
            StandIn.rewrite, args=[changed, marker]
        )
        await self.settle(f"RunId = '{self.runs[workflow_id]}' AND SlaState = '{marker}'", 1)

    async def close(self, workflow_id: str) -> None:
        await self.client.get_workflow_handle(workflow_id).signal(StandIn.close)
        await self.settle(f"RunId = '{self.runs[workflow_id]}' AND ExecutionStatus != 'Running'", 1)
        self.closed.add(workflow_id)

    async def delete(self, workflow_id: str) -> None:
        """Delete the closed run from the server, as retention does."""
        run_id = self.runs.pop(workflow_id)
        self.closed.discard(workflow_id)
        await self.client.workflow_service.delete_workflow_execution(
            DeleteWorkflowExecutionRequest(
                namespace=self.client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id),
            )
        )
        # The dev server deletes in the background: about 30 s here.
        await self.settle(f"RunId = '{run_id}'", 0, within=120)


@pytest.fixture
async def helpdesk(server: DevServer) -> AsyncIterator[Helpdesk]:
    client = await _client(server)
    queue = f"cached-read-{uuid.uuid4()}"
    # Each test's tickets open in a week no other test uses.
    start = datetime(2031, 1, 6, tzinfo=UTC) + timedelta(weeks=uuid.uuid4().int % 5000)
    async with Worker(
        client, task_queue=queue, workflows=[StandIn], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        yield Helpdesk(client, queue, start)


async def _same_as_live(
    desk: Helpdesk,
    cache: OutcomeCache,
    teams: Sequence[str] = (),
    margin: timedelta = timedelta(0),
) -> CachedReadSummary:
    """Assert a cached read of ``teams``' tickets equals a live one; the cached read's summary."""
    selection = desk.selection(teams)
    summary = CachedReadSummary()
    cached = await read_facts_cached(desk.client, selection, cache, summary=summary, margin=margin)
    live = await read_outcomes(desk.client, selection)
    by_id = sorted(cached, key=lambda f: f.ticket_id)
    assert by_id == sorted((TicketFacts.of(o) for o in live), key=lambda f: f.ticket_id)
    policies, now = {"standard": policy()}, datetime(2040, 1, 1, tzinfo=UTC)
    span = (selection.opened_from, selection.opened_to)
    assert report_of_facts(
        cached, group_by="team", policies=policies, now=now, range=span
    ) == build_report(live, group_by="team", policies=policies, now=now, range=span)
    return summary


async def test_a_tickets_whole_life_reads_the_same_through_the_cache(
    helpdesk: Helpdesk, tmp_path: Path
) -> None:
    desk = helpdesk
    with OutcomeCache.open(tmp_path / "cache.sqlite3") as cache:
        closed = [
            await desk.open(f"C{i}-{uuid.uuid4()}", TEAMS[i % 2], i, closed=True) for i in range(3)
        ]
        running = [
            await desk.open(f"R{i}-{uuid.uuid4()}", "payments", i, closed=False) for i in range(2)
        ]
        first = await _same_as_live(desk, cache)
        assert (first.from_cache, first.running, first.closed_listed) == (3, 2, 3)

        # Nothing changed: no closed ticket is listed again (with no margin, the listing starts
        # when the last read began).
        again = await _same_as_live(desk, cache)
        assert (again.from_cache, again.closed_listed, again.relisted) == (3, 0, False)

        # A running ticket's outcome changes: read live, so the new one shows.
        await desk.rewrite(running[0], "identity", 4)
        await _same_as_live(desk, cache)
        await _same_as_live(desk, cache, teams=["identity"])

        # It closes between two reports: listed as the one new close, then read from the file.
        await desk.close(running[0])
        closing = await _same_as_live(desk, cache)
        assert (closing.closed_listed, closing.from_cache, closing.running) == (1, 4, 1)

        # A closed ticket id gets a new run (the ticket opened again): the newer outcome counts.
        await desk.open(closed[0].removeprefix("ticket-"), "identity", 5, closed=False)
        reopened = await _same_as_live(desk, cache)
        assert reopened.running == 2
        await desk.close(closed[0])
        await _same_as_live(desk, cache)
        await _same_as_live(desk, cache, teams=["payments"])


async def test_a_run_deleted_from_visibility_leaves_the_cached_report(
    helpdesk: Helpdesk, tmp_path: Path
) -> None:
    desk = helpdesk
    with OutcomeCache.open(tmp_path / "cache.sqlite3") as cache:
        closed = [
            await desk.open(f"D{i}-{uuid.uuid4()}", "payments", i, closed=True) for i in range(3)
        ]
        await _same_as_live(desk, cache)
        # Nothing runs and nothing closed since: one count says so, and nothing is listed.
        quiet = await _same_as_live(desk, cache)
        assert (quiet.pages, quiet.closed_listed, quiet.from_cache) == (0, 0, 3)
        # As retention does, long after the cache stored it: the count tells, the range is listed
        # again, and the file matches visibility once more.
        await desk.delete(closed[1])
        deleted = await _same_as_live(desk, cache)
        assert (deleted.relisted, deleted.from_cache) == (True, 2)
        assert (await _same_as_live(desk, cache)).relisted is False


async def test_with_the_default_margin_recent_closes_are_listed_again_and_counted_once(
    helpdesk: Helpdesk, tmp_path: Path
) -> None:
    desk = helpdesk
    with OutcomeCache.open(tmp_path / "cache.sqlite3") as cache:
        for i in range(3):
            await desk.open(f"M{i}-{uuid.uuid4()}", "payments", i, closed=True)
        await _same_as_live(desk, cache, margin=timedelta(minutes=15))
        # Every close is within the margin: listed again, stored once.
        repeat = await _same_as_live(desk, cache, margin=timedelta(minutes=15))
        assert (repeat.closed_listed, repeat.from_cache) == (3, 3)


async def test_a_close_the_cache_missed_is_found_by_the_count(
    helpdesk: Helpdesk, tmp_path: Path
) -> None:
    desk = helpdesk
    path = tmp_path / "cache.sqlite3"
    with OutcomeCache.open(path) as cache:
        for i in range(3):
            await desk.open(f"K{i}-{uuid.uuid4()}", "payments", i, closed=True)
        await _same_as_live(desk, cache)
    # As if visibility had shown a close later than the margin allows: the file lacks a run
    # that closed before the last read began, so a listing of recent closes misses it.
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM runs WHERE closed = (SELECT min(closed) FROM runs)")
    db.close()
    with OutcomeCache.open(path) as cache:
        repaired = await _same_as_live(desk, cache)
        assert repaired.relisted


async def test_two_namespaces_share_a_file_without_mixing(
    server: DevServer, helpdesk: Helpdesk, tmp_path: Path
) -> None:
    other_client = await _client(server, OTHER_NAMESPACE)
    queue = f"cached-read-{uuid.uuid4()}"
    elsewhere = Helpdesk(other_client, queue, helpdesk.start)
    async with Worker(
        other_client,
        task_queue=queue,
        workflows=[StandIn],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        with OutcomeCache.open(tmp_path / "cache.sqlite3") as cache:
            await helpdesk.open(f"N-{uuid.uuid4()}", "payments", 1, closed=True)
            for i in range(2):
                await elsewhere.open(f"O{i}-{uuid.uuid4()}", "payments", 1, closed=True)
            here = await _same_as_live(helpdesk, cache)
            there = await _same_as_live(elsewhere, cache)
            assert (here.from_cache, there.from_cache) == (1, 2)


@dataclass
class _Step:
    kind: str
    team: int
    day: int
    pick: int


steps = st.lists(
    st.builds(
        _Step,
        # No deletion: the dev server takes about 30 s for one (it has its own test above).
        st.sampled_from(["open closed", "open running", "rewrite", "close", "reopen"]),
        st.integers(0, 1),
        st.integers(0, 6),
        st.integers(0, 10**6),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps, st.sampled_from([(), ("payments",), ("identity", "payments")]))
async def test_any_history_of_changes_reads_the_same_through_the_cache(
    server: DevServer, tmp_path: Path, history: list[_Step], teams: tuple[str, ...]
) -> None:
    client = await _client(server)
    queue = f"cached-read-{uuid.uuid4()}"
    start = datetime(2031, 1, 6, tzinfo=UTC) + timedelta(weeks=5000 + uuid.uuid4().int % 5000)
    desk = Helpdesk(client, queue, start)
    async with Worker(
        client, task_queue=queue, workflows=[StandIn], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        with OutcomeCache.open(tmp_path / f"{uuid.uuid4()}.sqlite3") as cache:
            for step in history:
                team = TEAMS[step.team]
                running = sorted(set(desk.runs) - desk.closed)
                closed = sorted(desk.closed)
                if step.kind.startswith("open"):
                    await desk.open(
                        f"P-{uuid.uuid4()}", team, step.day, closed=step.kind == "open closed"
                    )
                elif step.kind == "rewrite" and running:
                    await desk.rewrite(running[step.pick % len(running)], team, step.day)
                elif step.kind == "close" and running:
                    await desk.close(running[step.pick % len(running)])
                elif step.kind == "reopen" and closed:
                    ticket = closed[step.pick % len(closed)].removeprefix("ticket-")
                    await desk.open(ticket, team, step.day, closed=False)
                await _same_as_live(desk, cache, teams)


async def test_an_encrypted_memo_is_refused_only_by_the_reports_that_need_it(
    server: DevServer, helpdesk: Helpdesk, tmp_path: Path
) -> None:
    desk = helpdesk
    codec = EncryptionCodec([generate_key()])
    sealed = Client(
        desk.client.service_client,
        namespace=desk.client.namespace,
        data_converter=dataclasses.replace(desk.client.data_converter, payload_codec=codec),
    )
    await desk.open(f"E-{uuid.uuid4()}", "payments", 1, closed=True)
    keyed = Helpdesk(sealed, f"sealed-{uuid.uuid4()}", desk.start)
    async with Worker(
        sealed,
        task_queue=keyed.queue,
        workflows=[StandIn],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        await keyed.open(f"S-{uuid.uuid4()}", "identity", 2, closed=True)
    with OutcomeCache.open(tmp_path / "cache.sqlite3") as cache:
        # Without keys: a report of the other team reads, from the cache as live.
        other = await _same_as_live(desk, cache, teams=["payments"])
        assert other.from_cache == 1
        # One that includes the sealed ticket is refused as the live read refuses it.
        with pytest.raises(KeyError, match="unknown payload encoding") as live:
            await read_outcomes(desk.client, desk.selection())
        with pytest.raises(KeyError, match="unknown payload encoding") as cached:
            await read_facts_cached(desk.client, desk.selection(), cache)
        assert str(cached.value) == str(live.value)
        # With the keys, the memo kept as listed is read from the file.
        summary = await _same_as_live(keyed, cache)
        assert (summary.from_cache, summary.closed_listed) == (2, 0)
