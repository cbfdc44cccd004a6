"""A local file of closed tickets' outcomes, so a repeated report reads each closed ticket once.

A ticket's workflow closes only after its feedback window, and a closed run never changes: its
``sla_outcome`` memo and search attributes are final. This SQLite file (stdlib ``sqlite3``)
keeps, per closed run, the :class:`~reports.ticket_facts.TicketFacts` of its outcome (what a
report reads of it) with the search attributes a report filters on; and which ``OpenedAt``
spans it holds every closed ticket of, up to which close time. A memo this process could not
decode when it was listed (encrypted, and no keys) is kept as listed instead, and decoded, or
refused as a live read would, when a report needs it. What to ask the server, and when, is
:mod:`reports.cached_read`'s job; this module only stores.

Rows belong to a source: the server address, the namespace and the namespace's id (a new
server, or a namespace deleted and created again, gets a new id), so two clusters never mix.
Times are integers, microseconds since the Unix epoch in UTC, as visibility queries write them.

The file holds customer names, so it is created private (0600, in a 0700 directory); a file
that is not one of these caches is refused with :class:`~reports.cache_file.CacheError`, never
overwritten, and a cache made by other code (another schema version, or facts of another
:data:`~reports.ticket_facts.FINGERPRINT`) is emptied and filled again
(:mod:`reports.cache_file`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reports.cache_file import CacheFile
from reports.gc_pause import paused_gc
from reports.ticket_facts import COLUMNS, FINGERPRINT, TicketFacts
from reports.visibility import TicketFilter

SCHEMA_VERSION = 2
"""``PRAGMA user_version``; a file of another version is emptied and filled again."""
_FACTS = ", ".join(column.split()[0] for column in COLUMNS)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCHEMA = f"""
CREATE TABLE meta (
    fingerprint TEXT NOT NULL
);
CREATE TABLE sources (
    id INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    namespace TEXT NOT NULL,
    namespace_id TEXT NOT NULL,
    watermark INTEGER,
    UNIQUE (address, namespace, namespace_id)
);
CREATE TABLE runs (
    source INTEGER NOT NULL REFERENCES sources (id),
    run_id TEXT NOT NULL,
    workflow_id TEXT NOT NULL,
    closed INTEGER NOT NULL,
    opened INTEGER,
    priority TEXT,
    team TEXT,
    customer TEXT,
    policy TEXT,
    has_outcome INTEGER NOT NULL,
    undecoded BLOB,
    {", ".join(COLUMNS)},
    UNIQUE (source, run_id)
);
CREATE INDEX runs_by_opened ON runs (source, opened);
CREATE TABLE coverage (
    source INTEGER NOT NULL REFERENCES sources (id),
    opened_from INTEGER NOT NULL,
    opened_to INTEGER NOT NULL,
    watermark INTEGER,
    PRIMARY KEY (source, opened_from)
);
"""


def micros(moment: datetime) -> int:
    """``moment`` as microseconds since the Unix epoch (UTC)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def moment(value: int) -> datetime:
    """The inverse of :func:`micros`."""
    return _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True)
class Source:
    """Which cluster and namespace rows came from."""

    address: str
    namespace: str
    namespace_id: str


@dataclass(frozen=True)
class ClosedRun:
    """One closed run as listed: the search attributes a report filters on (None when the run
    has none), and its outcome's facts; or, for a memo that could not be decoded, the memo
    payload as listed (serialized). Neither for a run without an outcome memo."""

    workflow_id: str
    run_id: str
    closed: int
    opened: int | None
    priority: str | None
    team: str | None
    customer: str | None
    policy: str | None
    facts: TicketFacts | None
    undecoded: bytes | None = None

    def row(self, source: int) -> tuple[Any, ...]:
        """The values of a ``runs`` row."""
        facts = (None,) * len(COLUMNS) if self.facts is None else self.facts.row()
        return (
            source,
            self.run_id,
            self.workflow_id,
            self.closed,
            self.opened,
            self.priority,
            self.team,
            self.customer,
            self.policy,
            self.facts is not None or self.undecoded is not None,
            self.undecoded,
            *facts,
        )


@dataclass(frozen=True)
class Held:
    """A held run a report matched: its facts, or its undecoded memo, or neither (no memo)."""

    run_id: str
    facts: TicketFacts | None
    undecoded: bytes | None


@dataclass(frozen=True)
class Piece:
    """A span ``[opened_from, opened_to)`` of a report's range, as the cache holds it.

    ``covered`` False: never listed, the cache holds nothing of it. Covered: every run in it
    that closed before ``watermark`` minus the visibility margin is in the cache (``watermark``
    None: no such promise, so every closed run of it is listed again).
    """

    opened_from: int
    opened_to: int
    covered: bool
    watermark: int | None = None


@dataclass(frozen=True)
class Listing:
    """What one visibility listing of a piece returned: every closed run of ``piece`` that
    closed at or after ``closed_since`` (all of them when None)."""

    opened_from: int
    opened_to: int
    closed_since: int | None
    runs: Sequence[ClosedRun]


class OutcomeCache:
    """An open cache file. Use :meth:`open`; close it (or use ``with``) when done."""

    def __init__(self, file: CacheFile) -> None:
        self._file = file
        self._db = file.db
        self.path = file.path

    @classmethod
    def open(cls, path: Path) -> OutcomeCache:
        """Open ``path``, creating it (and its directory) private if it does not exist.

        Raises:
            reports.cache_file.CacheError: ``path`` is not a file of this cache (another
                SQLite database, or not a database at all) or cannot be created or read.
        """
        return cls(
            CacheFile.open(path, schema=_SCHEMA, version=SCHEMA_VERSION, fingerprint=FINGERPRINT)
        )

    def close(self) -> None:
        """Close the file."""
        self._file.close()

    def __enter__(self) -> OutcomeCache:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _writing(self) -> contextlib.AbstractContextManager[None]:
        return self._file.writing()

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[Any]:
        return self._file.read(sql, parameters)

    def source_id(self, source: Source) -> int:
        """The id of ``source``'s rows, a new one the first time it is seen."""
        key = (source.address, source.namespace, source.namespace_id)
        with self._writing():
            self._db.execute(
                "INSERT OR IGNORE INTO sources (address, namespace, namespace_id) VALUES (?, ?, ?)",
                key,
            )
        found = self._read(
            "SELECT id FROM sources WHERE address = ? AND namespace = ? AND namespace_id = ?", key
        )
        return int(found[0][0])

    def watermark(self, source: int) -> int | None:
        """The latest watermark any read of ``source`` stored (see :meth:`store`)."""
        found = self._read("SELECT watermark FROM sources WHERE id = ?", (source,))
        return None if not found or found[0][0] is None else int(found[0][0])

    def pieces(self, source: int, opened_from: int, opened_to: int) -> list[Piece]:
        """``[opened_from, opened_to)`` cut at the edges of what the cache holds, in order."""
        spans = self._read(
            "SELECT opened_from, opened_to, watermark FROM coverage WHERE source = ? "
            "AND opened_to > ? AND opened_from < ? ORDER BY opened_from",
            (source, opened_from, opened_to),
        )
        pieces, cursor = [], opened_from
        for start, end, watermark in spans:
            start, end = max(start, opened_from), min(end, opened_to)
            if start > cursor:
                pieces.append(Piece(cursor, start, covered=False))
            pieces.append(Piece(start, end, covered=True, watermark=watermark))
            cursor = end
        if cursor < opened_to:
            pieces.append(Piece(cursor, opened_to, covered=False))
        return pieces

    def store(
        self,
        source: int,
        listings: Sequence[Listing],
        *,
        covered: tuple[int, int],
        watermark: int | None,
    ) -> None:
        """Replace what ``listings`` say about their pieces, and mark ``covered`` as held.

        Each listing is authoritative for its piece from ``closed_since`` on: runs there that it
        did not return are gone from visibility (deleted, or past retention) and are dropped.

        Args:
            covered: The span ``[from, to)`` every listing together covers.
            watermark: Every run of ``covered`` that closed before this time (less the
                visibility margin) is now held; None while no run has closed.
        """
        with self._writing():
            for listing in listings:
                gone = "DELETE FROM runs WHERE source = ? AND opened >= ? AND opened < ?"
                span = (source, listing.opened_from, listing.opened_to)
                if listing.closed_since is None:
                    self._db.execute(gone, span)
                else:
                    self._db.execute(f"{gone} AND closed >= ?", (*span, listing.closed_since))
                self._db.executemany(
                    "INSERT OR REPLACE INTO runs (source, run_id, workflow_id, closed, opened, "
                    f"priority, team, customer, policy, has_outcome, undecoded, {_FACTS}) "
                    f"VALUES ({', '.join('?' * (11 + len(COLUMNS)))})",
                    (run.row(source) for run in listing.runs),
                )
            self._cover(source, *covered, watermark)
            if watermark is not None:
                self._db.execute(
                    "UPDATE sources SET watermark = ? WHERE id = ? "
                    "AND (watermark IS NULL OR watermark < ?)",
                    (watermark, source, watermark),
                )

    def _cover(self, source: int, start: int, end: int, watermark: int | None) -> None:
        overlapping = self._db.execute(
            "SELECT opened_from, opened_to, watermark FROM coverage WHERE source = ? "
            "AND opened_to > ? AND opened_from < ?",
            (source, start, end),
        ).fetchall()
        self._db.execute(
            "DELETE FROM coverage WHERE source = ? AND opened_to > ? AND opened_from < ?",
            (source, start, end),
        )
        kept = [(s, start, w) for s, _, w in overlapping if s < start]
        kept += [(end, e, w) for _, e, w in overlapping if e > end]
        self._db.executemany(
            "INSERT INTO coverage (source, opened_from, opened_to, watermark) VALUES (?, ?, ?, ?)",
            [(source, s, e, w) for s, e, w in [*kept, (start, end, watermark)]],
        )

    def count_closed(
        self, source: int, opened_from: int, opened_to: int, before: int | None
    ) -> int:
        """Runs held of ``[opened_from, opened_to)`` that closed before ``before`` (or at all)."""
        sql = "SELECT count(*) FROM runs WHERE source = ? AND opened >= ? AND opened < ?"
        span = (source, opened_from, opened_to)
        found = (
            self._read(sql, span)
            if before is None
            else self._read(f"{sql} AND closed < ?", (*span, before))
        )
        return int(found[0][0])

    def matching(self, source: int, selection: TicketFilter) -> list[Held]:
        """Every held run ``selection`` matches, as visibility would match it: ``OpenedAt`` in
        the range, each filter's values alternatives."""
        sql = (
            f"SELECT run_id, has_outcome, undecoded, {_FACTS} FROM runs "
            "WHERE source = ? AND opened >= ? AND opened < ?"
        )
        parameters: list[object] = [
            source,
            micros(selection.opened_from),
            micros(selection.opened_to),
        ]
        for column, values in (
            ("priority", selection.priorities),
            ("team", selection.teams),
            ("customer", selection.customers),
            ("policy", selection.policies),
        ):
            if values:
                sql += f" AND {column} IN ({', '.join('?' * len(values))})"
                parameters += values
        shared: dict[str, Any] = {}
        rows = self._read(sql, parameters)
        with paused_gc():
            return [
                Held(
                    row[0],
                    TicketFacts.from_row(row[3:], shared) if row[1] and row[2] is None else None,
                    row[2],
                )
                for row in rows
            ]
