"""What a report needs of one ticket's outcome, flat: :class:`TicketFacts`.

:func:`reports.figures.build_report` turns every outcome into facts with :meth:`TicketFacts.of`
and computes every figure from facts alone; the cache of closed tickets
(:mod:`reports.outcome_cache`) stores the facts of each closed run, made by the same
:meth:`TicketFacts.of`, so a cached report and a live one compute from identical values. Loading
a row of plain values is several times cheaper than validating an outcome's JSON (100,000 of
them took 2 to 4 s here), which is what lets a repeated report of 100,000 tickets take seconds.

:data:`FINGERPRINT` changes whenever this module or the outcome model changes; a cache file
made under another fingerprint is emptied and filled again, so stored facts never outlive the
code that made them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from policies.model import ClockName
from workflows import ticket_outcome
from workflows.ticket_outcome import ClockOutcome, TicketOutcome

CLOCKS = tuple(ClockName)
"""The clocks, in the order facts keep them."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True)
class ClockFacts:
    """One clock: its target and business time, whether it stopped and whether it breached."""

    target_seconds: float | None
    """None for a clock without a target (response-only targets): it never breaches."""
    business_seconds: float
    stopped: bool
    breached: bool

    @classmethod
    def of(cls, clock: ClockOutcome | None) -> ClockFacts | None:
        """The facts of ``clock`` (None when the ticket has no such clock)."""
        if clock is None:
            return None
        return cls(
            clock.target_seconds,
            clock.business_seconds,
            clock.stopped_at is not None,
            clock.breached,
        )


@dataclass(slots=True)
class PauseFacts:
    """One pause; ``seconds`` counts an open pause until the outcome was written."""

    start: datetime
    seconds: float
    reason: str
    after_customer_reply: bool


@dataclass(slots=True)
class TicketFacts:
    """Every value of one ticket's outcome that a report reads. Read it, never change it: a
    report of 100,000 tickets makes them at a few microseconds each, and shares equal
    ``escalations`` dicts between tickets (see :meth:`from_row`); not frozen, as a frozen
    dataclass takes twice as long to make."""

    ticket_id: str
    priority: str
    team: str
    customer: str
    policy: str
    plan: str
    """The SLA plan in force when the outcome was written."""
    as_of: int
    """When the outcome was written, microseconds since the Unix epoch: the newer one of two
    outcomes of the same ticket id is the one that counts."""
    opened_day: int
    """The UTC day it opened (``date.toordinal``): the timeline's day or week."""
    resolved: bool
    reopened: bool
    csat: int | None
    paused_seconds: float
    next_reply_breaches: int
    escalations: dict[str, int]
    clocks: tuple[ClockFacts | None, ...]
    """In :data:`CLOCKS` order."""
    pauses: tuple[PauseFacts, ...]

    @classmethod
    def of(cls, outcome: TicketOutcome) -> TicketFacts:
        """The facts of ``outcome``: the one place a report reads an outcome."""
        pauses = tuple(
            PauseFacts(
                start=pause.start,
                seconds=max(
                    0.0,
                    (
                        (pause.end if pause.end is not None else outcome.as_of) - pause.start
                    ).total_seconds(),
                ),
                reason=pause.reason,
                after_customer_reply=pause.after_customer_reply,
            )
            for pause in outcome.pauses
        )
        return cls(
            ticket_id=outcome.ticket_id,
            priority=outcome.priority,
            team=outcome.team,
            customer=outcome.customer,
            policy=outcome.policy,
            plan=outcome.plan,
            as_of=_micros(outcome.as_of),
            opened_day=outcome.opened_at.astimezone(UTC).date().toordinal(),
            resolved=outcome.resolved,
            reopened=bool(outcome.reopens),
            csat=outcome.csat,
            paused_seconds=outcome.paused_seconds,
            next_reply_breaches=outcome.next_reply_breaches,
            escalations=dict(outcome.escalations),
            clocks=tuple(ClockFacts.of(outcome.clocks.get(name)) for name in CLOCKS),
            pauses=pauses,
        )

    def row(self) -> tuple[Any, ...]:
        """These facts as a row of :data:`COLUMNS` (plain SQLite values)."""
        clock_values: list[Any] = []
        for clock in self.clocks:
            clock_values += [None] * 4 if clock is None else astuple(clock)
        return (
            self.ticket_id,
            self.priority,
            self.team,
            self.customer,
            self.policy,
            self.as_of,
            self.opened_day,
            self.resolved,
            self.reopened,
            self.csat,
            self.paused_seconds,
            self.next_reply_breaches,
            json.dumps(self.escalations) if self.escalations else None,
            *clock_values,
            json.dumps([_pause_row(p) for p in self.pauses]) if self.pauses else None,
            self.plan,
        )

    @classmethod
    def from_row(cls, row: Sequence[Any], shared: dict[str, Any] | None = None) -> TicketFacts:
        """The facts a :meth:`row` holds.

        Args:
            shared: Decoded ``escalations`` by their JSON text, kept across calls: most tickets
                share one of a few, and decoding each again costs more than the rest of a row.
        """
        clocks = []
        for at in range(13, 13 + 4 * len(CLOCKS), 4):
            target, business, stopped, breached = row[at : at + 4]
            clocks.append(
                None
                if stopped is None
                else ClockFacts(target, _real(business), bool(stopped), bool(breached))
            )
        pauses, plan = row[13 + 4 * len(CLOCKS)], row[14 + 4 * len(CLOCKS)]
        return cls(
            ticket_id=row[0],
            priority=row[1],
            team=row[2],
            customer=row[3],
            policy=row[4],
            plan=plan,
            as_of=row[5],
            opened_day=row[6],
            resolved=bool(row[7]),
            reopened=bool(row[8]),
            csat=row[9],
            paused_seconds=_real(row[10]),
            next_reply_breaches=row[11],
            escalations=_escalations(row[12], shared),
            clocks=tuple(clocks),
            pauses=() if pauses is None else tuple(_pause(p) for p in json.loads(pauses)),
        )


COLUMNS = (
    "ticket_id TEXT",
    "o_priority TEXT",
    "o_team TEXT",
    "o_customer TEXT",
    "o_policy TEXT",
    "as_of INTEGER",
    "opened_day INTEGER",
    "resolved INTEGER",
    "reopened INTEGER",
    "csat INTEGER",
    "paused_seconds REAL",
    "next_reply_breaches INTEGER",
    "escalations TEXT",
    *(
        f"{clock.value}_{part}"
        for clock in CLOCKS
        for part in ("target REAL", "business REAL", "stopped INTEGER", "breached INTEGER")
    ),
    "pauses TEXT",
    "o_plan TEXT",
)
"""The columns of :meth:`TicketFacts.row`, with their SQLite types."""


def _escalations(text: str | None, shared: dict[str, Any] | None) -> dict[str, int]:
    if text is None:
        return {}
    if shared is None:
        found: dict[str, int] = json.loads(text)
        return found
    decoded: dict[str, int] | None = shared.get(text)
    if decoded is None:
        decoded = shared[text] = json.loads(text)
    return decoded


def _real(value: float | None) -> float:
    # SQLite stores a NaN as NULL; a float column is otherwise never NULL.
    return math.nan if value is None else value


def _micros(moment: datetime) -> int:
    # The workflow writes zone-aware times (workflow.now()); a memo written by hand without a
    # zone is read as UTC rather than refused.
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(microseconds=1)


def _pause_row(pause: PauseFacts) -> list[Any]:
    # isoformat keeps the start's own offset, as the report shows it.
    return [pause.start.isoformat(), pause.seconds, pause.reason, pause.after_customer_reply]


def _pause(values: list[Any]) -> PauseFacts:
    return PauseFacts(datetime.fromisoformat(values[0]), values[1], values[2], values[3])


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for module in (__name__, ticket_outcome.__name__):
        try:
            digest.update(inspect.getsource(__import__(module, fromlist=["_"])).encode())
        except (OSError, TypeError):
            # No source to read (a build without .py files): the column layout alone.
            digest.update(module.encode())
    digest.update(repr(COLUMNS).encode())
    return digest.hexdigest()


FINGERPRINT = _fingerprint()
"""A hash of this module's and the outcome model's source: facts stored under another
fingerprint may have been made by other code, and are not used."""
