"""The file the API keys live in: hashes and scopes, shared by threads and processes.

See :mod:`escalations.api.keys` for what a key and its token are.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hmac
import json
import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from escalations.api.keys import (
    SCOPES,
    STORE_VERSION,
    TOKEN_PREFIX,
    ApiKey,
    InvalidKeyName,
    KeyStoreError,
    Scope,
    UnknownKey,
    name_problem,
    token_digest,
    token_key_id,
)


class _StoredKey(ApiKey):
    """A record of the file: the key and its token's hex SHA-256."""

    hash: str = Field(pattern=r"^[0-9a-f]{64}$", repr=False)


@dataclass(frozen=True)
class _Entry:
    key: ApiKey
    hash: str = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {**self.key.model_dump(mode="json"), "hash": self.hash}


# (device, inode, size, mtime, ctime): each write replaces the file, so its inode changes even
# when the clock's granularity leaves the mtime as it was.
_Signature = tuple[int, int, int, int, int]


class ApiKeyStore:
    """The API keys in one JSON file, safe to share between threads and processes.

    Reads see the file as of their call; writes (``create``, ``revoke``) hold an exclusive
    lock on ``<file>.lock`` while they read, change and atomically replace the file, so
    concurrent ``escalations api-key`` runs and threads lose no change.

    Args:
        path: The store file (``Settings.api_keys_file``). A missing file holds no keys.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._signature: _Signature | None = None
        self._keys: dict[str, _Entry] = {}

    def __repr__(self) -> str:
        return f"ApiKeyStore({str(self._path)!r})"

    @property
    def path(self) -> Path:
        """The store file."""
        return self._path

    def create(self, name: str, scope: Scope, now: datetime) -> tuple[ApiKey, str]:
        """Make a new key; return it and its token, the token's only copy.

        Raises:
            InvalidKeyName: ``name`` cannot name a key.
            ValueError: ``scope`` is not a scope, or ``now`` has no timezone.
            KeyStoreError: the file cannot be read or written.
        """
        problem = name_problem(name)
        if problem is not None:
            raise InvalidKeyName(problem)
        if scope not in SCOPES:
            raise ValueError(f"unknown scope {scope!r}: use {', '.join(SCOPES)}")
        created_at = _utc(now)
        with self._changing() as keys:
            key_id = secrets.token_hex(6)
            while key_id in keys:
                key_id = secrets.token_hex(6)
            token = f"{TOKEN_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
            key = ApiKey(key_id=key_id, name=name, scope=scope, created_at=created_at)
            keys[key_id] = _Entry(key, token_digest(token))
        return key, token

    def list(self) -> builtins.list[ApiKey]:
        """Every key, revoked ones included, oldest first.

        Raises:
            KeyStoreError: the file cannot be read.
        """
        with self._lock:
            return [entry.key for entry in self._read(force=False).values()]

    def revoke(self, key_id_or_name: str, now: datetime) -> ApiKey:
        """Revoke a key given by its id, its name or its token; return it, as revoked.

        A name picks among the keys not yet revoked, so ``revoke ci`` after rotating a key
        named ``ci`` revokes the new one. A key revoked before keeps its time of revocation.

        Raises:
            UnknownKey: no key, or several, answer to ``key_id_or_name``.
            ValueError: ``now`` has no timezone.
            KeyStoreError: the file cannot be read or written.
        """
        revoked_at = _utc(now)
        with self._changing() as keys:
            entry = _select(keys, key_id_or_name)
            if entry.key.revoked_at is None:
                revoked = entry.key.model_copy(update={"revoked_at": revoked_at})
                entry = keys[entry.key.key_id] = _Entry(revoked, entry.hash)
        return entry.key

    def authenticate(self, token: str) -> ApiKey | None:
        """The key ``token`` proves, or None for a wrong, malformed or revoked token.

        Raises:
            KeyStoreError: the file cannot be read (the caller must refuse the request).
        """
        parsed = token_key_id(token)
        if parsed is None:
            return None
        with self._lock:
            entry = self._read(force=False).get(parsed)
        # The secret is 256 random bits, so a plain SHA-256 cannot be reversed or guessed
        # faster than the secret itself: no slow KDF (which would cost every request) needed.
        if entry is None or not hmac.compare_digest(entry.hash, token_digest(token)):
            return None
        return None if entry.key.revoked else entry.key

    # The methods below run with self._lock held.

    def _read(self, *, force: bool) -> dict[str, _Entry]:
        try:
            if not force and _signature(os.stat(self._path)) == self._signature:
                return self._keys
            with open(self._path, "rb") as file:
                status = os.fstat(file.fileno())
                data = file.read()
        except FileNotFoundError:
            self._signature, self._keys = None, {}
            return self._keys
        except OSError as exc:
            raise KeyStoreError(
                f"API key store {self._path}: cannot read it ({_reason(exc)})"
            ) from None
        if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise KeyStoreError(
                f"API key store {self._path} has mode {stat.S_IMODE(status.st_mode):04o}: "
                "other users could add keys to it. Run `chmod 600` on it"
            )
        self._keys = _parse_store(self._path, data)
        self._signature = _signature(status)
        return self._keys

    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, _Entry]]:
        """A copy of the keys to change; written back on leaving unless unchanged or raised."""
        with self._lock:
            lock_path = self._path.with_name(self._path.name + ".lock")
            try:
                self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise KeyStoreError(
                    f"API key store {self._path}: cannot lock it ({_reason(exc)})"
                ) from None
            try:
                fcntl.flock(lock, fcntl.LOCK_EX)
                before = self._read(force=True)
                keys = dict(before)
                yield keys
                if keys != before:
                    self._write(keys)
            finally:
                os.close(lock)  # which releases the lock

    def _write(self, keys: dict[str, _Entry]) -> None:
        document = {"version": STORE_VERSION, "keys": [e.to_json() for e in keys.values()]}
        text = json.dumps(document, indent=2) + "\n"
        directory = self._path.parent
        try:
            # mkstemp creates the file with mode 0600 and in the same directory, so that
            # os.replace is atomic: a reader sees the old file or the new, never a part.
            fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{self._path.name}.")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    file.write(text)
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, self._path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
            directory_fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(directory_fd)  # so that the rename itself survives a crash
            finally:
                os.close(directory_fd)
            self._signature = _signature(os.stat(self._path))
        except OSError as exc:
            raise KeyStoreError(
                f"API key store {self._path}: cannot write it ({_reason(exc)})"
            ) from None
        self._keys = keys


def _utc(now: datetime) -> datetime:
    if now.utcoffset() is None:
        raise ValueError("now must carry a timezone")
    return now.astimezone(UTC)


def _signature(status: os.stat_result) -> _Signature:
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _select(keys: dict[str, _Entry], text: str) -> _Entry:
    # Messages quote what was given (repr: one line, whatever it holds) unless it is, or
    # looks like, a token: a token pasted here must not end up in a terminal's scrollback.
    key_id = token_key_id(text)
    if key_id is not None:
        if key_id in keys:
            return keys[key_id]
        raise UnknownKey(f"no key has the id {key_id} (the key id of the token given)")
    if text.startswith(TOKEN_PREFIX):
        raise UnknownKey("that is not a key id or name but looks like a token: give its key id")
    if text in keys:
        return keys[text]
    named = [entry for entry in keys.values() if entry.key.name == text]
    matches = [entry for entry in named if not entry.key.revoked] or named
    if not matches:
        raise UnknownKey(f"no key has the id or name {text!r}")
    if len(matches) > 1:
        ids = ", ".join(entry.key.key_id for entry in matches)
        raise UnknownKey(f"{len(matches)} keys are named {text!r} ({ids}): give the key id")
    return matches[0]


def _parse_store(path: Path, data: bytes) -> dict[str, _Entry]:
    where = f"API key store {path}"
    try:
        document = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise KeyStoreError(f"{where}: not a UTF-8 text file") from None
    except json.JSONDecodeError as exc:
        # exc.msg describes the syntax error without quoting the file's text.
        raise KeyStoreError(
            f"{where}: not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})"
        ) from None
    if not (isinstance(document, dict) and {"version", "keys"} <= document.keys()):
        raise KeyStoreError(
            f'{where}: not an API key store (expected a JSON object with "version" and "keys")'
        )
    version = document["version"]
    if version != STORE_VERSION or isinstance(version, bool):
        newer = isinstance(version, int) and not isinstance(version, bool) and version > 1
        raise KeyStoreError(
            f"{where}: store version {version} was written by a newer escalations; this one "
            f"reads version {STORE_VERSION}"
            if newer
            else f"{where}: unknown store version (this escalations reads {STORE_VERSION})"
        )
    if not isinstance(document["keys"], list):
        raise KeyStoreError(f'{where}: "keys" is not a list')
    keys: dict[str, _Entry] = {}
    for index, record in enumerate(document["keys"]):
        try:
            stored = _StoredKey.model_validate(record)
        except ValidationError as exc:
            error = exc.errors(include_input=False, include_url=False)[0]
            cause = error.get("ctx", {}).get("error")
            message = str(cause) if isinstance(cause, ValueError) else error["msg"]
            field_path = "".join(f".{part}" for part in error["loc"])
            raise KeyStoreError(f"{where}: keys[{index}]{field_path}: {message}") from None
        if stored.key_id in keys:
            raise KeyStoreError(f"{where}: keys[{index}]: key id {stored.key_id} repeats")
        public = ApiKey.model_validate(stored.model_dump(exclude={"hash"}))
        keys[stored.key_id] = _Entry(public, stored.hash)
    return keys
