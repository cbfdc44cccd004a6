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

from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any, Literal

from escalations.intake.events import (
    Change,
    FieldValue,
    PayloadError,
    SourceComment,
    SourceEvent,
    SourceTicket,
)
from escalations.intake.sources.common import (
    Headers,
    check_prefixed_hex,
    delivery_id,
    field,
    load_object,
    payload_errors_only,
    strings,
    text,
    time_at,
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

_SYSTEM_USER_ID = 1
_SYSTEM_USER_LOGIN = "-"


def verify(headers: Headers, body: bytes, secret: bytes, now: datetime) -> None:
    """Check that Zammad signed the raw ``body`` with ``secret``, the webhook's signature token.

    Zammad signs no time, so ``now`` is unused.

    Raises:
        SignatureError: ``X-Hub-Signature`` is missing, not ``sha1=<hex>``, or does not match.
    """
    check_prefixed_hex(headers, SIGNATURE_HEADER, "sha1", secret, body)


@payload_errors_only
def read(headers: Headers, body: bytes) -> SourceEvent:
    """Read one (verified) Zammad delivery of the default payload: the event, with the ticket as
    the snapshot describes it.

    Raises:
        PayloadError: The body is not what Zammad sends; names the field path.
    """
    data = load_object(body)
    delivery = delivery_id(headers, DELIVERY_HEADER, body)
    raw_ticket = field(data, "ticket", dict)
    ticket = _ticket(data)
    created_at = time_at(data, "ticket.created_at")
    updated_at = time_at(data, "ticket.updated_at")
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
        written_at = time_at(data, "article.created_at")
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
        delivery_id=delivery,
        kind=kind,
        at=at,
        ticket=ticket,
        changed=changed,
        comment=comment,
        actor=actor,
    )


def _ticket(data: dict[str, Any]) -> SourceTicket:
    ref = text(data, "ticket.id", required=True) or ""
    if len(ref) > 200:
        raise PayloadError("ticket.id", "is longer than 200 characters")
    number = text(data, "ticket.number")
    fields: dict[str, FieldValue] = {"number": number} if number else {}
    return SourceTicket(
        ref=ref,
        title=text(data, "ticket.title"),
        status=_label(data, "ticket.state"),
        priority=_label(data, "ticket.priority"),
        group=_label(data, "ticket.group"),
        assignee=_person(data, "ticket.owner"),
        requester=_person(data, "ticket.customer"),
        organization=_label(data, "ticket.organization"),
        tags=strings(data, "ticket.tags", MAX_TAGS),
        fields=fields,
    )


def _author(data: dict[str, Any]) -> str | None:
    """Who wrote the article: the person an agent wrote it for (a phone call's caller), else its
    creator, else the address in its ``from``.

    ``from`` comes last because an agent's reply is sent from the group's address.
    """
    person = _person(data, "article.origin_by") or _person(data, "article.created_by")
    if person:
        return person
    sender = text(data, "article.from")
    if sender is None:
        return None
    _, address = parseaddr(sender)
    return address if "@" in address else sender


def _label(data: dict[str, Any], path: str) -> str | None:
    """A name at ``path``: the name itself, or an expanded object's ``name``."""
    value = field(data, path, (str, dict), required=False)
    if isinstance(value, dict):
        return text(data, f"{path}.name")
    return text(data, path)


def _person(data: dict[str, Any], path: str) -> str | None:
    """A user at ``path``: its email, else its login; Zammad's system user is nobody."""
    value = field(data, path, (str, dict), required=False)
    if isinstance(value, dict):
        if value.get("id") == _SYSTEM_USER_ID or value.get("login") == _SYSTEM_USER_LOGIN:
            return None
        return text(data, f"{path}.email") or text(data, f"{path}.login")
    login = text(data, path)
    return None if login == _SYSTEM_USER_LOGIN else login


__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "TRIGGER_HEADER", "read", "verify"]
