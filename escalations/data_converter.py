"""The data converter every client and worker of this service uses: plain JSON via pydantic.

It differs from ``temporalio.contrib.pydantic.pydantic_data_converter`` in one way: a payload
that fails validation raises a non-retryable ``ApplicationError`` of type ``InvalidInput`` that
names each bad field. The SDK passes such failures through instead of wrapping them in a bare
"Failed decoding arguments", so a malformed update is rejected with a message the caller can
act on, and a malformed ticket fails its workflow at once rather than retrying its first
workflow task forever.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

INVALID_INPUT = "InvalidInput"


def describe_validation_error(exc: ValidationError, what: str) -> str:
    """``what: field.path: problem; other.field: problem``, short enough for a terminal."""
    problems = []
    for err in exc.errors(include_url=False, include_input=False)[:10]:
        path = ".".join(str(p) for p in err["loc"]) or "(whole value)"
        problems.append(f"{path}: {err['msg'].removeprefix('Value error, ')}")
    return f"invalid {what}: " + "; ".join(problems)


class _ReadableJSONConverter(PydanticJSONPlainPayloadConverter):
    def from_payload(self, payload: Payload, type_hint: type | None = None) -> Any:
        try:
            return super().from_payload(payload, type_hint)
        except ValidationError as exc:
            what = getattr(type_hint, "__name__", None) or "input"
            raise ApplicationError(
                describe_validation_error(exc, what), type=INVALID_INPUT, non_retryable=True
            ) from None


class ReadablePayloadConverter(PydanticPayloadConverter):
    """Pydantic JSON conversion whose validation errors name the fields."""

    def __init__(self) -> None:
        super().__init__()
        readable = _ReadableJSONConverter()
        self.converters = {
            encoding: readable if isinstance(conv, PydanticJSONPlainPayloadConverter) else conv
            for encoding, conv in self.converters.items()
        }


data_converter = DataConverter(payload_converter_class=ReadablePayloadConverter)
"""Pass this as ``data_converter`` to every Client and test environment."""
