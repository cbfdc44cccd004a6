"""Freshdesk: automation rules whose *Trigger webhook* action posts our body with a token header.

Freshdesk signs nothing and publishes no payload: an automation rule's webhook action sends the
request the admin composes. So the admin adds the custom header ``X-Escalations-Token: <secret>``
and pastes ``escalations/intake/templates/freshdesk-webhook.json`` as the JSON content, setting
per rule:

- ``"event": "ticket.created"``: a rule on *Ticket creation*.
- ``"event": "ticket.updated"``: a rule on *Ticket updates* for the events it watches (*Status
  is changed*, ...), which ``"changed"`` lists: any of ``status``, ``priority``, ``group``,
  ``assignee``, ``tags``, ``fields``.
- ``"event": "ticket.comment_added"``: *Reply is sent* or *Note is added*, with ``comment.by``
  ``"agent"`` when the rule's *performed by* is an agent, ``"requester"`` when it is the
  requester, and ``comment.public`` false for a private note.

A requester's rule may add ``"author": "{{ticket.contact.email}}"`` to ``comment``: no
placeholder names the author of an agent's reply.

Freshdesk renders the status and priority by name (``Open``, ``Waiting on Customer``;
``Low`` .. ``Urgent``), the tags joined by ``", "`` and custom fields as ``{{ticket.cf_<name>}}``
(list them in ``ticket.fields``). ``at`` is ``{{ticket.modified_on}}`` (the ticket's
``updated_at``) formatted with its offset, since Freshdesk renders times in the account's zone;
Ruby's default rendering (``2026-11-30 09:14:00 UTC``, ``... +0530``) reads too. Freshdesk
sends no delivery id: a redelivered body is the same event, so the id is a digest of the body.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from typing import Any, Literal

from escalations.intake.events import (
    Change,
    FieldValue,
    PayloadError,
    SignatureError,
    SourceComment,
    SourceEvent,
    SourceTicket,
)
from escalations.intake.sources.common import (
    MAX_TEXT,
    Headers,
    body_digest,
    field,
    header,
    load_object,
    parse_time,
    text,
)

TOKEN_HEADER = "X-Escalations-Token"
"""The custom header the automation rule's webhook action sends, holding the shared secret."""

EVENTS: dict[str, Literal["created", "updated", "comment"]] = {
    "ticket.created": "created",
    "ticket.updated": "updated",
    "ticket.comment_added": "comment",
}
"""The body's ``event`` values, set per rule, and the kind of event each is."""

CHANGES: dict[str, Change] = {
    "status": "status",
    "priority": "priority",
    "group": "group",
    "assignee": "assignee",
    "tags": "tags",
    "fields": "fields",
}
"""What a ``ticket.updated`` rule may list in ``changed``."""

AUTHORS = {"agent": True, "requester": False}
"""``comment.by`` values, and whether that author is staff."""

MAX_FIELDS = 100
"""Most custom fields read from one delivery; the rest are left."""

_TICKET_NUMBER = re.compile(r"[0-9]{1,20}")
# Ruby's default rendering of a time: "2026-11-30 09:14:00 UTC", "2026-11-30 14:44:00 +0530".
_RUBY_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2})?) (UTC|[+-][0-9]{4})"
)


def verify(headers: Headers, body: bytes, secret: bytes, now: datetime) -> None:
    """Check the rule's token header against ``secret`` (``body`` and ``now`` play no part).

    Raises:
        SignatureError: the header is missing, empty or wrong.
    """
    given = header(headers, TOKEN_HEADER)
    if given is None:
        raise SignatureError(f"missing {TOKEN_HEADER} header")
    if not secret:
        raise SignatureError("no Freshdesk token is configured, so none can match")
    token = given.strip().encode("utf-8", "replace")
    if not token:
        raise SignatureError(f"{TOKEN_HEADER} is empty")
    if not hmac.compare_digest(token, secret):
        raise SignatureError(f"{TOKEN_HEADER} does not match the configured secret")


def read(headers: Headers, body: bytes) -> SourceEvent:
    """Read a delivery of our webhook body.

    Raises:
        PayloadError: the body is not the template's shape; names the field.
    """
    data = load_object(body)
    event = text(data, "event", required=True)
    kind = EVENTS.get(event or "")
    if kind is None:
        raise PayloadError("event", f"must be one of {', '.join(EVENTS)}, not {event!r}")
    return SourceEvent(
        source="freshdesk",
        delivery_id=body_digest(body),
        kind=kind,
        at=_time(data, "at"),
        ticket=_ticket(data),
        changed=_changed(data) if kind == "updated" else frozenset(),
        comment=_comment(data) if kind == "comment" else None,
    )


def _ticket(data: dict[str, Any]) -> SourceTicket:
    field(data, "ticket", dict)
    ref = text(data, "ticket.id", required=True) or ""
    if not _TICKET_NUMBER.fullmatch(ref):
        raise PayloadError("ticket.id", f"must be a ticket number, not {ref[:40]!r}")
    tags = (tag.strip() for tag in (text(data, "ticket.tags") or "").split(","))
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
            value = value.strip()[:MAX_TEXT].encode("utf-8", "replace").decode("utf-8") or None
        elif value is not None and not isinstance(value, bool | int | float):
            raise PayloadError(f"ticket.fields.{name[:60]}", "must be text, a number or a flag")
        fields[name[:200].encode("utf-8", "replace").decode("utf-8")] = value
    return fields


def _changed(data: dict[str, Any]) -> frozenset[Change]:
    names = field(data, "changed", list, required=False) or []
    changed: set[Change] = set()
    for index, name in enumerate(names):
        if not isinstance(name, str) or name.strip() not in CHANGES:
            raise PayloadError(f"changed[{index}]", f"must be one of {', '.join(CHANGES)}")
        changed.add(CHANGES[name.strip()])
    return frozenset(changed)


def _comment(data: dict[str, Any]) -> SourceComment:
    field(data, "comment", dict)
    by = (text(data, "comment.by", required=True) or "").lower()
    if by not in AUTHORS:
        raise PayloadError("comment.by", f"must be agent or requester, not {by[:40]!r}")
    return SourceComment(
        author=text(data, "comment.author"),
        public=_flag(data, "comment.public"),
        by_agent=AUTHORS[by],
    )


def _flag(data: dict[str, Any], path: str) -> bool:
    value = field(data, path, (bool, str))
    if isinstance(value, bool):
        return value
    word: str = value.strip().lower()
    if word not in ("true", "false"):
        raise PayloadError(path, f"must be true or false, not {value[:40]!r}")
    return word == "true"


def _time(data: dict[str, Any], path: str) -> datetime:
    value = field(data, path, str)
    ruby = _RUBY_TIME.fullmatch(value.strip())
    if ruby:
        value = ruby[1] + ("+00:00" if ruby[2] == "UTC" else ruby[2])
    return parse_time(value, path)
