"""What every source's reader needs: headers, HMAC checks, JSON fields read with their path."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from escalations.intake.events import PayloadError, SignatureError

Headers = Mapping[str, str]
"""Request headers, names in lower case (as Starlette gives them)."""

_SURROGATE = re.compile("[\ud800-\udfff]")

MAX_TEXT = 500
"""Longest string value a reader keeps; longer ones are cut, never an error."""


def header(headers: Headers, name: str) -> str | None:
    """The header ``name`` (any case), or None."""
    return headers.get(name.lower())


def hmac_hex(algorithm: str, secret: bytes, message: bytes) -> str:
    """Lower-case hex HMAC of ``message`` under ``secret`` (``sha1``, ``sha256``)."""
    return hmac.new(secret, message, algorithm).hexdigest()


def check_prefixed_hex(
    headers: Headers, name: str, algorithm: str, secret: bytes, body: bytes
) -> None:
    """Verify a ``<algorithm>=<hex>`` signature header (GitHub, Jira, Zammad).

    Raises:
        SignatureError: the header is missing, of another algorithm, or does not match.
    """
    given = header(headers, name)
    if given is None:
        raise SignatureError(f"missing {name} header")
    prefix, _, digest = given.partition("=")
    if prefix.strip().lower() != algorithm or not digest:
        raise SignatureError(f"{name} must be {algorithm}=<hex digest>")
    expected = hmac_hex(algorithm, secret, body)
    given_digest = digest.strip().lower().encode("latin-1", "replace")
    if not hmac.compare_digest(expected.encode(), given_digest):
        raise SignatureError(f"{name} does not match the body under the configured secret")


def body_digest(body: bytes) -> str:
    """A delivery id for sources that send none: a redelivered body is the same event."""
    return "sha256-" + hashlib.sha256(body).hexdigest()[:40]


def load_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object.

    Raises:
        PayloadError: not UTF-8 JSON, or not an object.
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise PayloadError("body", f"not a JSON document ({err})") from None
    except (ValueError, RecursionError):
        # An integer of thousands of digits, or arrays nested past the parser's stack.
        raise PayloadError("body", "a JSON document beyond this reader's limits") from None
    if not isinstance(data, dict):
        raise PayloadError("body", f"must be a JSON object, not {type(data).__name__}")
    return data


def field(
    data: Mapping[str, Any], path: str, kind: type | tuple[type, ...], *, required: bool = True
) -> Any:
    """The value at dotted ``path`` (``issue.fields.status.name``), checked to be ``kind``.

    ``None`` (or a missing key) is returned as None unless ``required``.

    Raises:
        PayloadError: missing when required, or of another type; names ``path``.
    """
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            value = None
            break
        value = value[part]
    if value is None:
        if required:
            raise PayloadError(path, "is required")
        return None
    # bool is an int in Python; a flag where a number belongs (or the reverse) is still wrong.
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise PayloadError(path, f"must be {_names(kinds)}, not a boolean")
    if not isinstance(value, kinds):
        raise PayloadError(path, f"must be {_names(kinds)}, not {type(value).__name__}")
    if isinstance(value, str):
        # A lone UTF-16 surrogate (JSON's "\ud800") is no character: pydantic would refuse it.
        return _SURROGATE.sub("\ufffd", value[:MAX_TEXT])
    return value


def text(data: Mapping[str, Any], path: str, *, required: bool = False) -> str | None:
    """A string (or number, as text) at ``path``; blank strings read as None."""
    value = field(data, path, (str, int), required=required)
    if value is None:
        return None
    value = str(value).strip()
    if not value and required:
        raise PayloadError(path, "must not be blank")
    return value or None


def parse_time(value: str | int | float, path: str) -> datetime:
    """An ISO-8601 time with an offset, or epoch milliseconds (Jira), as an aware UTC time.

    Raises:
        PayloadError: anything else, or a time without a zone.
    """
    if isinstance(value, bool):
        raise PayloadError(path, "must be a time, not a boolean")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise PayloadError(path, f"{value!r} is not a time in epoch milliseconds") from None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(path, f"{value[:60]!r} is not an ISO-8601 time") from None
    if parsed.tzinfo is None:
        raise PayloadError(path, f"{value[:60]!r} has no time zone offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise PayloadError(path, f"{value[:60]!r} is out of range") from None


def _names(kinds: tuple[type, ...]) -> str:
    words = {
        str: "a string",
        int: "a number",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "an object",
    }
    return " or ".join(dict.fromkeys(words.get(k, k.__name__) for k in kinds))
