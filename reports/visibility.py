"""Reading ticket outcomes from Temporal's visibility store, page by page.

Each list page carries every ticket's memo, and the memo holds its
:class:`~workflows.ticket_outcome.TicketOutcome`; so a report costs one request per page (1,000
tickets) and never one per ticket.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from temporalio.api.common.v1 import Payload
from temporalio.api.workflowservice.v1 import (
    ListWorkflowExecutionsRequest,
    ListWorkflowExecutionsResponse,
)
from temporalio.client import Client
from temporalio.converter import PayloadCodec

from reports.gc_pause import paused_gc
from workflows.ticket_outcome import OUTCOME_MEMO, TicketOutcome

WORKFLOW_TYPE = "TicketEscalation"
PAGE_SIZE = 1000
SLICES = 32
"""Consecutive ``OpenedAt`` spans the range is cut into. A visibility page costs the server more
the more tickets its query matches, so many narrow queries read faster than a few wide ones
(100,000 tickets on the dev server: 59 s as 4 spans, 41 s as 32; BENCHMARKS.md)."""
SLICES_AT_ONCE = 4
"""Spans listed at the same time: enough to keep the server's cores busy while this process
decodes; sixteen at once trip the dev server's persistence rate limit."""

Progress = Callable[[int, int | None], None]
"""Called after each page with (tickets read so far, total expected or None)."""


def rfc3339(moment: datetime) -> str:
    """``moment`` as a visibility query writes a time: UTC, microseconds, ``Z``."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; give one (or Z for UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def quoted_literal(value: str) -> str:
    # Refused rather than escaped: a value that could end the quoted string would change the
    # query. Priorities, teams and policies are slugs, so only a customer name can hit this.
    if "'" in value or "\\" in value:
        raise ValueError(f"{value!r}: a filter value may not contain quotes or backslashes")
    return f"'{value}'"


@dataclass(frozen=True)
class TicketFilter:
    """Which tickets a report covers: opened in ``[opened_from, opened_to)``, optionally of
    some priorities, teams, customers or policies."""

    opened_from: datetime
    opened_to: datetime
    priorities: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if rfc3339(self.opened_from) >= rfc3339(self.opened_to):
            raise ValueError(
                f"the range is empty: {self.opened_from.isoformat()} is not before "
                f"{self.opened_to.isoformat()}"
            )

    def split(self, parts: int) -> list[TicketFilter]:
        """This filter cut into ``parts`` consecutive ``OpenedAt`` spans that cover it exactly."""
        span = (self.opened_to - self.opened_from) / max(parts, 1)
        if span < timedelta(seconds=1):
            return [self]
        edges = [self.opened_from + span * i for i in range(parts)] + [self.opened_to]
        return [
            dataclasses.replace(self, opened_from=start, opened_to=end)
            for start, end in itertools.pairwise(edges)
            if start < end
        ]

    def query(self) -> str:
        """The visibility query (list filter) that selects these tickets."""
        parts = [
            f"WorkflowType = '{WORKFLOW_TYPE}'",
            # A ticket that continued as new lists one closed run per hand-over: its newest run
            # holds the outcome.
            "ExecutionStatus != 'ContinuedAsNew'",
            f"OpenedAt >= '{rfc3339(self.opened_from)}'",
            f"OpenedAt < '{rfc3339(self.opened_to)}'",
        ]
        for name, values in (
            ("Priority", self.priorities),
            ("Team", self.teams),
            ("Customer", self.customers),
            ("Policy", self.policies),
        ):
            if values:
                parts.append(f"{name} IN ({', '.join(quoted_literal(v) for v in values)})")
        return " AND ".join(parts)


@dataclass
class ReadSummary:
    """What a read saw besides outcomes: tickets without an outcome memo (opened by a worker
    older than the reporting release, or still opening)."""

    listed: int = 0
    without_outcome: int = 0
    pages: int = 0


def outcome_payloads(page: ListWorkflowExecutionsResponse) -> list[Payload]:
    """The ``sla_outcome`` memo of each execution on ``page`` that has one (still encoded)."""
    return [e.memo.fields[OUTCOME_MEMO] for e in page.executions if OUTCOME_MEMO in e.memo.fields]


async def decode_outcomes(
    codec: PayloadCodec | None, payloads: Sequence[Payload]
) -> list[TicketOutcome]:
    """``payloads`` (``sla_outcome`` memos as visibility returns them) as outcomes, in order.

    They go through the client's payload codec (``client.data_converter.payload_codec``), so
    encrypted memos read too.

    Raises:
        KeyError: a memo is in an encoding this process cannot read (encrypted, and no payload
            codec with the keys); its message names the encoding, as the SDK's own does.
    """
    decoded = list(payloads) if codec is None else await codec.decode(payloads)
    outcomes = []
    # Validating thousands of outcomes allocates millions of small objects, none in a cycle,
    # which the cyclic collector would otherwise walk again and again (see gc_pause).
    with paused_gc():
        for payload in decoded:
            encoding = payload.metadata.get("encoding", b"json/plain")
            if encoding != b"json/plain":
                # Ciphertext would otherwise surface as a JSON validation error.
                raise KeyError(f"unknown payload encoding {encoding.decode(errors='replace')}")
            outcomes.append(TicketOutcome.model_validate_json(payload.data))
    return outcomes


class _Stamped(Protocol):
    @property
    def ticket_id(self) -> str: ...

    @property
    def as_of(self) -> Any: ...  # a datetime on outcomes, microseconds on the cache's facts


_StampedT = TypeVar("_StampedT", bound=_Stamped)


def keep_latest(items: Iterable[_StampedT]) -> list[_StampedT]:
    """One per ticket id: the one written last (``as_of``; on a tie the later one). For
    outcomes as read, and for the cache's facts of them alike.

    The same id twice happens only if a ticket was opened again after its workflow closed.
    """
    latest: dict[str, _StampedT] = {}
    for item in items:
        earlier = latest.get(item.ticket_id)
        if earlier is None or item.as_of >= earlier.as_of:
            latest[item.ticket_id] = item
    return list(latest.values())


async def list_pages(
    client: Client, query: str, page_size: int = PAGE_SIZE
) -> AsyncIterator[ListWorkflowExecutionsResponse]:
    """Every page of ``query``, the next one requested while the caller handles the current."""

    def fetch(token: bytes) -> asyncio.Task[ListWorkflowExecutionsResponse]:
        request = ListWorkflowExecutionsRequest(
            namespace=client.namespace, query=query, page_size=page_size, next_page_token=token
        )
        # retry=True: the SDK backs off and retries transient refusals (RESOURCE_EXHAUSTED
        # when the server's persistence rate limit is reached), as its own list calls do.
        return asyncio.ensure_future(
            client.workflow_service.list_workflow_executions(request, retry=True)
        )

    pending: asyncio.Task[ListWorkflowExecutionsResponse] | None = fetch(b"")
    try:
        while pending is not None:
            page = await pending
            pending = fetch(page.next_page_token) if page.next_page_token else None
            yield page
    finally:
        if pending is not None:
            pending.cancel()


async def in_slices(
    selection: TicketFilter,
    read: Callable[[TicketFilter], Awaitable[None]],
    *,
    slices: int = SLICES,
    at_once: int = SLICES_AT_ONCE,
) -> None:
    """``read`` each of ``selection`` cut into ``slices`` spans, ``at_once`` at a time."""
    gate = asyncio.Semaphore(max(at_once, 1))

    async def read_in_turn(part: TicketFilter) -> None:
        async with gate:
            await read(part)

    await asyncio.gather(*(read_in_turn(part) for part in selection.split(slices)))


async def read_outcomes(
    client: Client,
    selection: TicketFilter,
    *,
    progress: Progress | None = None,
    summary: ReadSummary | None = None,
    page_size: int = PAGE_SIZE,
    slices: int = SLICES,
    at_once: int = SLICES_AT_ONCE,
) -> list[TicketOutcome]:
    """The outcomes of the tickets ``selection`` matches, one per ticket.

    The range is cut into ``slices`` equal spans of ``OpenedAt``, listed ``at_once`` at a
    time, and each span asks for its next page before decoding the current one, so the
    server's page building and this process's decoding overlap. Only the memo is decoded
    (through the payload codec, so encrypted memos read too): ``list_workflows`` would decode
    every search attribute of every ticket, which a report never looks at and which costs more
    than the memo.

    Raises:
        KeyError: a memo is in an encoding this process cannot read (encrypted, and no payload
            codec with the keys); its message names the encoding, as the SDK's own does.

    Args:
        progress: Called as pages arrive with (tickets listed so far, total); the total comes
            from one ``count_workflows`` call first.
        summary: Filled with how many were listed and how many had no outcome memo.
    """
    total: int | None = None
    if progress is not None:
        total = (await client.count_workflows(selection.query())).count
        progress(0, total)
    read: list[TicketOutcome] = []
    seen = ReadSummary()

    async def read_slice(part: TicketFilter) -> None:
        async for page in list_pages(client, part.query(), page_size):
            payloads = outcome_payloads(page)
            seen.pages += 1
            seen.listed += len(page.executions)
            seen.without_outcome += len(page.executions) - len(payloads)
            read.extend(await decode_outcomes(client.data_converter.payload_codec, payloads))
            if progress is not None:
                progress(seen.listed, total)

    await in_slices(selection, read_slice, slices=slices, at_once=at_once)
    if summary is not None:
        summary.listed, summary.without_outcome = seen.listed, seen.without_outcome
        summary.pages = seen.pages
    return keep_latest(read)
