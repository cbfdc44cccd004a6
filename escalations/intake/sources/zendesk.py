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
from datetime import datetime, timedelta
from typing import Any

from escalations.intake.events import PayloadError, SignatureError, SourceEvent
from escalations.intake.sources import template_body
from escalations.intake.sources.common import (
    MAX_HEADER,
    Headers,
    body_digest,
    clean,
    header,
    parse_time,
    text,
    time_at,
)

MAX_AGE = timedelta(minutes=5)
"""How far the signed timestamp may lie from ``now``, either way: older deliveries are replays."""

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_HEADER = "X-Zendesk-Webhook-Invocation-Id"

# How {{current_user.role}} renders (any case): the base role, whatever custom role an agent has.
_STAFF_ROLES = frozenset({"agent", "admin", "administrator"})
_END_USER_ROLES = frozenset({"end-user", "end user", "enduser"})


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
    return _TRIGGER_BODY.read(body, _delivery_id(headers, body))


def _by_agent(data: dict[str, Any]) -> bool:
    role = (text(data, "comment.author_role", required=True) or "").lower()
    if role not in _STAFF_ROLES | _END_USER_ROLES:
        raise PayloadError("comment.author_role", f"must be Agent, Admin or End-user: {role!r}")
    return role in _STAFF_ROLES


_TRIGGER_BODY = template_body.Rendering(
    source="zendesk",
    at=time_at,
    by_agent=_by_agent,
    # {{ticket.tags}} renders the tags separated by spaces; a tag never holds one.
    tag_separator=None,
    actor_path="actor",
)


def _delivery_id(headers: Headers, body: bytes) -> str:
    given = (header(headers, INVOCATION_HEADER) or "").strip()
    if not 0 < len(given) <= MAX_HEADER:
        return body_digest(body)
    return clean(given)
