"""One calendar is shared by every ticket on its definition, across the worker's threads."""

from __future__ import annotations

import random
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from policies.calendar import BusinessCalendar
from policies.calendar_definition import CalendarDefinition

DEFINITION = CalendarDefinition.model_validate(
    {"timezone": "Europe/Berlin", "hours": {"mon-fri": ["09:00-12:00", "13:00-17:00"]}}
)


def _questions(seed: int) -> list[tuple[datetime, timedelta]]:
    rng = random.Random(seed)
    # Far-apart years make threads rebuild the span and its month cache over and over.
    return [
        (
            datetime(rng.choice([1990, 2026, 2061, 2100]), rng.randint(1, 12), 1, tzinfo=UTC)
            + timedelta(seconds=rng.randint(0, 86_400 * 27)),
            timedelta(hours=rng.randint(1, 2_000)),
        )
        for _ in range(300)
    ]


def _ask(calendar: BusinessCalendar, questions: list[tuple[datetime, timedelta]]) -> list[object]:
    return [(calendar.add(s, d), calendar.elapsed(s, s + d)) for s, d in questions]


def test_concurrent_questions_on_a_shared_calendar_get_the_answers_of_a_fresh_one() -> None:
    shared = BusinessCalendar(**DEFINITION.model_dump())
    batches = [_questions(seed) for seed in range(8)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads constantly, to meet the races if there are any
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda batch: _ask(shared, batch), batches))
    finally:
        sys.setswitchinterval(interval)
    for batch, got in zip(batches, answers, strict=True):
        assert got == _ask(BusinessCalendar(**DEFINITION.model_dump()), batch)
