"""Reading outcomes with a local cache of closed tickets: a repeated report lists only what is new.

:func:`read_facts_cached` returns the facts (:class:`~reports.ticket_facts.TicketFacts`) of
what :func:`reports.visibility.read_outcomes` returns for the same selection, and reads from
visibility only:

1. every **running** ticket the selection matches, always: its outcome still changes (when one
   count shows that no ticket in the range runs or closed since the last read, there is
   nothing to list, and neither this listing nor the one in 3 is made);
2. for the parts of the range the cache has never held, every closed ticket opened there
   (whatever the filters, so any later report of that range is served from the file);
3. for the parts it holds, the tickets that closed since the last read of them began, minus
   :data:`VISIBILITY_MARGIN`: visibility is eventually consistent, and a ticket that closed
   just before the last read may have appeared only after it. (The start is this machine's
   clock, or the newest close time the server reported if that is later.)
4. one count of the closed tickets in the range that closed before that margin, compared with
   the file's. They differ only if runs were deleted from visibility (past the namespace's
   retention, or by hand) or appeared later than the margin allows; then the whole range is
   listed again and the file made to match it.

Closed runs are stored by run id (a ticket id may get a new run later; the closed one never
changes). A ticket that closes between two reports is running in the first and in the close
listing of the second. The running ones are listed first, so a ticket closing during a report
is in one of the two listings (in both, the closed run wins). The cached runs are filtered as
visibility filters them, on the search attributes it returned; their facts were made from the
memo, decoded as a live read decodes it, by the same :meth:`TicketFacts.of` a live report
uses. A memo that could not be decoded when listed is kept encoded and decoded when a report
needs it, so it is refused exactly when a live read would refuse it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.common.v1 import Payload
from temporalio.api.namespace.v1 import NamespaceInfo
from temporalio.api.workflow.v1 import WorkflowExecutionInfo
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.converter import PayloadCodec

from reports.gc_pause import paused_gc
from reports.outcome_cache import (
    ClosedRun,
    Listing,
    OutcomeCache,
    Piece,
    Source,
    micros,
    moment,
)
from reports.ticket_facts import TicketFacts
from reports.visibility import (
    PAGE_SIZE,
    SLICES,
    SLICES_AT_ONCE,
    Progress,
    ReadSummary,
    TicketFilter,
    decode_outcomes,
    in_slices,
    keep_latest,
    list_pages,
    rfc3339,
)
from workflows import search_attributes as sa
from workflows.ticket_outcome import OUTCOME_MEMO

VISIBILITY_MARGIN = timedelta(minutes=15)
"""How late a close may show in visibility and still be picked up: each read lists again the
tickets that closed within this much before the previous read began. It also absorbs this
machine's clock being behind or ahead of the server's. Elasticsearch visibility
shows a close within seconds; the margin is wide so that a slow one does not matter."""
RUNNING = "ExecutionStatus = 'Running'"
CLOSED = "ExecutionStatus != 'Running'"
"""With :meth:`TicketFilter.query`'s own ``ExecutionStatus != 'ContinuedAsNew'``: completed,
failed, terminated, cancelled or timed out, the final run of a ticket."""


@dataclass
class CachedReadSummary(ReadSummary):
    """A :class:`ReadSummary` (``pages`` counts visibility pages) and where outcomes came from."""

    from_cache: int = 0
    """Closed runs the selection matched that were read from the file."""
    closed_listed: int = 0
    """Closed runs listed from visibility in this read (and stored)."""
    running: int = 0
    """Running tickets listed (never stored)."""
    relisted: bool = False
    """Whether the count check failed and the whole range was listed again."""


async def source_of(client: Client) -> Source:
    """The address, namespace and namespace id ``client`` reads from."""
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace), retry=True
    )
    info: NamespaceInfo = described.namespace_info
    return Source(client.service_client.config.target_host, client.namespace, info.id)


def _keyword(fields: Any, key: SearchAttributeKey[Any]) -> str | None:
    payload = fields.get(key.name)
    value = None if payload is None else json.loads(payload.data)
    return value if isinstance(value, str) else None


async def _decoded(codec: PayloadCodec | None, memos: list[Payload]) -> list[TicketFacts | None]:
    """The facts of each memo; None for one this process cannot decode (no keys, wrong keys or
    not an outcome), which a report decodes again, and refuses as a live read would, only if it
    needs that ticket."""
    try:
        outcomes = await decode_outcomes(codec, memos)
        with paused_gc():
            return [TicketFacts.of(outcome) for outcome in outcomes]
    except Exception:
        # Which one failed is found below, memo by memo.
        found: list[TicketFacts | None] = []
        for memo in memos:
            try:
                found.append(TicketFacts.of((await decode_outcomes(codec, [memo]))[0]))
            except Exception:
                # Kept encoded: the report that needs this ticket says why it cannot read it.
                found.append(None)
        return found


async def closed_runs(
    codec: PayloadCodec | None, executions: Sequence[WorkflowExecutionInfo]
) -> list[ClosedRun]:
    """What the cache keeps of each listed closed run."""
    memos = [e.memo.fields[OUTCOME_MEMO] for e in executions if OUTCOME_MEMO in e.memo.fields]
    facts = iter(await _decoded(codec, memos))
    runs = []
    with paused_gc():
        for execution in executions:
            fields = execution.search_attributes.indexed_fields
            opened_at = _keyword(fields, sa.OPENED_AT)  # a Datetime attribute is an ISO string
            memo = execution.memo.fields.get(OUTCOME_MEMO)
            fact = None if memo is None else next(facts)
            runs.append(
                ClosedRun(
                    workflow_id=execution.execution.workflow_id,
                    run_id=execution.execution.run_id,
                    # Visibility compares times to the microsecond: truncating keeps each
                    # comparison.
                    closed=execution.close_time.seconds * 1_000_000
                    + execution.close_time.nanos // 1000,
                    opened=None if opened_at is None else micros(datetime.fromisoformat(opened_at)),
                    priority=_keyword(fields, sa.PRIORITY),
                    team=_keyword(fields, sa.TEAM),
                    customer=_keyword(fields, sa.CUSTOMER),
                    policy=_keyword(fields, sa.POLICY),
                    facts=fact,
                    undecoded=memo.SerializeToString()
                    if memo is not None and fact is None
                    else None,
                )
            )
    return runs


def _span(opened_from: int, opened_to: int) -> TicketFilter:
    return TicketFilter(opened_from=moment(opened_from), opened_to=moment(opened_to))


class _Reader:
    """The visibility listings of one cached read, and what they saw."""

    def __init__(
        self,
        client: Client,
        progress: Progress | None,
        page_size: int,
        at_once: int,
        seen: CachedReadSummary,
    ) -> None:
        self.client, self.progress = client, progress
        self.page_size, self.at_once = page_size, at_once
        self.seen = seen
        self.listed = 0

    def _page(self, listed: int) -> None:
        self.seen.pages += 1
        self.listed += listed
        if self.progress is not None:
            self.progress(self.listed, None)

    async def running(self, selection: TicketFilter, slices: int) -> dict[str, Payload | None]:
        """Run id to outcome memo (None: none yet) of every running ticket ``selection`` has."""
        found: dict[str, Payload | None] = {}
        # Few tickets run at a time (they close after their feedback window): fewer spans.

        async def read(part: TicketFilter) -> None:
            async for page in list_pages(
                self.client, f"{part.query()} AND {RUNNING}", self.page_size
            ):
                for e in page.executions:
                    found[e.execution.run_id] = e.memo.fields.get(OUTCOME_MEMO)
                self._page(len(page.executions))

        await in_slices(selection, read, slices=slices, at_once=self.at_once)
        self.seen.running = len(found)
        return found

    async def closed(
        self, opened_from: int, opened_to: int, since: int | None, slices: int
    ) -> Listing:
        """Every closed run opened in the span that closed at or after ``since``."""
        runs: list[ClosedRun] = []
        codec = self.client.data_converter.payload_codec
        close = "" if since is None else f" AND CloseTime >= '{rfc3339(moment(since))}'"

        async def read(part: TicketFilter) -> None:
            async for page in list_pages(
                self.client, f"{part.query()} AND {CLOSED}{close}", self.page_size
            ):
                runs.extend(await closed_runs(codec, page.executions))
                self._page(len(page.executions))

        await in_slices(_span(opened_from, opened_to), read, slices=slices, at_once=self.at_once)
        self.seen.closed_listed += len(runs)
        return Listing(opened_from, opened_to, since, runs)

    async def quiet(self, start: int, end: int, pieces: list[Piece], step: int) -> bool:
        """Whether the cache holds all of ``[start, end)`` and visibility has no ticket opened
        there that runs or closed since the oldest of its watermarks: one count, where the
        listings would be eight requests (all of them empty)."""
        if not all(piece.covered and piece.watermark is not None for piece in pieces):
            return False
        since = min(piece.watermark for piece in pieces if piece.watermark is not None) - step
        changed = f"{RUNNING} OR CloseTime >= '{rfc3339(moment(since))}'"
        query = f"{_span(start, end).query()} AND ({changed})"
        return (await self.client.count_workflows(query)).count == 0

    async def server_count(self, opened_from: int, opened_to: int, before: int | None) -> int:
        """Closed runs visibility holds of the span that closed before ``before``."""
        close = "" if before is None else f" AND CloseTime < '{rfc3339(moment(before))}'"
        query = f"{_span(opened_from, opened_to).query()} AND {CLOSED}{close}"
        return (await self.client.count_workflows(query)).count


def _watermark(began: int, current: int | None, listings: list[Listing]) -> int:
    """When this read's listings began, or the newest close the server reported if later
    (this machine's clock behind the server's): every earlier close they saw, less the margin."""
    closes = [r.closed for listing in listings for r in listing.runs]
    return max([began, *closes, *([] if current is None else [current])])


def _nothing_since(piece: Piece, step: int) -> Listing:
    assert piece.watermark is not None
    return Listing(piece.opened_from, piece.opened_to, piece.watermark - step, [])


async def _list(
    reader: _Reader, selection: TicketFilter, pieces: list[Piece], step: int, slices: int
) -> tuple[dict[str, Payload | None], list[Listing]]:
    """The running tickets ``selection`` matches, then each piece's closed runs to list."""
    start, end = pieces[0].opened_from, pieces[-1].opened_to
    # Running first: a ticket that closes after this is in the close listings below.
    running = await reader.running(selection, reader.at_once)
    listings = []
    for piece in pieces:
        if piece.covered and piece.watermark is not None:
            # Usually few tickets closed since (a quarter hour of closes, by the margin): a few
            # spans, listed at once. After a mass close they are many, and a wide query's pages
            # cost the server more the more it matches (see reports.visibility.SLICES).
            since: int | None = piece.watermark - step
            share = reader.at_once
        else:
            since = None
            share = max(1, round(slices * (piece.opened_to - piece.opened_from) / (end - start)))
        listings.append(await reader.closed(piece.opened_from, piece.opened_to, since, share))
    return running, listings


async def read_facts_cached(
    client: Client,
    selection: TicketFilter,
    cache: OutcomeCache,
    *,
    progress: Progress | None = None,
    summary: CachedReadSummary | None = None,
    page_size: int = PAGE_SIZE,
    slices: int = SLICES,
    at_once: int = SLICES_AT_ONCE,
    margin: timedelta = VISIBILITY_MARGIN,
) -> list[TicketFacts]:
    """The facts of the tickets ``selection`` matches, one per ticket: of the outcomes
    :func:`reports.visibility.read_outcomes` returns, closed ones from ``cache`` when it holds
    them, after bringing it up to date. :func:`reports.figures.report_of_facts` reports them.

    Raises:
        KeyError: a memo of a matching ticket is in an encoding this process cannot read.
        reports.outcome_cache.CacheError: the cache file is damaged.

    Args:
        progress: Called as pages arrive with (tickets listed from visibility so far, None).
        summary: Filled with what was listed and what came from the cache.
        slices: ``OpenedAt`` spans a listing of the whole range is cut into (a part of the
            range gets its share), listed ``at_once`` at a time.
        margin: See :data:`VISIBILITY_MARGIN`.
    """
    seen = CachedReadSummary() if summary is None else summary
    reader = _Reader(client, progress, page_size, at_once, seen)
    source = cache.source_id(await source_of(client))
    start, end = micros(selection.opened_from), micros(selection.opened_to)
    step = margin // timedelta(microseconds=1)
    began = micros(datetime.now(UTC))
    pieces = cache.pieces(source, start, end)
    if await reader.quiet(start, end, pieces, step):
        # Nothing runs and nothing closed since the last read: the listings would all be empty.
        running: dict[str, Payload | None] = {}
        listings = [_nothing_since(piece, step) for piece in pieces]
    else:
        running, listings = await _list(reader, selection, pieces, step, slices)
    watermark = _watermark(began, cache.watermark(source), listings)
    cache.store(source, listings, covered=(start, end), watermark=watermark)
    before = watermark - step
    held = cache.count_closed(source, start, end, before)
    if await reader.server_count(start, end, before) != held:
        listing = await reader.closed(start, end, None, slices)
        watermark = _watermark(began, watermark, [listing])
        cache.store(source, [listing], covered=(start, end), watermark=watermark)
        seen.relisted = True
    codec = client.data_converter.payload_codec
    rows = cache.matching(source, selection)
    closed = {row.run_id for row in rows}
    # Decoded now, as a live read decodes them: refused the same way if still unreadable.
    undecoded = [Payload.FromString(row.undecoded) for row in rows if row.undecoded is not None]
    late = iter(await decode_outcomes(codec, undecoded))
    live = [memo for run, memo in running.items() if run not in closed]
    facts = [row.facts for row in rows if row.facts is not None]
    with paused_gc():
        facts += [TicketFacts.of(outcome) for outcome in late]
        facts += [
            TicketFacts.of(o)
            for o in await decode_outcomes(codec, [memo for memo in live if memo is not None])
        ]
    seen.from_cache = len(rows)
    seen.listed = len(rows) + len(live)
    seen.without_outcome = len(rows) + len(live) - len(facts)
    return keep_latest(facts)
