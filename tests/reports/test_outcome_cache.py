"""The cache file of closed tickets' outcomes: private, refuses what is not its own, keeps
clusters apart, and stores and selects runs as visibility would list them. No server here."""

from __future__ import annotations

import sqlite3
import stat
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reports.cache_file import APPLICATION_ID, CacheError, default_path
from reports.outcome_cache import (
    ClosedRun,
    Held,
    Listing,
    OutcomeCache,
    Piece,
    Source,
    micros,
)
from reports.ticket_facts import TicketFacts
from reports.visibility import TicketFilter
from tests.reports.outcomes import outcome

DAY = micros(datetime(2025, 5, 6, tzinfo=UTC)) - micros(datetime(2025, 5, 5, tzinfo=UTC))
MONDAY = micros(datetime(2025, 5, 5, tzinfo=UTC))


def run(
    opened_day: float,
    closed: int = 1,
    team: str = "payments",
    memo: bool = True,
    undecoded: bytes | None = None,
) -> ClosedRun:
    ticket = f"T-{uuid.uuid4()}"
    return ClosedRun(
        workflow_id=f"ticket-{ticket}",
        run_id=str(uuid.uuid4()),
        closed=closed,
        opened=MONDAY + int(opened_day * DAY),
        priority="P1",
        team=team,
        customer="Acme",
        policy="standard",
        facts=TicketFacts.of(outcome(ticket, team=team, first=60))
        if memo and not undecoded
        else None,
        undecoded=undecoded,
    )


def held(cache: OutcomeCache, ident: int, selection: TicketFilter) -> set[str]:
    return {h.run_id for h in cache.matching(ident, selection)}


def days(start: float, end: float) -> TicketFilter:
    return TicketFilter(
        opened_from=datetime(2025, 5, 5, tzinfo=UTC) + timedelta(days=start),
        opened_to=datetime(2025, 5, 5, tzinfo=UTC) + timedelta(days=end),
    )


def span(start: float, end: float) -> tuple[int, int]:
    return MONDAY + int(start * DAY), MONDAY + int(end * DAY)


def source(name: str = "a") -> Source:
    return Source("127.0.0.1:7233", "default", name)


def test_a_new_cache_is_private(tmp_path: Path) -> None:
    path = tmp_path / "cache" / "outcomes.sqlite3"
    with OutcomeCache.open(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_a_cache_others_could_read_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.sqlite3"
    with OutcomeCache.open(path):
        pass
    path.chmod(0o644)
    with OutcomeCache.open(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"not a database, but somebody's notes\n" * 200)
    with pytest.raises(CacheError, match="is not a cache of escalations reports") as caught:
        OutcomeCache.open(path)
    assert str(path) in str(caught.value)
    assert "--no-cache" in str(caught.value)
    assert path.read_bytes() == b"not a database, but somebody's notes\n" * 200


def test_another_applications_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "app.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer TEXT)")
        db.execute("INSERT INTO invoices (customer) VALUES ('Acme')")
    db.close()
    with pytest.raises(CacheError, match="another application's SQLite database"):
        OutcomeCache.open(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT customer FROM invoices").fetchall() == [("Acme",)]
    db.close()


def test_a_cache_of_another_schema_version_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.sqlite3"
    with OutcomeCache.open(path) as cache:
        ident = cache.source_id(source())
        cache.store(ident, [Listing(*span(0, 7), None, [run(1)])], covered=span(0, 7), watermark=1)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 999")
    db.close()
    with OutcomeCache.open(path) as cache:
        ident = cache.source_id(source())
        assert cache.matching(ident, days(0, 7)) == []
        assert cache.pieces(ident, *span(0, 7)) == [Piece(*span(0, 7), covered=False)]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    db.close()


def test_a_damaged_cache_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "outcomes.sqlite3"
    with OutcomeCache.open(path) as cache:
        ident = cache.source_id(source())
        runs = [run(i / 1000, undecoded=bytes(2000)) for i in range(2000)]
        cache.store(ident, [Listing(*span(0, 7), None, runs)], covered=span(0, 7), watermark=1)
    data = bytearray(path.read_bytes())
    # Keep the header (so the file still says it is ours) and wreck the pages after it.
    data[4096 : len(data) // 2] = b"\xff" * (len(data) // 2 - 4096)
    path.write_bytes(bytes(data))
    with pytest.raises(CacheError) as caught, OutcomeCache.open(path) as cache:
        cache.matching(cache.source_id(source()), days(0, 7))
    assert str(path) in str(caught.value)
    assert "malformed" in str(caught.value)
    assert "remove the file" in str(caught.value)


def test_two_clusters_never_see_each_others_runs(tmp_path: Path) -> None:
    with OutcomeCache.open(tmp_path / "c.sqlite3") as cache:
        first, second = cache.source_id(source("a")), cache.source_id(source("b"))
        other_address = cache.source_id(Source("10.0.0.1:7233", "default", "a"))
        assert len({first, second, other_address}) == 3
        kept = run(1)
        cache.store(first, [Listing(*span(0, 7), None, [kept])], covered=span(0, 7), watermark=1)
        assert held(cache, first, days(0, 7)) == {kept.run_id}
        assert cache.matching(second, days(0, 7)) == []
        assert cache.matching(other_address, days(0, 7)) == []
        assert cache.pieces(second, *span(0, 7)) == [Piece(*span(0, 7), covered=False)]
        assert cache.source_id(source("a")) == first


def test_pieces_cut_a_range_at_what_the_cache_holds(tmp_path: Path) -> None:
    with OutcomeCache.open(tmp_path / "c.sqlite3") as cache:
        ident = cache.source_id(source())
        assert cache.pieces(ident, *span(0, 10)) == [Piece(*span(0, 10), covered=False)]
        cache.store(ident, [], covered=span(2, 5), watermark=None)
        cache.store(ident, [], covered=span(4, 8), watermark=70)
        assert cache.pieces(ident, *span(0, 10)) == [
            Piece(*span(0, 2), covered=False),
            Piece(*span(2, 4), covered=True, watermark=None),
            Piece(*span(4, 8), covered=True, watermark=70),
            Piece(*span(8, 10), covered=False),
        ]
        # A range inside a held span is one covered piece.
        assert cache.pieces(ident, *span(5, 6)) == [Piece(*span(5, 6), covered=True, watermark=70)]
        assert cache.watermark(ident) == 70
        cache.store(ident, [], covered=span(3, 9), watermark=None)
        assert cache.watermark(ident) == 70, "an older read never lowers it"


def test_a_listing_replaces_its_piece_from_its_close_time_on(tmp_path: Path) -> None:
    with OutcomeCache.open(tmp_path / "c.sqlite3") as cache:
        ident = cache.source_id(source())
        old, recent, gone = run(1, closed=10), run(2, closed=50), run(3, closed=60)
        cache.store(
            ident,
            [Listing(*span(0, 7), None, [old, recent, gone])],
            covered=span(0, 7),
            watermark=60,
        )
        # Listed again from close time 40: `gone` was deleted from visibility, one is new.
        new = run(4, closed=70)
        cache.store(
            ident, [Listing(*span(0, 7), 40, [recent, new])], covered=span(0, 7), watermark=70
        )
        assert held(cache, ident, days(0, 7)) == {old.run_id, recent.run_id, new.run_id}
        assert cache.count_closed(ident, *span(0, 7), before=None) == 3
        assert cache.count_closed(ident, *span(0, 7), before=50) == 1
        assert cache.count_closed(ident, *span(0, 2), before=None) == 1


def test_matching_filters_as_the_visibility_query_does(tmp_path: Path) -> None:
    with OutcomeCache.open(tmp_path / "c.sqlite3") as cache:
        ident = cache.source_id(source())
        at_start, inside, at_end = run(0), run(3, team="identity"), run(7)
        without = run(4, memo=False)
        cache.store(
            ident,
            [Listing(*span(-1, 8), None, [at_start, inside, at_end, without])],
            covered=span(-1, 8),
            watermark=1,
        )
        # [from, to): the start is in, the end is not.
        assert held(cache, ident, days(0, 7)) == {at_start.run_id, inside.run_id, without.run_id}
        selection = TicketFilter(
            opened_from=days(0, 7).opened_from,
            opened_to=days(0, 7).opened_to,
            teams=("identity", "mobile"),
            priorities=("P1",),
        )
        assert cache.matching(ident, selection) == [Held(inside.run_id, inside.facts, None)]
        assert Held(without.run_id, None, None) in cache.matching(ident, days(0, 7))


@pytest.mark.parametrize(
    ("xdg", "expected"),
    [
        ("/srv/cache", Path("/srv/cache/escalations/report-outcomes.sqlite3")),
        ("relative/cache", Path.home() / ".cache/escalations/report-outcomes.sqlite3"),
        (None, Path.home() / ".cache/escalations/report-outcomes.sqlite3"),
    ],
)
def test_the_default_file_is_under_the_xdg_cache_directory(xdg: str | None, expected: Path) -> None:
    environ = {} if xdg is None else {"XDG_CACHE_HOME": xdg}
    assert default_path(environ) == expected
