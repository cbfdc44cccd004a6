"""The data converter, where raw payloads from any client become the contract's models.

A payload that is not a valid model must become a non-retryable ``ApplicationError`` of type
``InvalidInput`` naming the field: that is what fails a malformed ticket at once, and rejects a
malformed update, instead of failing a workflow task on every retry.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from pydantic import BaseModel, ValidationError
from temporalio.api.common.v1 import Payload
from temporalio.exceptions import ApplicationError

from escalations.runtime.data_converter import INVALID_INPUT, data_converter
from tests.hostile.strategies import (
    MODELS,
    UPDATES,
    VALID_TICKET,
    Mutant,
    assert_names_the_field,
    expected_message,
    hostile_settings,
    ticket_mutants,
    update_mutants,
)
from workflows.ticket_messages import TicketInput, TicketStatus


def json_payload(data: bytes) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=data)


def decode(payload: Payload, model: type[BaseModel]) -> object:
    [value] = data_converter.payload_converter.from_payloads([payload], [model])
    return value


def decodes_or_names_the_field(model: type[BaseModel], mutant: Mutant) -> None:
    payload = json_payload(json.dumps(mutant.value).encode())
    error: ValidationError | None = None
    try:
        expected = model.model_validate_json(payload.data)
    except ValidationError as exc:
        error = exc
    if error is None:
        assert decode(payload, model) == expected
        return
    with pytest.raises(ApplicationError) as failure:
        decode(payload, model)
    assert failure.value.type == INVALID_INPUT
    assert failure.value.non_retryable
    assert failure.value.message == expected_message(error, model)
    assert_names_the_field(error, failure.value.message, mutant)


@hostile_settings(300)
@given(mutant=ticket_mutants())
def test_raw_ticket_json_decodes_or_is_invalid_input(mutant: Mutant) -> None:
    decodes_or_names_the_field(TicketInput, mutant)


@hostile_settings(300)
@given(update=update_mutants())
def test_raw_update_json_decodes_or_is_invalid_input(update: tuple[str, Mutant]) -> None:
    name, mutant = update
    decodes_or_names_the_field(UPDATES[name][0], mutant)


@pytest.mark.parametrize("model", [*MODELS.values(), TicketStatus], ids=lambda m: m.__name__)
@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(Payload(metadata={"encoding": b"binary/null"}), id="null"),
        pytest.param(Payload(metadata={"encoding": b"binary/plain"}, data=b"\x00x"), id="bytes"),
        pytest.param(Payload(metadata={"encoding": b"text/yaml"}, data=b"a: 1"), id="unknown"),
        pytest.param(
            Payload(metadata={"encoding": b"json/protobuf", "messageType": b"no.Such"}, data=b"{}"),
            id="protobuf",
        ),
        pytest.param(json_payload(b"null"), id="json-null"),
        pytest.param(json_payload(b"[]"), id="json-list"),
        pytest.param(json_payload(b'{"title": '), id="truncated-json"),
        pytest.param(json_payload(b"\xff\xfe"), id="not-utf8"),
        pytest.param(json_payload(b'{"title": "\\ud800"}'), id="lone-surrogate"),
    ],
)
def test_anything_but_a_json_object_is_invalid_input(
    payload: Payload, model: type[BaseModel]
) -> None:
    # Before the fix, a null or bytes payload reached the workflow as None or bytes, and the
    # AttributeError that followed failed its workflow task on every retry.
    with pytest.raises(ApplicationError) as failure:
        decode(payload, model)
    assert failure.value.type == INVALID_INPUT
    assert failure.value.non_retryable
    assert failure.value.message.startswith(f"invalid {model.__name__}: (whole value): ")


def test_a_field_that_is_not_valid_json_text_is_named_by_position() -> None:
    # A lone surrogate is not valid JSON, so the parser refuses the whole document before
    # any field is read; its message gives the position instead.
    raw = json.dumps(VALID_TICKET | {"title": "\ud800"}).encode()
    with pytest.raises(ApplicationError, match=r"\(whole value\): Invalid JSON: .* column \d+"):
        decode(json_payload(raw), TicketInput)


def test_values_without_a_model_hint_decode_as_before() -> None:
    # Only arguments typed as a model are checked: untyped payloads stay plain values.
    null = Payload(metadata={"encoding": b"binary/null"})
    assert data_converter.payload_converter.from_payloads([null], None) == [None]
    optional: Any = str | None
    assert data_converter.payload_converter.from_payloads([null], [optional]) == [None]
