"""The delivery ledger: which notices a provider (SendGrid, Slack, PagerDuty, Teams, a webhook
receiver) has already accepted, by idempotency key.

SendGrid's ``mail/send`` has no idempotency key of its own, so a retry of an accepted notice
is a second email. Retries happen when a worker dies after SendGrid answered but before
Temporal heard the activity complete: the attempt times out and another worker runs it again.
The ledger closes most of that window. The moment SendGrid answers 2xx, the key is committed to
a SQLite file; a later attempt for the same key finds it and returns the recorded result
instead of sending. What remains is a kill between SendGrid's answer and that commit (well
under a millisecond), or an attempt on another host that does not share the file.

The file survives a killed process (SQLite's write-ahead log is committed before ``record``
returns); ``synchronous=NORMAL`` trades durability across a power cut, where the server would
have lost the activity's completion too, for a send path without an fsync per notice.

Every worker process on a host may share one file: SQLite serialises writers, and readers never
wait. Entries are kept for ``RETENTION``, longer than any notice keeps retrying.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from activities.models import DeliveryResult, NotificationRequest

if TYPE_CHECKING:
    # notifications imports this module to build the wrapped backend.
    from activities.notifications import EmailBackend

log = logging.getLogger(__name__)

RETENTION = timedelta(days=3)
"""How long an accepted key is remembered: more than a notice's 24 hours of retries."""

_PRUNE_EVERY = 1_000
_BUSY_TIMEOUT_MS = 5_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    key_digest TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    message_id TEXT,
    detail TEXT,
    recorded_at REAL NOT NULL,
    conversation TEXT
)
"""


def _digest(key: str) -> str:
    # Keys are stored hashed: any text (a lone surrogate included) becomes a fixed-size key.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class DeliveryLedger:
    """A SQLite table of accepted notices, safe to share between threads and processes.

    Args:
        path: The database file; its directory is created if missing.
        clock: Current Unix time; injectable so retention can be tested exactly.
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._recorded = 0
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # One connection, used under a lock: the activity threads' writes are short, and one
        # connection keeps the file's handle count and WAL readers bounded.
        self._db = sqlite3.connect(
            self._path, timeout=_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(deliveries)")}
            if "conversation" not in columns:  # a ledger written before channels existed
                self._db.execute("ALTER TABLE deliveries ADD COLUMN conversation TEXT")

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def lookup(self, idempotency_key: str) -> DeliveryResult | None:
        """The recorded result of an accepted notice, or None if it was never accepted."""
        with self._lock:
            row = self._db.execute(
                "SELECT provider, message_id, detail, recorded_at, conversation FROM deliveries "
                "WHERE key_digest = ?",
                (_digest(idempotency_key),),
            ).fetchone()
        if row is None:
            return None
        provider, message_id, detail, recorded_at, conversation = row
        accepted = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(recorded_at))
        return DeliveryResult(
            status="sent",
            provider=provider,
            message_id=message_id,
            conversation=conversation,
            detail=f"accepted at {accepted} by an earlier attempt ({detail}); not sent again",
        )

    def record(self, idempotency_key: str, result: DeliveryResult) -> None:
        """Remember that the notice with this key was accepted (the first answer wins)."""
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR IGNORE INTO deliveries "
                "(key_digest, provider, message_id, detail, recorded_at, conversation) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _digest(idempotency_key),
                    result.provider,
                    result.message_id,
                    result.detail,
                    self._clock(),
                    result.conversation,
                ),
            )
            self._recorded += 1
            if self._recorded % _PRUNE_EVERY == 0:
                self._prune()

    def prune(self) -> int:
        """Forget keys older than ``RETENTION``; returns how many were removed."""
        with self._lock, self._db:
            return self._prune()

    def _prune(self) -> int:
        cutoff = self._clock() - RETENTION.total_seconds()
        cursor = self._db.execute("DELETE FROM deliveries WHERE recorded_at < ?", (cutoff,))
        return cursor.rowcount

    def close(self) -> None:
        """Close the database; later calls fail."""
        with self._lock:
            self._db.close()


class LedgeredBackend:
    """Wraps an email backend so that a notice SendGrid already accepted is not sent again.

    The ledger is an optimisation against duplicates, never a reason to lose a notice: if it
    cannot be read the notice is sent, and if it cannot be written the send still counts.

    Args:
        backend: The backend that really sends (``SendGridSender``).
        ledger: Where accepted keys are recorded.
    """

    def __init__(self, backend: EmailBackend, ledger: DeliveryLedger) -> None:
        self._backend = backend
        self._ledger = ledger

    @property
    def backend(self) -> EmailBackend:
        """The wrapped backend."""
        return self._backend

    @property
    def ledger(self) -> DeliveryLedger:
        """The ledger consulted before each send."""
        return self._ledger

    def deliver(self, request: NotificationRequest) -> DeliveryResult:
        """Return the recorded result for an accepted key, else send and record."""
        return send_once(
            self._ledger, request.idempotency_key, lambda: self._backend.deliver(request)
        )


def send_once(
    ledger: DeliveryLedger, key: str, send: Callable[[], DeliveryResult]
) -> DeliveryResult:
    """The result recorded for ``key`` if the provider already accepted it, else ``send()``'s,
    recorded when it was sent (a skipped event is not). A ledger that cannot be read or written
    never stops the send."""
    try:
        earlier = ledger.lookup(key)
    except sqlite3.Error as err:
        log.warning("delivery ledger unreadable, sending anyway: %s", err)
        earlier = None
    if earlier is not None:
        return earlier
    result = send()
    if result.status != "sent":
        return result
    try:
        ledger.record(key, result)
    except sqlite3.Error as err:
        log.warning("delivery ledger not updated (a retry may send twice): %s", err)
    return result
