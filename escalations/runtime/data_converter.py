"""The data converter every client and worker of this service uses: plain JSON via pydantic.

It differs from ``temporalio.contrib.pydantic.pydantic_data_converter`` in one way: a payload
that fails validation raises a non-retryable ``ApplicationError`` of type ``InvalidInput`` that
names each bad field. The SDK passes such failures through instead of wrapping them in a bare
"Failed decoding arguments", so a malformed update is rejected with a message the caller can
act on, and a malformed ticket fails its workflow at once rather than retrying its first
workflow task forever.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import PydanticJSONPlainPayloadConverter, PydanticPayloadConverter
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    EncodingPayloadConverter,
)
from temporalio.exceptions import ApplicationError, FailureError

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


def _model_hint(type_hint: Any) -> type[BaseModel] | None:
    return type_hint if isinstance(type_hint, type) and issubclass(type_hint, BaseModel) else None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return "binary data" if isinstance(value, bytes) else type(value).__name__


@functools.cache
def _shared_encoders() -> tuple[EncodingPayloadConverter, ...]:
    """The pydantic converter's encoders with field-naming JSON; stateless but for the JSON
    encoder's (thread-safe) type-adapter cache, so one set serves every converter."""
    readable = _ReadableJSONConverter()
    return tuple(
        readable if isinstance(encoder, PydanticJSONPlainPayloadConverter) else encoder
        for encoder in PydanticPayloadConverter().converters.values()
    )


class ReadablePayloadConverter(PydanticPayloadConverter):
    """Pydantic JSON conversion whose validation errors name the fields."""

    def __init__(self) -> None:
        # The SDK builds a payload converter for every workflow activation. Built from the
        # shared encoders, that is one dict; built afresh, it was two JSON serialisers and an
        # empty type-adapter cache each time (about 1 ms of a storm ticket's worker CPU).
        CompositePayloadConverter.__init__(self, *_shared_encoders())

    def from_payloads(
        self, payloads: Sequence[Payload], type_hints: list[type] | None = None
    ) -> list[Any]:
        """Decode ``payloads``; where a model is expected, anything else is ``InvalidInput``.

        Only JSON goes through pydantic: a ``null``, raw bytes or an unknown encoding would
        otherwise reach a workflow or handler as ``None`` or ``bytes``, and the
        ``AttributeError`` that follows fails its workflow task on every retry.
        """
        models = [_model_hint(hint) for hint in type_hints or []]
        try:
            values = super().from_payloads(payloads, type_hints)
        except FailureError:
            raise
        except Exception as exc:
            model = next((m for m in models if m is not None), None)
            if model is None:
                raise
            raise ApplicationError(
                f"invalid {model.__name__}: (whole value): cannot decode the payload: {exc}",
                type=INVALID_INPUT,
                non_retryable=True,
            ) from None
        for value, model in zip(values, models, strict=False):
            if model is not None and not isinstance(value, model):
                raise ApplicationError(
                    f"invalid {model.__name__}: (whole value): a JSON object is required, "
                    f"got {_kind(value)}",
                    type=INVALID_INPUT,
                    non_retryable=True,
                )
        return values


data_converter = DataConverter(payload_converter_class=ReadablePayloadConverter)
"""Pass this as ``data_converter`` to every Client and test environment."""
