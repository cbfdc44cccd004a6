"""Our webhook body template, as Zendesk triggers and Freshdesk rules send it.

Both helpdesks let the admin write the webhook's JSON, so both send the shape of our own
templates (``escalations/intake/templates/``): ``event``, ``changed``, ``at``, ``ticket`` and
``comment``, every value as the helpdesk's placeholders render it. What differs is the source
module's to say: where the delivery id comes from, how the time and the tags render, and how the
body tells who wrote a comment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from escalations.intake.events import (
    Change,
    FieldValue,
    PayloadError,
    SourceComment,
    SourceEvent,
    SourceTicket,
)
from escalations.intake.sources.common import MAX_TEXT, clean, field, load_object, text

EVENTS: dict[str, Literal["created", "updated", "comment"]] = {
    "ticket.created": "created",
    "ticket.updated": "updated",
    "ticket.comment_added": "comment",
}
"""The body's ``event`` values, set per trigger or rule, and the kind of event each is."""

CHANGES: dict[str, Change] = {
    "status": "status",
    "priority": "priority",
    "group": "group",
    "assignee": "assignee",
    "tags": "tags",
    "fields": "fields",
}
"""What a ``ticket.updated`` trigger or rule may list in ``changed``."""

MAX_FIELDS = 100
"""Most custom fields read from one delivery; the rest are left."""

_TICKET_NUMBER = re.compile(r"[0-9]{1,20}")


@dataclass(frozen=True)
class Rendering:
    """How one helpdesk fills in the template.

    Attributes:
        source: The helpdesk.
        at: Reads the time at a path, as the helpdesk renders it.
        by_agent: Reads from the body whether staff wrote the comment.
        tag_separator: What the helpdesk joins the tags with (None: white space).
        actor_path: Where the template names who acted, if it does.
    """

    source: Literal["zendesk", "freshdesk"]
    at: Callable[[dict[str, Any], str], datetime]
    by_agent: Callable[[dict[str, Any]], bool]
    tag_separator: str | None
    actor_path: str | None = None

    def read(self, body: bytes, delivery_id: str) -> SourceEvent:
        """Read a delivery of the template, whose id is ``delivery_id``.

        Raises:
            PayloadError: the body is not the template's shape; names the field.
        """
        data = load_object(body)
        event = text(data, "event", required=True)
        kind = EVENTS.get(event or "")
        if kind is None:
            raise PayloadError("event", f"must be one of {', '.join(EVENTS)}, not {event!r}")
        return SourceEvent(
            source=self.source,
            delivery_id=delivery_id,
            kind=kind,
            at=self.at(data, "at"),
            ticket=_ticket(data, self.tag_separator),
            changed=_changed(data) if kind == "updated" else frozenset(),
            comment=_comment(data, self.by_agent) if kind == "comment" else None,
            actor=text(data, self.actor_path) if self.actor_path else None,
        )


def _ticket(data: dict[str, Any], tag_separator: str | None) -> SourceTicket:
    field(data, "ticket", dict)
    ref = text(data, "ticket.id", required=True) or ""
    if not _TICKET_NUMBER.fullmatch(ref):
        raise PayloadError("ticket.id", f"must be a ticket number, not {ref[:40]!r}")
    tags = (tag.strip() for tag in (text(data, "ticket.tags") or "").split(tag_separator))
    return SourceTicket(
        ref=ref,
        title=text(data, "ticket.title"),
        status=text(data, "ticket.status"),
        priority=text(data, "ticket.priority"),
        group=text(data, "ticket.group"),
        assignee=text(data, "ticket.assignee"),
        requester=text(data, "ticket.requester"),
        organization=text(data, "ticket.organization"),
        fields=_fields(data),
        tags=tuple(dict.fromkeys(tag for tag in tags if tag)),
    )


def _fields(data: dict[str, Any]) -> dict[str, FieldValue]:
    given = field(data, "ticket.fields", dict, required=False) or {}
    fields: dict[str, FieldValue] = {}
    for name, value in list(given.items())[:MAX_FIELDS]:
        if isinstance(value, str):
            # Read by hand (a field's name may hold dots), cut and cleaned as field() does.
            value = clean(value.strip()[:MAX_TEXT]) or None
        elif value is not None and not isinstance(value, bool | int | float):
            raise PayloadError(f"ticket.fields.{name[:60]}", "must be text, a number or a flag")
        fields[clean(name[:200])] = value
    return fields


def _changed(data: dict[str, Any]) -> frozenset[Change]:
    names = field(data, "changed", list, required=False) or []
    changed: set[Change] = set()
    for index, name in enumerate(names):
        if not isinstance(name, str) or name.strip() not in CHANGES:
            raise PayloadError(f"changed[{index}]", f"must be one of {', '.join(CHANGES)}")
        changed.add(CHANGES[name.strip()])
    return frozenset(changed)


def _comment(data: dict[str, Any], by_agent: Callable[[dict[str, Any]], bool]) -> SourceComment:
    field(data, "comment", dict)
    # Who wrote it is read first, so a delivery wrong in several places names that field.
    staff = by_agent(data)
    return SourceComment(
        author=text(data, "comment.author"),
        public=_flag(data, "comment.public"),
        by_agent=staff,
    )


def _flag(data: dict[str, Any], path: str) -> bool:
    # A placeholder renders as text: "true" or "false".
    value = field(data, path, (bool, str))
    if isinstance(value, bool):
        return value
    word: str = value.strip().lower()
    if word not in ("true", "false"):
        raise PayloadError(path, f"must be true or false, not {value[:40]!r}")
    return word == "true"
