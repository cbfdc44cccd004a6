"""The contract's models, without a server: hostile values validate or fail naming the field.

Nothing but a pydantic ``ValidationError`` may come out of a model: any other exception would
escape the data converter's translation and fail a workflow task instead of the request.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from pydantic import BaseModel, ValidationError

from tests.hostile.strategies import (
    UPDATES,
    VALID_TICKET,
    Mutant,
    assert_names_the_field,
    expected_message,
    hostile_settings,
    python_values,
    ticket_mutants,
    update_mutants,
)
from workflows.ticket_messages import PauseRequest, TicketInput


def validate_or_name(model: type[BaseModel], mutant: Mutant) -> None:
    try:
        model.model_validate(mutant.value)
    except ValidationError as exc:
        message = expected_message(exc, model)
        assert message.startswith(f"invalid {model.__name__}: ")
        assert_names_the_field(exc, message, mutant)


@hostile_settings(400)
@given(mutant=ticket_mutants(python_values))
def test_ticket_input_validates_or_names_the_field(mutant: Mutant) -> None:
    validate_or_name(TicketInput, mutant)


@hostile_settings(400)
@given(update=update_mutants(python_values))
def test_update_arguments_validate_or_name_the_field(update: tuple[str, Mutant]) -> None:
    name, mutant = update
    validate_or_name(UPDATES[name][0], mutant)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        # "$" in a regex also matches before a final newline: these all used to pass.
        ("ticket_id", "T-1\n"),
        ("priority", "P1\n"),
        ("team", "payments\n"),
        ("policy", "default\n"),
        ("requester", "buyer@acme.example\n"),
        ("assignee", "agent@example.com\n"),
        # Line breaks and controls outside ASCII in one-line fields.
        ("title", "Checkout\u2028down"),
        ("title", "Checkout\x85down"),
        ("customer", "Acme\x9b31m"),
        # The wrong shape deep inside the internal state: a ValidationError, not a TypeError.
        ("continued", {"policy": {"levels": [{"when": 5}]}}),
        ("continued", {"policy": {"levels": [{"when": ["clock"]}]}}),
    ],
)
def test_known_hostile_values_are_rejected_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as failure:
        TicketInput.model_validate(VALID_TICKET | {field: value})
    assert f"{field}" in expected_message(failure.value, TicketInput).split(": ", 1)[1]


def test_a_multi_line_note_is_still_accepted() -> None:
    # Only one-line fields refuse line breaks: a resolution note may have paragraphs.
    note = UPDATES["resolve"][0].model_validate({"by": "Ann", "note": "Fixed.\n\nDetails\u2028"})
    assert note.model_dump()["note"].startswith("Fixed.\n")


def test_pause_reason_at_its_limit_is_accepted_and_one_more_is_not() -> None:
    assert PauseRequest(reason="\U0001d538" * 500).reason
    with pytest.raises(ValidationError, match="reason"):
        PauseRequest(reason="x" * 501)
