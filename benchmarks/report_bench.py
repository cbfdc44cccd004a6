"""How long ``escalations report`` takes on many closed tickets.

Run from the repository root::

    python -m benchmarks.report_bench --tickets 100000 --data-dir /tmp/rb100k   # BENCHMARKS.md
    python -m benchmarks.report_bench --tickets 200 --json   # small; JSON on stdout

It starts a private dev server (every search attribute of ``ALL_KEYS`` registered; in memory, or
with ``--data-dir`` on a SQLite file that a later run reuses without seeding again),
seeds ``--tickets`` closed tickets with known outcomes, then times three reports of them end
to end, each phase separately (reading the outcomes, :func:`reports.figures.report_of_facts`, each
renderer):

- without the cache, everything from visibility (:func:`reports.visibility.read_outcomes`, as
  ``escalations report --no-cache``; left out with ``--no-live``);
- the first read with an empty cache file (:func:`reports.cached_read.read_facts_cached`),
  which lists every closed ticket and stores it;
- the same report repeated, which lists only running tickets and recent closes and reads the
  closed ones from the file.

The three reports must come out the same, or the run fails.

Seeding does not run the real ticket workflow, whose clocks, timers and notices would take many
hours for 100,000 tickets: a one-line workflow registered under the name ``TicketEscalation``
on a private task queue returns at once, and each ticket is started with the ``sla_outcome`` memo
and the search attributes the real workflow writes. Visibility then holds what it would hold
after 100,000 real tickets closed, which is all a report reads. Even so, seeding 100,000 closed
stand-ins took 65 minutes on the 2-core machine of BENCHMARKS.md (starts at about 110/s, the
closes behind them at about 40/s): hence ``--data-dir``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from escalations.bench.stack import free_port
from escalations.dev import start_dev_server
from escalations.runtime.data_converter import data_converter
from policies.loader import default_policy_dir, load_named_policy
from policies.model import ClockName, Policy
from reports.cached_read import CachedReadSummary, read_facts_cached
from reports.figures import Report, report_of_facts
from reports.gc_pause import paused_gc
from reports.outcome_cache import OutcomeCache
from reports.render_csv import render_csv
from reports.render_html import render_html
from reports.render_json import render_json
from reports.render_text import render_text
from reports.ticket_facts import TicketFacts
from reports.visibility import PAGE_SIZE, ReadSummary, TicketFilter, read_outcomes
from workflows import search_attributes as sa
from workflows.ticket_outcome import OUTCOME_MEMO, ClockOutcome, Pause, Span, TicketOutcome

_T = TypeVar("_T")

EPOCH = datetime(2025, 3, 3, tzinfo=UTC)
"""Tickets open over the 28 days from here (a fixed past, so runs compare)."""
SPREAD = timedelta(days=28)
TEAMS = ("payments", "identity", "billing", "platform", "mobile", "search")
CUSTOMERS = tuple(f"Customer {n:03d}" for n in range(120))
PRIORITY_WEIGHTS = {"P1": 5, "P2": 20, "P3": 45, "P4": 30}
RENDERERS: dict[str, Callable[[Any], str]] = {
    "text": render_text,
    "json": render_json,
    "csv": render_csv,
    "html": render_html,
}


@workflow.defn(name="TicketEscalation")
class SeededTicket:
    """Stands in for a ticket that has closed: its memo and search attributes are the data."""

    @workflow.run
    async def run(self) -> None:
        return None


def _clock(
    rng: random.Random, opened: datetime, target: float, calendar: str, stop: bool
) -> ClockOutcome:
    # Log-normal around 60% of the target: most tickets meet it, with a long tail that breaches.
    seconds = round(target * rng.lognormvariate(-0.5, 0.6))
    end = opened + timedelta(seconds=seconds)
    return ClockOutcome(
        target_seconds=target,
        business_seconds=seconds,
        stopped_at=end if stop else None,
        due_at=opened + timedelta(seconds=target) if seconds >= target else None,
        breached=seconds >= target,
        calendar=calendar,
        spans=[Span(start=opened, end=end if stop else None, calendar=calendar)],
    )


def make_outcome(index: int, rng: random.Random, policy: Policy) -> TicketOutcome:
    """One realistic closed ticket (random but reproducible from ``rng``)."""
    priority = rng.choices(list(PRIORITY_WEIGHTS), weights=list(PRIORITY_WEIGHTS.values()))[0]
    targets = policy.targets[priority]
    # The benchmark's policy counts plain durations: working-day and response-only targets
    # have no fixed length to draw business seconds from.
    first_target, resolution_target = targets.first_response, targets.resolution
    assert isinstance(first_target, timedelta)
    assert isinstance(resolution_target, timedelta)
    opened = EPOCH + timedelta(seconds=rng.randrange(int(SPREAD.total_seconds())))
    resolved = rng.random() < 0.95
    first_seconds = first_target.total_seconds()
    resolution_seconds = resolution_target.total_seconds()
    first = _clock(rng, opened, first_seconds, targets.calendar, stop=True)
    resolution = _clock(rng, opened, resolution_seconds, targets.calendar, stop=resolved)
    escalations: dict[str, int] = {}
    if first.business_seconds >= 0.75 * first_seconds:
        escalations["response-at-risk"] = 1
    if first.breached:
        escalations["response-breached"] = 1
    if resolution.business_seconds >= 0.8 * resolution_seconds:
        escalations["resolution-at-risk"] = 1
    if resolution.breached:
        escalations["resolution-breached"] = 1
    pauses = []
    if rng.random() < 0.15:
        start = opened + timedelta(minutes=rng.randrange(10, 600))
        length = timedelta(minutes=rng.choice((30, 120, 600, 2_000)))
        pauses.append(
            Pause(
                start=start,
                end=start + length,
                reason="waiting for logs",
                after_customer_reply=rng.random() < 0.3,
            )
        )
    as_of = opened + timedelta(days=9)
    return TicketOutcome(
        as_of=as_of,
        ticket_id=f"B-{index:07d}",
        priority=priority,
        team=rng.choice(TEAMS),
        customer=rng.choice(CUSTOMERS),
        policy=policy.name,
        policy_version=policy.version,
        state="resolved" if resolved else "acknowledged",
        opened_at=opened,
        first_response_at=first.stopped_at,
        resolved_at=resolution.stopped_at,
        clocks={ClockName.FIRST_RESPONSE: first, ClockName.RESOLUTION: resolution},
        next_reply_cycles=rng.randrange(3),
        next_reply_breaches=int(rng.random() < 0.05),
        pauses=pauses,
        paused_seconds=sum((p.end - p.start).total_seconds() for p in pauses if p.end),
        escalations=escalations,
        csat=rng.randint(1, 5) if resolved and rng.random() < 0.4 else None,
        feedback_at=as_of if resolved else None,
    )


def search_attributes(outcome: TicketOutcome) -> TypedSearchAttributes:
    """The attributes the ticket workflow publishes, as far as a report filters on them."""
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.TICKET_ID, outcome.ticket_id),
        SearchAttributePair(sa.PRIORITY, outcome.priority),
        SearchAttributePair(sa.TEAM, outcome.team),
        SearchAttributePair(sa.CUSTOMER, outcome.customer),
        SearchAttributePair(sa.POLICY, outcome.policy),
        SearchAttributePair(sa.SLA_STATE, outcome.state),
        SearchAttributePair(sa.OPENED_AT, outcome.opened_at),
    ]
    return TypedSearchAttributes(pairs)


async def _bounded(jobs: Sequence[Callable[[], Awaitable[_T]]], concurrency: int) -> list[_T]:
    # A fixed pool of runners, not one task per job: 100,000 pending start calls at once would
    # hold 100,000 coroutines and swamp the server's frontend.
    results: list[_T | None] = [None] * len(jobs)
    cursor = iter(range(len(jobs)))

    async def runner() -> None:
        for index in cursor:
            results[index] = await jobs[index]()

    await asyncio.gather(*(runner() for _ in range(concurrency)))
    return [r for r in results if r is not None]


async def seed_outcomes(
    client: Client, outcomes: Sequence[TicketOutcome], *, concurrency: int = 64, close: bool = True
) -> float:
    """Start one stand-in ticket per outcome; with ``close``, wait until all have closed.

    Without ``close`` no worker runs and the tickets stay open (Running) with their memo: a
    report reads them the same way, and seeding is about four times faster here (the worker's
    workflow tasks compete with the starts for the server's two cores).

    Returns:
        Seconds taken.
    """
    began = time.perf_counter()
    queue = f"report-seed-{uuid.uuid4()}"

    def start(outcome: TicketOutcome) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            # No wait for the result here: awaiting thousands of results at once exhausts
            # the namespace's pollers; closing is checked once for all, below.
            with contextlib.suppress(WorkflowAlreadyStartedError):
                await client.start_workflow(
                    "TicketEscalation",
                    id=f"ticket-{outcome.ticket_id}",
                    task_queue=queue,
                    memo={OUTCOME_MEMO: outcome},
                    search_attributes=search_attributes(outcome),
                    # A resumed seeding (``--data-dir``) must not start a second run of a
                    # ticket that an earlier, interrupted one already closed.
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                )

        return go

    if not close:
        await _bounded([start(o) for o in outcomes], concurrency)
        return time.perf_counter() - began
    async with Worker(
        client,
        task_queue=queue,
        workflows=[SeededTicket],
        # The stand-in has no logic to guard; the sandbox would re-import this module per run.
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_concurrent_workflow_tasks=concurrency,
    ):
        await _bounded([start(o) for o in outcomes], concurrency)
        running = f"TaskQueue = '{queue}' AND ExecutionStatus = 'Running'"
        while True:
            if not (await client.count_workflows(running)).count:
                break
            await asyncio.sleep(0.5)
    return time.perf_counter() - began


@dataclass
class ReportTimes:
    """One report end to end (seconds): reading the outcomes, the figures, every renderer."""

    read_seconds: float
    build_seconds: float
    render_seconds: dict[str, float]
    total_seconds: float
    tickets_per_second: float
    pages: int
    """Visibility pages listed."""
    from_cache: int = 0
    """Closed tickets read from the cache file instead."""
    closed_listed: int = 0
    """Closed tickets listed from visibility (and stored) by a cached read."""


@dataclass
class BenchResult:
    """The figures of one run: a report without the cache (``live``, as ``--no-cache``), the
    first with an empty cache (``cold``) and a repeated one (``warm``)."""

    tickets: int
    page_size: int
    seed_seconds: float
    reports: dict[str, ReportTimes]
    output_bytes: dict[str, int]
    cache_bytes: int
    peak_rss_mb: float
    groups: int
    machine: dict[str, Any] = field(default_factory=dict)


REPORTS = {
    "live": "no cache (--no-cache)",
    "cold": "first read (empty cache)",
    "warm": "repeated read (warm cache)",
}


def _label(name: str) -> str:
    # "warm 2", "warm 3": the repeated read again (--warm-reads).
    kind, _, count = name.partition(" ")
    return REPORTS[kind] + (f" #{count}" if count else "")


def _file_size(path: Path) -> int:
    return path.stat().st_size


def _peak_rss_mb() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(
    tickets: int,
    *,
    concurrency: int = 64,
    page_size: int = PAGE_SIZE,
    address: str | None = None,
    data_dir: Path | None = None,
    close: bool = True,
    live: bool = True,
    warm_reads: int = 1,
    log: Callable[[str], None] = lambda _: None,
) -> BenchResult:
    """Seed ``tickets`` tickets on a private dev server (or ``address``) and time reports.

    With ``data_dir`` the private server keeps its database there, and tickets that an earlier
    run already seeded into it are not seeded again: seeding 100,000 takes far longer than
    reading them, so a measurement can be repeated (or an interrupted seeding resumed).
    Without ``live`` the report without cache is not measured; the repeated read is measured
    ``warm_reads`` times.
    """
    policy = load_named_policy(default_policy_dir(), "default")
    with tempfile.TemporaryDirectory(prefix="report-bench-") as scratch:
        server = None
        if address is None:
            server = await start_dev_server(
                free_port(),
                free_port(),
                data_dir or Path(scratch),
                in_memory=data_dir is None,
            )
            address = server.address
        try:
            client = await Client.connect(address, data_converter=data_converter)
            seeded = await _settled_count(client, _selection(), at_least=0)
            seed = await _seed_rest(client, tickets, seeded, policy, concurrency, close, log)
            cache = Path(scratch) / "cache.sqlite3"
            return await _measure(
                client, tickets, seed, page_size, policy, cache, (live, warm_reads), log
            )
        finally:
            if server is not None:
                await server.stop()


async def _seed_rest(
    client: Client,
    tickets: int,
    seeded: int,
    policy: Policy,
    concurrency: int,
    close: bool,
    log: Callable[[str], None],
) -> float:
    """Seed what is not there yet; the seconds it took."""
    if seeded >= tickets:
        log(f"{seeded:,} tickets already there")
        return 0.0
    rng = random.Random(6)
    outcomes = [make_outcome(i, rng, policy) for i in range(tickets)]
    # Seeding runs through a shared cursor, so everything below ``seeded - concurrency``
    # started before any interruption; the rest is started again, duplicates refused.
    todo = outcomes[max(0, seeded - concurrency) :]
    log(f"{seeded:,} tickets already there; seeding {len(todo):,} ...")
    seconds = await seed_outcomes(client, todo, concurrency=concurrency, close=close)
    log(f"seeded in {seconds:.1f} s ({len(todo) / max(seconds, 1e-9):,.0f}/s)")
    return seconds


def _selection() -> TicketFilter:
    return TicketFilter(opened_from=EPOCH, opened_to=EPOCH + SPREAD)


async def _settled_count(client: Client, selection: TicketFilter, *, at_least: int) -> int:
    """The tickets visibility counts, once it counts ``at_least`` (or after 60 s)."""
    # Visibility is eventually consistent: the last starts show up a moment after they return.
    count = 0
    for _ in range(600):
        count = (await client.count_workflows(selection.query())).count
        if count >= at_least:
            break
        await asyncio.sleep(0.1)
    return count


async def _report(
    read: Callable[[], Awaitable[tuple[list[TicketFacts], ReadSummary]]],
    tickets: int,
    policy: Policy,
) -> tuple[Report, ReportTimes, dict[str, int]]:
    """One report end to end: ``read``, the figures, every renderer; timed."""
    selection = _selection()
    began = time.perf_counter()
    facts, summary = await read()
    read_seconds = time.perf_counter() - began
    if len(facts) != tickets:
        raise RuntimeError(f"read {len(facts)} outcomes of {tickets} seeded")
    began = time.perf_counter()
    report = report_of_facts(
        facts,
        group_by="team",
        policies={policy.name: policy},
        now=datetime.now(UTC),
        range=(selection.opened_from, selection.opened_to),
    )
    build_seconds = time.perf_counter() - began
    if report.total.opened != tickets:
        raise RuntimeError(f"the report counts {report.total.opened} tickets of {tickets}")
    render_seconds, sizes = {}, {}
    for name, render in RENDERERS.items():
        began = time.perf_counter()
        sizes[name] = len(render(report).encode())
        render_seconds[name] = time.perf_counter() - began
    total = read_seconds + build_seconds + sum(render_seconds.values())
    times = ReportTimes(
        read_seconds=read_seconds,
        build_seconds=build_seconds,
        render_seconds=render_seconds,
        total_seconds=total,
        tickets_per_second=tickets / total,
        pages=summary.pages,
        from_cache=summary.from_cache if isinstance(summary, CachedReadSummary) else 0,
        closed_listed=summary.closed_listed if isinstance(summary, CachedReadSummary) else 0,
    )
    return report, times, sizes


async def _measure(
    client: Client,
    tickets: int,
    seed: float,
    page_size: int,
    policy: Policy,
    cache_path: Path,
    plan: tuple[bool, int],
    log: Callable[[str], None],
) -> BenchResult:
    live, warm_reads = plan
    selection = _selection()
    # Measure a report of settled data, as a report of yesterday's tickets would read.
    await _settled_count(client, selection, at_least=tickets)

    async def read_live() -> tuple[list[TicketFacts], ReadSummary]:
        # As escalations report --no-cache: every outcome from visibility, then its facts.
        summary = ReadSummary()
        read = await read_outcomes(client, selection, summary=summary, page_size=page_size)
        with paused_gc():
            return [TicketFacts.of(outcome) for outcome in read], summary

    async def read_cached() -> tuple[list[TicketFacts], ReadSummary]:
        summary = CachedReadSummary()
        with OutcomeCache.open(cache_path) as cache:
            read = await read_facts_cached(
                client, selection, cache, summary=summary, page_size=page_size
            )
        return read, summary

    reports: dict[str, ReportTimes] = {}
    figures: dict[str, str] = {}
    sizes: dict[str, int] = {}
    reads = [("live", read_live)] if live else []
    reads += [("cold", read_cached), ("warm", read_cached)]
    reads += [(f"warm {n}", read_cached) for n in range(2, warm_reads + 1)]
    for name, read in reads:
        report, reports[name], sizes = await _report(read, tickets, policy)
        log(f"{_label(name)}: {reports[name].total_seconds:.2f} s end to end")
        figures[name] = report.model_dump_json(exclude={"generated_at"})
    if len(set(figures.values())) != 1:
        raise RuntimeError(f"the reports differ: {', '.join(figures)} are not all the same")
    return BenchResult(
        tickets=tickets,
        page_size=page_size,
        seed_seconds=seed,
        reports=reports,
        output_bytes=sizes,
        cache_bytes=_file_size(cache_path),
        peak_rss_mb=_peak_rss_mb(),
        groups=len(json.loads(figures["warm"])["groups"]),
        machine={
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
    )


def render(result: BenchResult) -> str:
    """The figures as a short text table."""
    lines = [
        f"Report benchmark: {result.tickets:,} tickets, pages of up to {result.page_size}, "
        f"python {result.machine['python']}, {result.machine['cpu_count']} CPUs",
        f"seed (not part of a report)      {result.seed_seconds:8.2f} s",
        f"{'':32} {'read':>8} {'build':>8} {'render':>8} {'end to end':>11} {'pages':>6} "
        f"{'closed listed':>13} {'from cache':>10}",
    ]
    for name, times in result.reports.items():
        lines.append(
            f"{_label(name):<32} {times.read_seconds:8.2f} "
            f"{times.build_seconds:8.2f} {sum(times.render_seconds.values()):8.3f} "
            f"{times.total_seconds:9.2f} s {times.pages:6} {times.closed_listed:13,} "
            f"{times.from_cache:10,}"
        )
    lines += [
        "output bytes                     "
        + ", ".join(f"{name} {size:,}" for name, size in result.output_bytes.items()),
        f"cache file                       {result.cache_bytes / 2**20:8.1f} MB",
        f"peak RSS                         {result.peak_rss_mb:8.0f} MB",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the table (and with ``--json`` the figures on stdout)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report_bench")
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets to seed (100000)")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent starts (64)")
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE, help="visibility page size")
    parser.add_argument("--address", help="a running Temporal server instead of a private one")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="keep the private server's database here and reuse the tickets already in it",
    )
    parser.add_argument(
        "--open-tickets",
        action="store_true",
        help="seed faster: leave the stand-in tickets open instead of closing them",
    )
    parser.add_argument(
        "--no-live",
        action="store_true",
        help="measure only the cached reports, not the one without cache",
    )
    parser.add_argument(
        "--warm-reads", type=int, default=1, help="times to measure the repeated read (1)"
    )
    parser.add_argument("--json", action="store_true", help="JSON on stdout, table on stderr")
    args = parser.parse_args(argv)
    if min(args.tickets, args.concurrency, args.page_size, args.warm_reads) < 1:
        parser.error("--tickets, --concurrency, --page-size and --warm-reads must be at least 1")
    table = sys.stderr if args.json else sys.stdout
    result = asyncio.run(
        run(
            args.tickets,
            concurrency=args.concurrency,
            page_size=args.page_size,
            address=args.address,
            data_dir=args.data_dir,
            close=not args.open_tickets,
            live=not args.no_live,
            warm_reads=args.warm_reads,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
    )
    print(render(result), file=table)
    if args.json:
        print(json.dumps(asdict(result), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
