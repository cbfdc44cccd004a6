"""Zammad: the webhooks its triggers send.

Zammad signs the raw body as ``X-Hub-Signature: sha1=<hex HMAC-SHA1(token, body)>`` when the
webhook has a signature token, and names each delivery in ``X-Zammad-Delivery`` (the id of the job
that sends it, so a retry carries the same one). A delivery without that header is named by a
digest of its body: the body is a snapshot stamped to the millisecond, so two equal bodies say the
same thing and counting them once loses nothing. ``X-Zammad-Trigger`` names the trigger that fired;
nothing here reads it, but it is the way to tell triggers apart in the logs. Nothing signed carries
a time, so :func:`verify` takes ``now`` only to share the readers' interface.

The body is Zammad's default payload, ``{"ticket": {...}, "article": {...}}``: the ticket as it is
now, its group, priority, organization and people expanded into objects (``state`` stays a name;
either form is read for each), and the article the triggering change added, or ``{}``. The ticket's
``id`` is the ref (the API's and the URL's); its ``number``, the one people quote, goes to
``fields["number"]``. Zammad's system user (id 1, login ``-``) stands for nobody: an unassigned
ticket's owner.

Zammad sends a snapshot, not a changelog, so the kind is inferred:

- ``created`` when the ticket's ``created_at`` and ``updated_at`` are at most 1 s apart. Zammad
  writes a new ticket and its first article in one transaction, so an article in that delivery is
  the one that opened the ticket, whoever wrote it (an agent's phone ticket too).
- ``comment`` when the article was written by a person (``sender`` ``Agent`` or ``Customer``; a
  ``System`` article is Zammad's own auto-reply) at most 2 s from the ticket's ``updated_at``.
  ``at`` is the article's ``created_at``; ``by_agent`` is ``sender == "Agent"``, ``public`` is
  ``not internal``.
- ``updated`` otherwise, ``at`` the ticket's ``updated_at``. A snapshot cannot say what changed, so
  ``changed`` names every part the snapshot carries (status, priority, group, assignee, and tags
  when the payload has them): the mapping applies current values, which changes nothing where
  nothing changed. ``previous_status`` is never known.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any, Literal

from pydantic import ValidationError

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
    check_prefixed_hex,
    field,
    header,
    load_object,
    parse_time,
    text,
)

SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Zammad-Delivery"
TRIGGER_HEADER = "X-Zammad-Trigger"

MAX_TAGS = 100
"""Most tags read from one delivery; the rest are left."""

CREATED_WITHIN = timedelta(seconds=1)
"""A ticket updated this soon after it was created is still being created."""

COMMENT_WITHIN = timedelta(seconds=2)
"""An article this close to the ticket's last update is what the update added."""

_Kind = Literal["created", "updated", "comment"]

# The parts of the ticket a snapshot carries, by the ticket key that carries each.
_SNAPSHOT: dict[str, Change] = {
    "state": "status",
    "priority": "priority",
    "group": "group",
    "owner": "assignee",
    "tags": "tags",
}

# JSON may carry lone UTF-16 surrogates (a string cut inside an emoji); pydantic refuses them.
_SURROGATE = re.compile("[\ud800-\udfff]")

_SYSTEM_USER_ID = 1
_SYSTEM_USER_LOGIN = "-"


def verify(headers: Headers, body: bytes, secret: bytes, now: datetime) -> None:
    """Check that Zammad signed ``body`` with the webhook's signature token.

    Args:
        headers: The request's headers, names in lower case.
        body: The raw request body, as received.
        secret: The webhook's signature token.
        now: Unused: Zammad signs no time.

    Raises:
        SignatureError: ``X-Hub-Signature`` is missing, not ``sha1=<hex>``, or does not match.
    """
    given = header(headers, SIGNATURE_HEADER)
    if given is not None and not given.isascii():
        raise SignatureError(f"{SIGNATURE_HEADER} must be sha1=<hex digest>")
    check_prefixed_hex(headers, SIGNATURE_HEADER, "sha1", secret, body)


def read(headers: Headers, body: bytes) -> SourceEvent:
    """Read one Zammad delivery (the default payload).

    Args:
        headers: The request's headers, names in lower case.
        body: The raw (verified) request body.

    Returns:
        The event, with the ticket as the snapshot describes it.

    Raises:
        PayloadError: The body is not what Zammad sends; names the field path.
    """
    try:
        return _read(headers, body)
    except ValidationError as err:
        # Every value is checked on the way in; this keeps a slip a 422 rather than a 500.
        first = err.errors()[0]
        raise PayloadError("body", f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _read(headers: Headers, body: bytes) -> SourceEvent:
    data = _load(body)
    delivery_id = _delivery_id(headers, body)
    raw_ticket = field(data, "ticket", dict)
    ticket = _ticket(data)
    created_at = _time(data, "ticket.created_at")
    updated_at = _time(data, "ticket.updated_at")
    article = field(data, "article", dict, required=False) or {}
    sender = _label(data, "article.sender") if article else None

    kind: _Kind = "updated"
    at = updated_at
    comment: SourceComment | None = None
    actor = _person(data, "ticket.updated_by")
    if abs(updated_at - created_at) <= CREATED_WITHIN:
        kind = "created"
        actor = _person(data, "ticket.created_by")
    elif sender in ("Agent", "Customer"):
        written_at = _time(data, "article.created_at")
        if abs(written_at - updated_at) <= COMMENT_WITHIN:
            kind = "comment"
            at = written_at
            comment = SourceComment(
                author=_author(data),
                public=not field(data, "article.internal", bool),
                by_agent=sender == "Agent",
            )
            actor = comment.author
    changed = frozenset(
        part for key, part in _SNAPSHOT.items() if kind == "updated" and key in raw_ticket
    )
    return SourceEvent(
        source="zammad",
        delivery_id=delivery_id,
        kind=kind,
        at=at,
        ticket=ticket,
        changed=changed,
        comment=comment,
        actor=actor,
    )


def _ticket(data: dict[str, Any]) -> SourceTicket:
    ref = _text(data, "ticket.id", required=True) or ""
    if len(ref) > 200:
        raise PayloadError("ticket.id", "is longer than 200 characters")
    number = _text(data, "ticket.number")
    fields: dict[str, FieldValue] = {"number": number} if number else {}
    return SourceTicket(
        ref=ref,
        title=_text(data, "ticket.title"),
        status=_label(data, "ticket.state"),
        priority=_label(data, "ticket.priority"),
        group=_label(data, "ticket.group"),
        assignee=_person(data, "ticket.owner"),
        requester=_person(data, "ticket.customer"),
        organization=_label(data, "ticket.organization"),
        tags=_tags(data),
        fields=fields,
    )


def _tags(data: dict[str, Any]) -> tuple[str, ...]:
    raw = field(data, "ticket.tags", list, required=False) or []
    tags: list[str] = []
    for index, tag in enumerate(raw[:MAX_TAGS]):
        if not isinstance(tag, str):
            raise PayloadError(f"ticket.tags[{index}]", "must be a string")
        if tag.strip():
            tags.append(_clean(tag.strip()[:MAX_TEXT]))
    return tuple(tags)


def _author(data: dict[str, Any]) -> str | None:
    """Who wrote the article: the person an agent wrote it for (a phone call's caller), else its
    creator, else the address in its ``from``.

    ``from`` comes last because an agent's reply is sent from the group's address.
    """
    person = _person(data, "article.origin_by") or _person(data, "article.created_by")
    if person:
        return person
    sender = _text(data, "article.from")
    if sender is None:
        return None
    _, address = parseaddr(sender)
    return address if "@" in address else sender


def _label(data: dict[str, Any], path: str) -> str | None:
    """A name at ``path``: the name itself, or an expanded object's ``name``."""
    value = field(data, path, (str, dict), required=False)
    if isinstance(value, dict):
        return _text(data, f"{path}.name")
    return _text(data, path)


def _person(data: dict[str, Any], path: str) -> str | None:
    """A user at ``path``: its email, else its login; Zammad's system user is nobody."""
    value = field(data, path, (str, dict), required=False)
    if isinstance(value, dict):
        if value.get("id") == _SYSTEM_USER_ID or value.get("login") == _SYSTEM_USER_LOGIN:
            return None
        return _text(data, f"{path}.email") or _text(data, f"{path}.login")
    login = _text(data, path)
    return None if login == _SYSTEM_USER_LOGIN else login


def _text(data: dict[str, Any], path: str, *, required: bool = False) -> str | None:
    value = text(data, path, required=required)
    return None if value is None else _clean(value)


def _clean(value: str) -> str:
    return _SURROGATE.sub("\ufffd", value)


def _time(data: dict[str, Any], path: str) -> datetime:
    value = field(data, path, str)
    try:
        return parse_time(value, path)
    except OverflowError:
        # parse_time converts to UTC, which overflows for times at the ends of the calendar.
        raise PayloadError(path, f"{value[:60]!r} is out of range") from None


def _load(body: bytes) -> dict[str, Any]:
    # load_object leaves two failures of json itself to the caller: a number of more than 4300
    # digits (ValueError) and nesting deeper than the interpreter's stack (RecursionError).
    try:
        return load_object(body)
    except (ValueError, RecursionError) as err:
        raise PayloadError("body", f"not a JSON document ({type(err).__name__})") from None


def _delivery_id(headers: Headers, body: bytes) -> str:
    given = _clean((header(headers, DELIVERY_HEADER) or "").strip())
    if len(given) > 200:
        raise PayloadError(DELIVERY_HEADER, "is longer than 200 characters")
    return given or body_digest(body)


__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "TRIGGER_HEADER", "read", "verify"]
