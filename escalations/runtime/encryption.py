"""Payload encryption: the codec that keeps ticket data away from the Temporal server.

Every payload a client or worker of this service writes (ticket inputs, update arguments,
activity results, statuses, summaries, failure messages) is serialized and sealed with
AES-256-GCM before it leaves the process, so the server, its database and the Web UI hold only
ciphertext. An encrypted payload names its key in its metadata; a process holds every key
that is still in use and encrypts with the newest, so keys rotate without rewriting history.

Payloads that are not encrypted pass through decoding unchanged: histories written before
encryption was turned on keep replaying, and other services may still start tickets with plain
JSON.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
KEY_ID_RULE = "1-64 letters, digits, '.', '_' or '-'"


class InvalidKey(ValueError):
    """A key definition that cannot be used. The message never contains key material."""


class DecryptionError(ValueError):
    """An encrypted payload that cannot be decrypted: unknown key id, or altered data."""


@dataclass(frozen=True)
class EncryptionKey:
    """One AES-256 key and the id payloads name it by.

    Attributes:
        key_id: Written into every payload this key encrypts; not secret.
        secret: The 32 key bytes. Never shown by ``repr``.
    """

    key_id: str
    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not KEY_ID_PATTERN.fullmatch(self.key_id):
            raise InvalidKey(f"a key id must be {KEY_ID_RULE}")
        if len(self.secret) != KEY_BYTES:
            raise InvalidKey(
                f"key {self.key_id!r} is {len(self.secret)} bytes long: AES-256 needs "
                f"{KEY_BYTES} random bytes (make one with `escalations codec-key`)"
            )

    def __repr__(self) -> str:
        return f"EncryptionKey(key_id={self.key_id!r}, secret=<hidden>)"

    @classmethod
    def from_text(cls, key_id: str, encoded: str) -> EncryptionKey:
        """A key from its id and its standard base64 text (``openssl rand -base64 32``).

        Raises:
            InvalidKey: a bad id, text that is not base64, or a key that is not 32 bytes.
        """
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise InvalidKey(f"a key id must be {KEY_ID_RULE}")
        try:
            secret = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidKey(f"key {key_id!r} is not valid base64") from None
        return cls(key_id, secret)

    def to_line(self) -> str:
        """``<key id> <base64 key>``: one line of a key file."""
        return f"{self.key_id} {base64.b64encode(self.secret).decode('ascii')}"


def generate_key(key_id: str | None = None) -> EncryptionKey:
    """A new random key; its id defaults to today's UTC date (``2026-06-01``)."""
    return EncryptionKey(key_id or datetime.now(UTC).date().isoformat(), os.urandom(KEY_BYTES))


def check_key_ring(keys: Sequence[EncryptionKey]) -> tuple[EncryptionKey, ...]:
    """``keys`` as a tuple, oldest first, after checking that their ids are unique.

    Raises:
        InvalidKey: two keys share an id.
    """
    seen: set[str] = set()
    for key in keys:
        if key.key_id in seen:
            raise InvalidKey(f"key id {key.key_id!r} is listed twice")
        seen.add(key.key_id)
    return tuple(keys)


def parse_inline_keys(text: str) -> tuple[EncryptionKey, ...]:
    """Keys from ``id:base64,id2:base64``; the last one is the newest.

    Raises:
        InvalidKey: naming the entry by position, never quoting its key.
    """
    keys = []
    for number, entry in enumerate(text.split(","), start=1):
        key_id, sep, encoded = entry.strip().partition(":")
        if not sep or not key_id.strip() or not encoded.strip():
            raise InvalidKey(f"entry {number} is not `<key id>:<base64 key>`")
        try:
            keys.append(EncryptionKey.from_text(key_id.strip(), encoded))
        except InvalidKey as exc:
            raise InvalidKey(f"entry {number}: {exc}") from None
    return check_key_ring(keys)


def parse_key_file(lines: Iterable[str]) -> tuple[EncryptionKey, ...]:
    """Keys from the lines of a key file: ``<key id> <base64 key>`` per line, ``#`` comments.

    The last key listed is the newest and encrypts; the others only decrypt.

    Raises:
        InvalidKey: naming the line by number, never quoting its key.
    """
    keys = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise InvalidKey(f"line {number} is not `<key id> <base64 key>`")
        try:
            keys.append(EncryptionKey.from_text(parts[0], parts[1]))
        except InvalidKey as exc:
            raise InvalidKey(f"line {number}: {exc}") from None
    if not keys:
        raise InvalidKey("it holds no keys")
    return check_key_ring(keys)


class EncryptionCodec(PayloadCodec):
    """Encrypts payloads with the newest key; decrypts with whichever key a payload names.

    An encrypted payload has metadata ``encoding: binary/encrypted`` and ``encryption-key-id``,
    and data ``nonce (12 bytes) || AES-GCM(serialized inner payload)``. The key id is the
    ciphertext's associated data, so relabelling a payload with another id fails to decrypt
    rather than yielding garbage.

    Args:
        keys: Oldest first; the last one encrypts. At least one.
    """

    def __init__(self, keys: Sequence[EncryptionKey]) -> None:
        ring = check_key_ring(keys)
        if not ring:
            raise InvalidKey("the codec needs at least one key")
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in ring}
        self._current = ring[-1].key_id
        self._current_cipher = self._ciphers[self._current]

    def __repr__(self) -> str:
        return f"EncryptionCodec(encrypts_with={self._current!r}, keys={list(self._ciphers)!r})"

    @property
    def key_id(self) -> str:
        """The id of the key new payloads are encrypted with."""
        return self._current

    def encrypt(self, payload: Payload) -> Payload:
        """``payload`` sealed with the newest key."""
        nonce = os.urandom(NONCE_BYTES)
        key_id = self._current.encode()
        sealed = self._current_cipher.encrypt(nonce, payload.SerializeToString(), key_id)
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID_METADATA: key_id}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        """The payload ``payload`` seals; a payload that is not encrypted, unchanged.

        Raises:
            DecryptionError: the payload names no key or a key this process does not hold,
                or its bytes were altered.
        """
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        raw_id = payload.metadata.get(KEY_ID_METADATA)
        if raw_id is None:
            raise DecryptionError(f"encrypted payload has no {KEY_ID_METADATA} metadata")
        key_id = raw_id.decode("utf-8", errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(
                f"payload encrypted with key {key_id[:64]!r}, which this process does not "
                f"hold (it has {', '.join(sorted(self._ciphers))}): add that key to "
                "ESCALATIONS_ENCRYPTION_KEYS or ESCALATIONS_ENCRYPTION_KEY_FILE"
            )
        data = payload.data
        if len(data) <= NONCE_BYTES:
            raise DecryptionError(f"payload encrypted with key {key_id!r} is truncated")
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], raw_id)
            return Payload.FromString(plain)
        except (InvalidTag, DecodeError):
            raise DecryptionError(
                f"payload encrypted with key {key_id!r} failed authentication: it was "
                "altered, or a different key has that id"
            ) from None

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt each payload with the newest key."""
        return [self.encrypt(payload) for payload in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt each encrypted payload; pass the others through."""
        return [self.decrypt(payload) for payload in payloads]
