"""A helpdesk ticket's tags and custom fields, as the ticket's tags and attributes here.

Pure, like :mod:`escalations.intake.translate`, which calls it. Tags and field values are
whatever the helpdesk's users typed, so nothing here fails a delivery: a tag the contract would
refuse (a space, a control character, 65 characters) is left out and named in the plan's
skipped notes, and a field's value is flattened to one line of text and cut. Both stay off
until the mapping turns them on (``tags: true``, ``attributes: {...}``), so a mapping without
them sends exactly the requests it sent before.
"""

from __future__ import annotations

import dataclasses
import math
import re

from pydantic import TypeAdapter, ValidationError

from escalations.intake.events import Change, SourceTicket
from escalations.intake.mapping import Mapping
from workflows.ticket_messages import (
    MAX_TAGS,
    AttributeValue,
    Tag,
    UpdateAttributesRequest,
)

MAX_VALUE = 200
"""Longest attribute value kept: :data:`~workflows.ticket_messages.AttributeValue`'s bound."""

MAX_QUOTED = 5
"""Most source values one skipped note quotes; the rest are counted."""

_TAG: TypeAdapter[str] = TypeAdapter(Tag)
_VALUE: TypeAdapter[str] = TypeAdapter(AttributeValue)
# What breaks a line or a terminal, as the contract's one-line text refuses it; the rest of the
# white space is folded by str.split().
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Integers a float holds exactly: beyond, "1e+300" says more than 300 digits would.
_EXACT_FLOAT = 2.0**53


@dataclasses.dataclass(frozen=True)
class Carried:
    """What a delivery says of the ticket's tags and attributes, under the mapping.

    Attributes:
        tags: The tags to give the ticket, or None when the mapping does not carry tags.
        attributes: Each mapped attribute's value; None where the field is absent or empty.
        skipped: What was left out, and why.
    """

    tags: list[str] | None
    attributes: dict[str, str | None]
    skipped: tuple[str, ...]

    def opening(self) -> dict[str, object]:
        """The ``tags`` and ``attributes`` of the :class:`TicketInput`: only what the mapping
        carries, so a mapping that carries nothing opens tickets exactly as before."""
        values: dict[str, object] = {}
        if self.tags is not None:
            values["tags"] = self.tags
        present = {name: value for name, value in self.attributes.items() if value is not None}
        if present:
            values["attributes"] = present
        return values


def carried(ticket: SourceTicket, mapping: Mapping) -> Carried:
    """The tags and mapped attributes of ``ticket``, as the contract takes them."""
    tags, tag_notes = valid_tags(ticket.tags) if mapping.tags else (None, [])
    attributes, field_notes = mapped_attributes(ticket, mapping)
    return Carried(tags, attributes, tuple(tag_notes + field_notes))


def update_request(
    ticket: SourceTicket, mapping: Mapping, changed: frozenset[Change]
) -> tuple[UpdateAttributesRequest | None, tuple[str, ...]]:
    """The ``update_attributes`` a change asks for, with its skipped notes; None when the
    change touches nothing the mapping carries.

    The tags are sent when the event says they changed, the attributes when it says fields
    did: each as the delivery has them now, so the update replaces the ticket's tags and sets
    (or, where the field is now empty, removes) each mapped attribute. A part the event does
    not say changed is left alone, so a delivery that carries it partly cannot undo it.
    """
    send_tags = mapping.tags and "tags" in changed
    send_attributes = bool(mapping.attributes) and "fields" in changed
    if not (send_tags or send_attributes):
        return None, ()
    tags, tag_notes = valid_tags(ticket.tags) if send_tags else (None, [])
    attributes, field_notes = mapped_attributes(ticket, mapping) if send_attributes else ({}, [])
    request = UpdateAttributesRequest(tags=tags, attributes=attributes)
    return request, tuple(tag_notes + field_notes)


def mapped_attributes(
    ticket: SourceTicket, mapping: Mapping
) -> tuple[dict[str, str | None], list[str]]:
    """Each attribute the mapping names, from its field (None: absent or empty); and notes on
    the values that could not be used."""
    attributes: dict[str, str | None] = {}
    notes: list[str] = []
    for name, source_field in mapping.attributes.items():
        attributes[name], note = attribute_value(ticket.fields.get(source_field), source_field)
        if note is not None:
            notes.append(note)
    return attributes, notes


def valid_tags(tags: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The tags valid here, first spelling of each (ignoring case) and at most
    :data:`~workflows.ticket_messages.MAX_TAGS`; and notes on those left out."""
    kept: list[str] = []
    invalid: list[str] = []
    seen: set[str] = set()
    beyond = 0
    for given in tags:
        try:
            tag = _TAG.validate_python(given)
        except ValidationError:
            invalid.append(given)
            continue
        if tag.casefold() in seen:
            continue
        seen.add(tag.casefold())
        if len(kept) < MAX_TAGS:
            kept.append(tag)
        else:
            beyond += 1
    notes = []
    if invalid:
        notes.append(
            f"tags that are not valid here (1-64 letters, digits, '_', ':', '.', '/', '+' or "
            f"'-', no spaces) left out: {_quoted(invalid)}"
        )
    if beyond:
        notes.append(f"tags beyond the first {MAX_TAGS} left out: {beyond}")
    return kept, notes


def attribute_value(value: object, source_field: str) -> tuple[str | None, str | None]:
    """A field's value as an attribute's: one line of at most :data:`MAX_VALUE` characters, or
    None for a field absent or empty; and a note when the value could not be used."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        if abs(value) >= 10**MAX_VALUE:
            return (
                None,
                f"field {source_field[:60]!r}: a number of over {MAX_VALUE} digits; left out",
            )
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None, f"field {source_field[:60]!r}: {value!r} is not a value; left out"
        exact = value.is_integer() and abs(value) < _EXACT_FLOAT
        text = str(int(value)) if exact else repr(value)
    elif isinstance(value, str):
        text = " ".join(_CONTROL.sub(" ", value).split())[:MAX_VALUE].rstrip()
    else:
        # The reader's types allow none of these; a value built another way is still data.
        return None, f"field {source_field[:60]!r} is not text, a number or a flag; left out"
    if not text:
        return None, None
    try:
        return _VALUE.validate_python(text), None
    except ValidationError:
        return None, f"field {source_field[:60]!r}: {text[:40]!r} is no attribute value; left out"


def _quoted(values: list[str]) -> str:
    shown = ", ".join(repr(value[:40]) for value in values[:MAX_QUOTED])
    more = len(values) - MAX_QUOTED
    return f"{shown} and {more} more" if more > 0 else shown


__all__ = [
    "MAX_QUOTED",
    "MAX_VALUE",
    "Carried",
    "attribute_value",
    "carried",
    "mapped_attributes",
    "update_request",
    "valid_tags",
]
