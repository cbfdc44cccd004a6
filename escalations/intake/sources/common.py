"""What every source's reader needs: headers, HMAC checks, JSON fields read with their path."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from escalations.intake.events import PayloadError, SignatureError, SourceEvent

Headers = Mapping[str, str]
"""Request headers, names in lower case (as Starlette gives them)."""

_SURROGATE = re.compile("[\ud800-\udfff]")

MAX_TEXT = 500
"""Longest string value a reader keeps; longer ones are cut, never an error."""

MAX_HEADER = 200
"""Longest delivery id a reader takes from a header (the event's own limit)."""


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
        SignatureError: the header is missing, not ASCII, of another algorithm, or does not
            match.
    """
    given = header(headers, name)
    if given is None:
        raise SignatureError(f"missing {name} header")
    prefix, _, digest = given.partition("=")
    # A signature is ASCII; without this, strip() would pass a right digest wrapped in
    # no-break spaces, and other characters would only fail later as a mismatch.
    if not given.isascii() or prefix.strip().lower() != algorithm or not digest:
        raise SignatureError(f"{name} must be {algorithm}=<hex digest>")
    expected = hmac_hex(algorithm, secret, body)
    if not hmac.compare_digest(expected.encode(), digest.strip().lower().encode()):
        raise SignatureError(f"{name} does not match the body under the configured secret")


def body_digest(body: bytes) -> str:
    """A delivery id for sources that send none: a redelivered body is the same event."""
    return "sha256-" + hashlib.sha256(body).hexdigest()[:40]


def delivery_id(headers: Headers, name: str, body: bytes) -> str:
    """The delivery id in header ``name``, else (absent or blank) :func:`body_digest`.

    Raises:
        PayloadError: the header is longer than :data:`MAX_HEADER`; names the header.
    """
    given = clean((header(headers, name) or "").strip())
    if len(given) > MAX_HEADER:
        raise PayloadError(name, f"is longer than {MAX_HEADER} characters")
    return given or body_digest(body)


def payload_errors_only(
    read: Callable[[Headers, bytes], SourceEvent],
) -> Callable[[Headers, bytes], SourceEvent]:
    """Wrap a source's ``read`` so that a value the event model refuses is a bad payload.

    Every value is checked on the way in; this keeps a slip a 422 rather than a 500.
    """

    @functools.wraps(read)
    def guarded(headers: Headers, body: bytes) -> SourceEvent:
        try:
            return read(headers, body)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(map(str, first["loc"]))
            raise PayloadError("body", f"{where}: {first['msg']}") from None

    return guarded


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
        return clean(value[:MAX_TEXT])
    return value


def clean(value: str) -> str:
    """``value`` with each lone UTF-16 surrogate (JSON's ``"\\ud800"``, a string cut inside an
    emoji) replaced by U+FFFD: it is no character, and pydantic would refuse it."""
    return _SURROGATE.sub("\ufffd", value)


def text(data: Mapping[str, Any], path: str, *, required: bool = False) -> str | None:
    """A string (or number, as text) at ``path``; blank strings read as None."""
    value = field(data, path, (str, int), required=required)
    if value is None:
        return None
    value = str(value).strip()
    if not value and required:
        raise PayloadError(path, "must not be blank")
    return value or None


def strings(data: Mapping[str, Any], path: str, most: int) -> tuple[str, ...]:
    """The list of strings at ``path`` (labels, tags): the first ``most``, each stripped, cut
    and cleaned as :func:`field` does, blank ones left out.

    Raises:
        PayloadError: not a list, or an element is not a string; names the element.
    """
    given = field(data, path, list, required=False) or []
    kept: list[str] = []
    for index, value in enumerate(given[:most]):
        if not isinstance(value, str):
            raise PayloadError(f"{path}[{index}]", "must be a string")
        if value.strip():
            kept.append(clean(value.strip()[:MAX_TEXT]))
    return tuple(kept)


def time_at(data: Mapping[str, Any], path: str) -> datetime:
    """The ISO-8601 time (with an offset) at ``path``, as an aware UTC time.

    Raises:
        PayloadError: missing, not a string, or not such a time; names ``path``.
    """
    return parse_time(field(data, path, str), path)


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
