"""The HTTP API's keys: scoped, stored as hashes, managed with ``escalations api-key``.

A token is ``esk_<key id>_<secret>``. The key id (12 hex digits) names the key in lists, logs
and ``revoke``; the secret (32 random bytes, URL-safe base64) is what proves it. The store file
keeps each token's SHA-256, never the token, which is shown once, when the key is created.

:class:`escalations.api.key_store.ApiKeyStore` keeps them; the server asks it on every request.
It keeps the keys in memory and reads the file again only when it changed, so a key revoked
with ``escalations api-key revoke`` is refused from a running server's next request, without a
restart.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

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


def token_key_id(token: object) -> str | None:
    """The key id of a well-formed token, else None (never raises)."""
    if not isinstance(token, str) or len(token) != TOKEN_LENGTH:
        return None
    match = _TOKEN.fullmatch(token)
    return match.group(1) if match else None


def token_digest(token: str) -> str:
    """What the store keeps of a token: its hex SHA-256."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()
