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
from typing import Any

from escalations.intake.events import PayloadError, SignatureError, SourceEvent
from escalations.intake.sources import template_body
from escalations.intake.sources.common import (
    Headers,
    body_digest,
    field,
    header,
    parse_time,
    text,
)

TOKEN_HEADER = "X-Escalations-Token"
"""The custom header the automation rule's webhook action sends, holding the shared secret."""

AUTHORS = {"agent": True, "requester": False}
"""``comment.by`` values, and whether that author is staff."""

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
    return _RULE_BODY.read(body, body_digest(body))


def _by_agent(data: dict[str, Any]) -> bool:
    by = (text(data, "comment.by", required=True) or "").lower()
    if by not in AUTHORS:
        raise PayloadError("comment.by", f"must be agent or requester, not {by[:40]!r}")
    return AUTHORS[by]


def _time(data: dict[str, Any], path: str) -> datetime:
    value = field(data, path, str)
    ruby = _RUBY_TIME.fullmatch(value.strip())
    if ruby:
        value = ruby[1] + ("+00:00" if ruby[2] == "UTC" else ruby[2])
    return parse_time(value, path)


# The tags render joined by ", ".
_RULE_BODY = template_body.Rendering(
    source="freshdesk", at=_time, by_agent=_by_agent, tag_separator=","
)
