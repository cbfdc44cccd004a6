"""The SQLite file of the report cache: created private, recognised as ours, refused if not.

:class:`CacheFile` opens the file and hands out reads and write transactions;
:mod:`reports.outcome_cache` decides what is in it. A file that is not one of these caches
(another application's SQLite database, or not a database at all) is refused with
:class:`CacheError` and never changed; a cache made by other code (another schema version, or
another fingerprint of the code that fills it) is emptied and made again.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

APPLICATION_ID = 0x45534352
"""``PRAGMA application_id`` of these files ("ESCR"): how a file is told apart from others."""
FILE_NAME = "report-outcomes.sqlite3"
BUSY_TIMEOUT = 30.0
"""Seconds to wait for another report writing the same file."""


class CacheError(Exception):
    """The cache file cannot be used; the message names it and what to do."""


def default_path(environ: os._Environ[str] | dict[str, str] = os.environ) -> Path:
    """``$XDG_CACHE_HOME/escalations/report-outcomes.sqlite3`` (``~/.cache`` when unset)."""
    base = environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative path there is invalid and to be ignored.
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "escalations" / FILE_NAME


class CacheFile:
    """An open cache file. Use :meth:`open`; close it when done."""

    def __init__(
        self,
        path: Path,
        connection: sqlite3.Connection,
        schema: str,
        version: int,
        fingerprint: str,
    ) -> None:
        self.path = path
        self.db = connection
        self._schema, self._version, self._fingerprint = schema, version, fingerprint

    @classmethod
    def open(cls, path: Path, *, schema: str, version: int, fingerprint: str) -> CacheFile:
        """Open ``path``, creating it (and its directory) private if it does not exist.

        Args:
            schema: The ``CREATE`` statements of the tables, ``;``-separated; one table must be
                ``meta (fingerprint TEXT NOT NULL)``.
            version: The schema's version (``PRAGMA user_version``).
            fingerprint: Of the code that fills the file; a file made under another is emptied.

        Raises:
            CacheError: ``path`` is not a file of this cache (another SQLite database, or not a
                database at all) or cannot be created or read.
        """
        try:
            _create_private(path)
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise CacheError(f"report cache {path}: cannot open it: {exc}") from None
        opened = cls(path, connection, schema, version, fingerprint)
        try:
            opened._check()
        except BaseException:
            connection.close()
            raise
        return opened

    def close(self) -> None:
        """Close the file."""
        self.db.close()

    def _check(self) -> None:
        try:
            application = self.db.execute("PRAGMA application_id").fetchone()[0]
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            tables = self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise self._refused(f"not a database ({exc})") from None
        if application == 0 and tables == 0:
            self._rebuild()
        elif application != APPLICATION_ID:
            raise self._refused("another application's SQLite database")
        elif version != self._version or self._stored_fingerprint() != self._fingerprint:
            self._rebuild()

    def _stored_fingerprint(self) -> str | None:
        try:
            found = self.db.execute("SELECT fingerprint FROM meta").fetchone()
        except sqlite3.DatabaseError:
            return None
        return None if found is None else str(found[0])

    def _refused(self, what: str) -> CacheError:
        return CacheError(
            f"report cache {self.path} is not a cache of escalations reports ({what}); "
            "it is left as it is: remove it, or pass --cache with another file, or --no-cache"
        )

    def _rebuild(self) -> None:
        with self.writing():
            for (name,) in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            ).fetchall():
                self.db.execute(f'DROP TABLE "{name}"')
            # One statement at a time: executescript would commit the open transaction first.
            for statement in self._schema.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute("INSERT INTO meta (fingerprint) VALUES (?)", (self._fingerprint,))
            self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self.db.execute(f"PRAGMA user_version = {self._version}")

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One write transaction; taken at once, so two reports never interleave writes."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: sqlite3.Error) -> CacheError:
        return CacheError(
            f"report cache {self.path}: {exc}; remove the file (the next report rebuilds it), "
            "or pass --no-cache"
        )

    def read(self, sql: str, parameters: Sequence[object] = ()) -> list[Any]:
        """The rows ``sql`` selects."""
        try:
            return self.db.execute(sql, parameters).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None


def _create_private(path: Path) -> None:
    """Create ``path`` (mode 0600, its directory 0700) unless it exists; make it private."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            # Customer names: a file others can read (copied in, or made by hand) is closed up.
            path.chmod(0o600)
