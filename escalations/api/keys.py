"""The HTTP API's keys: scoped, stored as hashes, managed with ``escalations api-key``.

A token is ``esk_<key id>_<secret>``. The key id (12 hex digits) names the key in lists, logs
and ``revoke``; the secret (32 random bytes, URL-safe base64) is what proves it. The store file
keeps each token's SHA-256, never the token, which is shown once, when the key is created.

The server calls :meth:`ApiKeyStore.authenticate` on every request. The store keeps the keys in
memory and reads the file again only when it changed, so a key revoked with ``escalations
api-key revoke`` is refused from a running server's next request, without a restart.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
"""Every scope, least first: each includes the ones before it."""
_RANK = {scope: rank for rank, scope in enumerate(SCOPES)}

STORE_VERSION = 1
NAME_MAX_LENGTH = 64
TOKEN_PREFIX = "esk_"
# 32 random bytes are 43 characters of unpadded URL-safe base64: every token is 60 long, so a
# wrong length is refused before any other work (a header may be arbitrarily long).
_TOKEN = re.compile(r"esk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
TOKEN_LENGTH = 60
_KEY_ID = re.compile(r"[0-9a-f]{12}")
# ASCII only: a label must read the same in every terminal (no look-alike or bidi letters).
_NAME = re.compile(r"[A-Za-z0-9._-](?:[A-Za-z0-9._ -]*[A-Za-z0-9._-])?")


class KeyStoreError(Exception):
    """The key store file cannot be read or written; the message names the file."""


class UnknownKey(LookupError):
    """No key, or more than one, answers to the key id or name given."""


class InvalidKeyName(ValueError):
    """A key name that cannot be used; the message says why without quoting it."""


def allows(granted: Scope, needed: Scope) -> bool:
    """Whether a key granted ``granted`` may do what needs ``needed`` (admin > write > read)."""
    return _RANK[granted] >= _RANK[needed]


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a key, or None when it can.

    The message never quotes the name: it may hold control characters or a pasted token.
    """
    if not name:
        return "a key name cannot be empty"
    if len(name) > NAME_MAX_LENGTH:
        return f"a key name has at most {NAME_MAX_LENGTH} characters, not {len(name)}"
    if any(ord(char) < 32 or 127 <= ord(char) < 160 for char in name):
        return "a key name cannot contain control characters (a newline, a tab, an escape)"
    if not _NAME.fullmatch(name):
        return (
            "a key name has ASCII letters, digits, '.', '_', '-' and spaces, "
            "and no space at either end"
        )
    if _KEY_ID.fullmatch(name):
        return "a key name of 12 hex digits would read as a key id: add a letter or a '-'"
    return None


class ApiKey(BaseModel):
    """One API key as people and the server see it: neither its token nor the token's hash."""

    # Pydantic's messages quote the input: a record read from the file may hold a hash.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    key_id: str = Field(pattern=r"^[0-9a-f]{12}$")
    name: str
    scope: Scope
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("created_at", "revoked_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked: it then allows nothing."""
        return self.revoked_at is not None

    def allows(self, needed: Scope) -> bool:
        """Whether this key, unless revoked, may do what needs ``needed``."""
        return not self.revoked and allows(self.scope, needed)


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
            keys[key_id] = _Entry(key, _digest(token))
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
        parsed = _parse_token(token)
        if parsed is None:
            return None
        with self._lock:
            entry = self._read(force=False).get(parsed)
        # The secret is 256 random bits, so a plain SHA-256 cannot be reversed or guessed
        # faster than the secret itself: no slow KDF (which would cost every request) needed.
        if entry is None or not hmac.compare_digest(entry.hash, _digest(token)):
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


def _parse_token(token: object) -> str | None:
    """The key id of a well-formed token, else None (never raises)."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return None
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


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
    key_id = _parse_token(text)
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
