"""``escalations report``: SLA figures of the tickets opened in a time range.

Reads every matching ticket's outcome from Temporal's visibility store (one request per page of
1,000, never one per ticket; see :mod:`reports.visibility`), closed tickets' from a local cache
once it holds them (:mod:`reports.cached_read`; ``--no-cache`` reads everything live), loads the
policies they name for their objectives, and prints the report as a table, JSON, CSV or an HTML
page. Figures and options: ``docs/reporting.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

from temporalio.service import RPCError

from escalations.cli.arguments import ArgumentProblem
from escalations.cli.ticket import release_clients
from escalations.client.errors import connect_failure_reason, unreadable_payload_reason
from escalations.runtime.config import Settings, load_settings
from escalations.runtime.connection import connect
from policies.durations import parse_duration
from policies.loader import PolicyError, load_named_policy
from policies.model import Policy
from reports.cache_file import CacheError, default_path
from reports.cached_read import CachedReadSummary, read_facts_cached
from reports.figures import DEFAULT_LONG_PAUSE, GROUP_BY, Report, report_of_facts
from reports.gc_pause import paused_gc
from reports.outcome_cache import OutcomeCache
from reports.render_csv import render_csv
from reports.render_html import render_html
from reports.render_json import render_json
from reports.render_text import render_text
from reports.ticket_facts import TicketFacts
from reports.visibility import PAGE_SIZE, ReadSummary, TicketFilter, read_outcomes

DEFAULT_RANGE = timedelta(days=28)
RENDERERS: dict[str, Callable[[Report], str]] = {
    "table": render_text,
    "json": render_json,
    "csv": render_csv,
    "html": render_html,
}
PROG = "escalations report"


def _moment(text: str, end_of_day: bool) -> datetime:
    """An ISO 8601 time with zone, or a date (UTC midnight; for ``--to`` the next one)."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        # A date as the end of the range means "up to and including that day": people write
        # --from 2025-05-01 --to 2025-05-31 for May.
        start = datetime.combine(day, time(), tzinfo=UTC)
        return start + timedelta(days=1) if end_of_day else start
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date (2025-05-01) or time with zone "
            "(2025-05-01T09:30:00Z)"
        ) from None
    if value.utcoffset() is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone: add Z for UTC or an offset such as +02:00"
        )
    return value


def _start(text: str) -> datetime:
    return _moment(text, end_of_day=False)


def _end(text: str) -> datetime:
    return _moment(text, end_of_day=True)


def _long_pause(text: str) -> timedelta:
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value <= timedelta(0):
        raise argparse.ArgumentTypeError(f"{text!r} must be longer than zero")
    return value


def add_report_command(commands: Any) -> None:
    """Register ``report`` on the ``escalations`` subparsers."""
    p = commands.add_parser(
        "report",
        help="SLA figures of the tickets opened in a time range (table, JSON, CSV or HTML)",
        description="Figures per group of the tickets opened in [--from, --to): counts, "
        "business times, SLO attainment and error budget, breaches, escalations, pauses, "
        "CSAT, bottlenecks. Read from Temporal's visibility store.",
    )
    p.add_argument(
        "--from",
        dest="start",
        type=_start,
        metavar="ISO8601",
        help="first opening time (a date means its 00:00 UTC; default: 28 days before --to)",
    )
    p.add_argument(
        "--to",
        dest="end",
        type=_end,
        metavar="ISO8601",
        help="end of the range, exclusive (a date includes that whole day, UTC; default: now)",
    )
    p.add_argument("--group-by", choices=GROUP_BY, default="priority", help="(priority)")
    for flag, what in (
        ("--priority", "priorities"),
        ("--team", "teams"),
        ("--customer", "customers"),
        ("--policy", "policies"),
    ):
        p.add_argument(
            flag, action="extend", nargs="+", default=[], metavar="NAME", help=f"only these {what}"
        )
    p.add_argument("--format", choices=list(RENDERERS), default="table", help="(table)")
    p.add_argument("--output", type=Path, metavar="FILE", help="write here instead of stdout")
    p.add_argument(
        "--long-pause",
        type=_long_pause,
        default=DEFAULT_LONG_PAUSE,
        metavar="DURATION",
        help="pauses at least this long are listed (24h)",
    )
    cache = p.add_mutually_exclusive_group()
    cache.add_argument(
        "--cache",
        type=Path,
        metavar="FILE",
        default=None,
        help="keep closed tickets' outcomes in this file, so a repeated report reads only what "
        "changed (default: $XDG_CACHE_HOME/escalations/report-outcomes.sqlite3)",
    )
    cache.add_argument(
        "--no-cache",
        action="store_true",
        help="read every ticket from Temporal, and neither read nor write the cache",
    )
    p.set_defaults(handler=run_report)


@dataclass
class _Progress:
    """A one-line progress bar on a terminal; nothing when stderr is a file or a pipe."""

    stream: IO[str]
    width: int = 30

    def __call__(self, done: int, total: int | None) -> None:
        if total:
            filled = self.width * min(done, total) // total
            bar = "#" * filled + "." * (self.width - filled)
            line = f"reading tickets [{bar}] {done:,}/{total:,}"
        else:
            line = f"reading tickets: {done:,}"
        self.stream.write("\r" + line)
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def load_policies(directory: Path, names: Iterable[str]) -> tuple[dict[str, Policy], list[str]]:
    """The policies named, by name, and a warning for each that cannot be loaded."""
    policies: dict[str, Policy] = {}
    warnings = []
    for name in sorted(set(names)):
        try:
            policies[name] = load_named_policy(directory, name)
        except PolicyError as err:
            first = str(err).splitlines()[0]
            warnings.append(f"policy {name!r} left out of SLO figures: {first}")
    return policies, warnings


async def _read_live(
    settings: Settings, selection: TicketFilter, progress: _Progress | None
) -> tuple[list[TicketFacts], ReadSummary]:
    client = await connect(settings)
    summary = ReadSummary()
    outcomes = await read_outcomes(
        client, selection, progress=progress, summary=summary, page_size=PAGE_SIZE
    )
    with paused_gc():
        return [TicketFacts.of(outcome) for outcome in outcomes], summary


async def _read_cached(
    settings: Settings, selection: TicketFilter, progress: _Progress | None, cache: Path
) -> tuple[list[TicketFacts], ReadSummary]:
    summary = CachedReadSummary()
    # Opened first: a file that is not a cache is refused before anything goes over the network.
    with OutcomeCache.open(cache) as store:
        client = await connect(settings)
        facts = await read_facts_cached(
            client, selection, store, progress=progress, summary=summary, page_size=PAGE_SIZE
        )
    return facts, summary


def _read(
    settings: Settings, selection: TicketFilter, progress: _Progress | None, cache: Path | None
) -> tuple[list[TicketFacts], ReadSummary]:
    """What a report reads of each ticket ``selection`` matches: all live without ``cache``,
    else closed tickets' from it."""
    try:
        if cache is None:
            return asyncio.run(_read_live(settings, selection, progress))
        return asyncio.run(_read_cached(settings, selection, progress, cache))
    finally:
        if progress is not None:
            progress.finish()
        # Only the facts are left by now, one small object per ticket: this collection walks
        # them quickly (100,000 outcomes would take it over a second).
        release_clients()


def _selection(args: argparse.Namespace, now: datetime) -> TicketFilter:
    end: datetime = args.end or now
    start: datetime = args.start or end - DEFAULT_RANGE
    if start >= end:
        raise ArgumentProblem(
            f"--from: {start.isoformat()} is not before --to {end.isoformat()}: the range is empty"
        )
    selection = TicketFilter(
        opened_from=start,
        opened_to=end,
        priorities=tuple(args.priority),
        teams=tuple(args.team),
        customers=tuple(args.customer),
        policies=tuple(args.policy),
    )
    try:
        selection.query()
    except ValueError as exc:
        # Only a quote or backslash in a filter value gets here: name the flag that carried it.
        flag = next(
            (
                name
                for name, values in (
                    ("--priority", args.priority),
                    ("--team", args.team),
                    ("--customer", args.customer),
                    ("--policy", args.policy),
                )
                if any("'" in value or "\\" in value for value in values)
            ),
            "--customer",
        )
        raise ArgumentProblem(f"{flag}: {exc}") from None
    return selection


def run_report(args: argparse.Namespace) -> int:
    """Read, compute and print the report.

    Returns:
        0 on success, 1 when Temporal is unreachable or refuses, 2 for a bad argument.
    """
    now = datetime.now(UTC)
    try:
        selection = _selection(args, now)
    except ArgumentProblem as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    settings = load_settings()
    progress = _Progress(sys.stderr) if sys.stderr.isatty() else None
    cache = None if args.no_cache else args.cache or default_path()
    try:
        outcomes, summary = _read(settings, selection, progress, cache)
    except CacheError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 1
    except RuntimeError as err:
        if "connect" not in str(err):
            raise
        print(
            f"{PROG}: cannot reach Temporal at {settings.temporal_address} (TEMPORAL_ADDRESS): "
            f"{connect_failure_reason(err)}",
            file=sys.stderr,
        )
        return 1
    except RPCError as err:
        print(f"{PROG}: Temporal refused the visibility query: {err.message}", file=sys.stderr)
        return 1
    except (KeyError, ValueError) as err:
        reason = unreadable_payload_reason(err)
        if reason is None:
            raise
        print(f"{PROG}: {reason}", file=sys.stderr)
        return 1
    policies, warnings = load_policies(settings.policy_dir, (o.policy for o in outcomes))
    if summary.without_outcome:
        warnings.append(
            f"{summary.without_outcome} of {summary.listed} tickets have no outcome yet "
            "(opened by an older worker, or still opening): not counted"
        )
    for warning in warnings:
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    report = report_of_facts(
        outcomes,
        group_by=args.group_by,
        policies=policies,
        now=now,
        range=(selection.opened_from, selection.opened_to),
        long_pause=args.long_pause,
    )
    text = RENDERERS[args.format](report)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        print(
            f"{PROG}: error: --output: cannot write {args.output}: {exc.strerror}", file=sys.stderr
        )
        return 2
    print(f"report written to {args.output}", file=sys.stderr)
    return 0
