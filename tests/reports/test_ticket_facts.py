"""A ticket's facts survive the cache file unchanged, and the file forgets facts made by other
code."""

from __future__ import annotations

import inspect
import math
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings

from reports import ticket_facts
from reports.outcome_cache import OutcomeCache, Source
from reports.ticket_facts import COLUMNS, FINGERPRINT, TicketFacts
from reports.visibility import keep_latest
from tests.reports.outcomes import START, outcome
from tests.reports.test_figures_reference import outcomes
from workflows.ticket_outcome import Pause, TicketOutcome


@settings(max_examples=300, deadline=None)
@given(outcomes())
def test_a_row_holds_the_facts_exactly(item: TicketOutcome) -> None:
    facts = TicketFacts.of(item)
    row = facts.row()
    assert len(row) == len(COLUMNS)
    assert TicketFacts.from_row(row) == facts


def test_a_row_through_sqlite_holds_the_facts_exactly(tmp_path: Path) -> None:
    offset = timezone(timedelta(hours=2))
    item = outcome(
        "T-1",
        first=1.0 / 3,
        resolution=1e-300,
        escalations={"response-breached": 2, "quiet": 0},
        csat=4,
        pauses=[
            Pause(start=datetime(2025, 5, 5, 9, 30, tzinfo=offset), reason="waiting on 'logs'"),
            Pause(start=START, end=START + timedelta(seconds=1.5), after_customer_reply=True),
        ],
        paused_seconds=math.inf,
    )
    facts = TicketFacts.of(item)
    with sqlite3.connect(tmp_path / "f.sqlite3") as db:
        db.execute(f"CREATE TABLE f ({', '.join(COLUMNS)})")
        db.execute(f"INSERT INTO f VALUES ({', '.join('?' * len(COLUMNS))})", facts.row())
        back = TicketFacts.from_row(db.execute("SELECT * FROM f").fetchone())
    db.close()
    assert back == facts
    # The pause keeps its own offset, as the report prints it.
    assert back.pauses[0].start.isoformat() == "2025-05-05T09:30:00+02:00"


def test_a_nan_comes_back_a_nan() -> None:
    facts = TicketFacts.of(outcome("T-1", first=60, paused_seconds=math.nan))
    row = list(facts.row())
    row[COLUMNS.index("paused_seconds REAL")] = None  # what SQLite keeps of a NaN
    assert math.isnan(TicketFacts.from_row(row).paused_seconds)


def test_the_latest_outcome_of_a_ticket_counts() -> None:
    first = TicketFacts.of(outcome("T-1", team="a", as_of=START + timedelta(days=1)))
    later = TicketFacts.of(outcome("T-1", team="b", as_of=START + timedelta(days=2)))
    tie = TicketFacts.of(outcome("T-1", team="c", as_of=START + timedelta(days=2)))
    other = TicketFacts.of(outcome("T-2", as_of=START))
    assert keep_latest([later, first, other]) == [later, other]
    assert keep_latest([first, later, tie]) == [tie]


def test_facts_made_by_other_code_are_not_used(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    with OutcomeCache.open(path) as cache:
        cache.source_id(Source("a", "default", "1"))
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT fingerprint FROM meta").fetchall() == [(FINGERPRINT,)]
        db.execute("UPDATE meta SET fingerprint = 'made by an older release'")
    db.close()
    with OutcomeCache.open(path) as cache:
        assert cache.watermark(cache.source_id(Source("a", "default", "1"))) is None
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT fingerprint FROM meta").fetchall() == [(FINGERPRINT,)]
        assert db.execute("SELECT count(*) FROM sources").fetchone() == (1,)
    db.close()


@pytest.mark.parametrize("module", ["workflows.ticket_outcome", "reports.ticket_facts"])
def test_a_change_to_the_model_or_the_facts_changes_the_fingerprint(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = inspect.getsource

    def edited(target: ModuleType) -> str:
        return real(target) + ("\n# edited" if target.__name__ == module else "")

    monkeypatch.setattr(inspect, "getsource", edited)
    assert ticket_facts._fingerprint() != FINGERPRINT
    monkeypatch.setattr(inspect, "getsource", real)
    assert ticket_facts._fingerprint() == FINGERPRINT
