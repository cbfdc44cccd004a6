"""Zendesk: ticket triggers calling one webhook, signed with the webhook's signing secret.

Zendesk sends ticket activity to a webhook only through triggers (and automations), and the
admin writes their JSON body with placeholders, so the body is ours:
``escalations/intake/templates/zendesk-trigger.json``. Every trigger uses that body as it is and
sets two fields of its own:

- ``"event": "ticket.created"``: condition *Ticket is Created*.
- ``"event": "ticket.updated"``: *Ticket is Updated* and the changes it watches (*Status
  changed*, ...), which ``"changed"`` lists: any of ``status``, ``priority``, ``group``,
  ``assignee``, ``tags``, ``fields``.
- ``"event": "ticket.comment_added"``: *Ticket is Updated* and *Comment is Present*.

Placeholders render as text, so the reader takes ``"true"`` for true and a ticket number given
as a string; ``{{ticket.tags}}`` separates tags by spaces. ``comment.author_role`` is
``{{current_user.role}}``: the person whose update fired the trigger, who wrote the comment
(``Agent``, ``Admin`` or ``End-user``). ``ticket.fields`` holds custom fields by the mapping's
name for them, each ``{{ticket.ticket_field_<field id>}}``; the template's id is an example.

Signature (developer.zendesk.com/documentation/webhooks/verifying/): the
``X-Zendesk-Webhook-Signature`` header is base64(HMAC-SHA256(signing secret, timestamp + raw
body)), the timestamp being the ``X-Zendesk-Webhook-Signature-Timestamp`` header as sent. Each
trigger firing is one invocation, retried under the same ``X-Zendesk-Webhook-Invocation-Id``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta
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

MAX_AGE = timedelta(minutes=5)
"""How far the signed timestamp may lie from ``now``, either way: older deliveries are replays."""

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"

EVENTS: dict[str, Literal["created", "updated", "comment"]] = {
    "ticket.created": "created",
    "ticket.updated": "updated",
    "ticket.comment_added": "comment",
}
"""The body's ``event`` values, set per trigger, and the kind of event each is."""

CHANGES: dict[str, Change] = {
    "status": "status",
    "priority": "priority",
    "group": "group",
    "assignee": "assignee",
    "tags": "tags",
    "fields": "fields",
}
"""What a ``ticket.updated`` trigger may list in ``changed``."""

MAX_FIELDS = 100
"""Most custom fields read from one delivery; the rest are left."""

# How {{current_user.role}} renders (any case): the base role, whatever custom role an agent has.
_STAFF_ROLES = frozenset({"agent", "admin", "administrator"})
_END_USER_ROLES = frozenset({"end-user", "end user", "enduser"})
_TICKET_NUMBER = re.compile(r"[0-9]{1,20}")


def verify(headers: Headers, body: bytes, secret: bytes, now: datetime) -> None:
    """Check that Zendesk signed this delivery with ``secret`` within :data:`MAX_AGE` of ``now``.

    Raises:
        SignatureError: a header is missing or malformed, the signature does not match, or the
            timestamp is stale (or from the future).
    """
    signature = header(headers, SIGNATURE_HEADER)
    stamp = header(headers, TIMESTAMP_HEADER)
    if signature is None:
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    if stamp is None:
        raise SignatureError(f"missing {TIMESTAMP_HEADER} header")
    if not stamp.isascii():
        raise SignatureError(f"{TIMESTAMP_HEADER} must be an ISO-8601 time")
    try:
        signed_at = parse_time(stamp, TIMESTAMP_HEADER)
        given = base64.b64decode(signature.strip(), validate=True)
    except PayloadError:
        raise SignatureError(f"{TIMESTAMP_HEADER} must be an ISO-8601 time with a zone") from None
    except ValueError:
        raise SignatureError(f"{SIGNATURE_HEADER} must be a base64 digest") from None
    expected = hmac.new(secret, stamp.encode() + body, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body under the secret")
    if abs(now - signed_at) > MAX_AGE:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is more than {MAX_AGE.seconds // 60} minutes from now"
        )


def read(headers: Headers, body: bytes) -> SourceEvent:
    """Read a delivery of our trigger body.

    Raises:
        PayloadError: the body is not the template's shape; names the field.
    """
    data = load_object(body)
    event = text(data, "event", required=True)
    kind = EVENTS.get(event or "")
    if kind is None:
        raise PayloadError("event", f"must be one of {', '.join(EVENTS)}, not {event!r}")
    return SourceEvent(
        source="zendesk",
        delivery_id=_delivery_id(headers, body),
        kind=kind,
        at=parse_time(field(data, "at", str), "at"),
        ticket=_ticket(data),
        changed=_changed(data) if kind == "updated" else frozenset(),
        comment=_comment(data) if kind == "comment" else None,
        actor=text(data, "actor"),
    )


def _ticket(data: dict[str, Any]) -> SourceTicket:
    field(data, "ticket", dict)
    ref = text(data, "ticket.id", required=True) or ""
    if not _TICKET_NUMBER.fullmatch(ref):
        raise PayloadError("ticket.id", f"must be a ticket number, not {ref[:40]!r}")
    tags = text(data, "ticket.tags") or ""
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
        # {{ticket.tags}} renders the tags separated by spaces; a tag never holds one.
        tags=tuple(dict.fromkeys(tags.split())),
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
    role = (text(data, "comment.author_role", required=True) or "").lower()
    if role not in _STAFF_ROLES | _END_USER_ROLES:
        raise PayloadError("comment.author_role", f"must be Agent, Admin or End-user: {role!r}")
    return SourceComment(
        author=text(data, "comment.author"),
        public=_flag(data, "comment.public"),
        by_agent=role in _STAFF_ROLES,
    )


def _flag(data: dict[str, Any], path: str) -> bool:
    value = field(data, path, (bool, str))
    if isinstance(value, bool):
        return value
    word: str = value.strip().lower()
    if word not in ("true", "false"):
        raise PayloadError(path, f"must be true or false, not {value[:40]!r}")
    return word == "true"


def _delivery_id(headers: Headers, body: bytes) -> str:
    given = (header(headers, INVOCATION_HEADER) or "").strip()
    if not 0 < len(given) <= 200:
        return body_digest(body)
    return given.encode("utf-8", "replace").decode("utf-8")
