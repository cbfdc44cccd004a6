"""Jira Cloud and Jira Service Management (JSM): admin webhooks given a secret.

Jira signs the raw body as ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`` (WebSub's
``method=signature``) and names each delivery in ``X-Atlassian-Webhook-Identifier``, which stays
the same across retries; a delivery without it is named by a digest of its body. Nothing signed
carries a time, so :func:`verify` takes ``now`` only to share the readers' interface: a replay is
caught by its delivery id, not by its age. Webhooks registered by OAuth or Connect apps carry a
JWT instead of a signature and do not verify here.

How a body reads:

- ``webhookEvent`` decides the kind: ``jira:issue_created`` is created, ``jira:issue_updated``
  updated (a comment when ``issue_event_type_name`` is ``issue_commented`` and a ``comment`` came
  with it), ``comment_created`` a comment, ``jira:issue_deleted`` deleted, anything else
  ``other``. ``timestamp`` (epoch milliseconds) is when it happened.
- Group: Jira has no group field; the first of ``fields.components`` stands in for it, as the
  component is what a service desk most often routes its queues by. A site that routes by a
  custom field maps that from ``fields`` instead.
- Organization: JSM's Organizations field is a custom field whose id differs from site to site
  (and a list), so the reader leaves ``organization`` empty.
- People: Jira Cloud hides email addresses by each user's privacy settings, so a person reads as
  ``emailAddress`` where given, else ``displayName``.
- Custom fields: each ``customfield_<n>`` whose value is plain, or an option object's ``value``
  (else ``name``), under its id; lists, people and other objects are left out.
- ``changed`` comes from ``changelog.items[].field``; the status item's ``fromString`` is the
  previous status.
- A comment is by an agent unless its author is a JSM portal customer (``accountType``
  ``customer``) or the issue's reporter (the same ``accountId``). Comment events carry only part
  of the issue, often without the reporter, which is why the account type is read too. A comment
  by an app (``accountType`` ``app``: Automation for Jira's acknowledgements, for one) is nobody's
  reply: the event reads as ``updated`` when it changed fields, else ``other``. JSM's
  ``jsdPublic`` says whether the customer sees the comment; plain Jira sends none, and there every
  comment is seen by whoever sees the issue, so a missing flag reads as public.
"""

from __future__ import annotations

import functools
import re
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
from escalations.intake.sources.common import (
    MAX_TEXT,
    Headers,
    check_prefixed_hex,
    clean,
    delivery_id,
    field,
    load_object,
    parse_time,
    payload_errors_only,
    strings,
    text,
)

SIGNATURE_HEADER = "X-Hub-Signature"
DELIVERY_HEADER = "X-Atlassian-Webhook-Identifier"

MAX_ITEMS = 100
"""Most labels, custom fields and changelog items read from one delivery; the rest are left."""

_Kind = Literal["created", "updated", "comment", "deleted", "other"]

_KINDS: dict[str, _Kind] = {
    "jira:issue_created": "created",
    "jira:issue_updated": "updated",
    "comment_created": "comment",
    "jira:issue_deleted": "deleted",
}

# Changelog ``field`` names (lower-cased) that are parts of the ticket; any other is a field.
_CHANGES: dict[str, Change] = {
    "status": "status",
    "priority": "priority",
    "assignee": "assignee",
    "labels": "tags",
    "component": "group",
}

_CUSTOM_FIELD = re.compile(r"customfield_[0-9]{1,18}")

_event = functools.partial(SourceEvent, source="jira")


def verify(headers: Headers, body: bytes, secret: bytes, now: datetime) -> None:
    """Check that Jira signed the raw ``body`` with ``secret``, the one set on the webhook.

    Jira signs no time, so ``now`` is unused.

    Raises:
        SignatureError: ``X-Hub-Signature`` is missing, not ``sha256=<hex>``, or does not match.
    """
    check_prefixed_hex(headers, SIGNATURE_HEADER, "sha256", secret, body)


@payload_errors_only
def read(headers: Headers, body: bytes) -> SourceEvent:
    """Read one (verified) Jira delivery: the event, with the issue as the delivery describes it.

    Raises:
        PayloadError: The body is not what Jira sends; names the field path.
    """
    data = load_object(body)
    delivery = delivery_id(headers, DELIVERY_HEADER, body)
    event_name = _required(data, "webhookEvent")
    at = parse_time(field(data, "timestamp", (int, float)), "timestamp")
    kind = _KINDS.get(event_name)
    if kind is None:
        return _event(
            delivery_id=delivery,
            kind="other",
            at=at,
            actor=_person(data, "user"),
            reason=f"Jira event {event_name[:60]!r} changes nothing a ticket tracks",
        )
    ticket = _ticket(data)
    changed, previous_status = _changelog(data)
    comment: SourceComment | None = None
    actor = _person(data, "user")
    commented = kind == "comment" or (
        kind == "updated"
        and text(data, "issue_event_type_name") == "issue_commented"
        and _object(data, "comment") is not None
    )
    if commented:
        _object(data, "comment", required=True)
        actor = _person(data, "comment.author") or actor
        if text(data, "comment.author.accountType") == "app":
            kind = "updated" if changed else "other"
        else:
            kind = "comment"
            comment = _comment(data)
    return _event(
        delivery_id=delivery,
        kind=kind,
        at=at,
        ticket=ticket,
        changed=frozenset(changed) if kind in ("updated", "comment") else frozenset(),
        previous_status=previous_status,
        comment=comment,
        actor=actor,
        reason="the comment was written by an app, not a person" if kind == "other" else None,
    )


def _ticket(data: dict[str, Any]) -> SourceTicket:
    _object(data, "issue", required=True)
    ref = _required(data, "issue.key")
    if len(ref) > 200:
        raise PayloadError("issue.key", "is longer than 200 characters")
    _object(data, "issue.fields")
    return SourceTicket(
        ref=ref,
        title=text(data, "issue.fields.summary"),
        status=_name(data, "issue.fields.status"),
        priority=_name(data, "issue.fields.priority"),
        group=_first_component(data),
        assignee=_person(data, "issue.fields.assignee"),
        requester=_person(data, "issue.fields.reporter"),
        tags=strings(data, "issue.fields.labels", MAX_ITEMS),
        fields=_custom_fields(data),
    )


def _comment(data: dict[str, Any]) -> SourceComment:
    public = field(data, "comment.jsdPublic", bool, required=False)
    author_id = text(data, "comment.author.accountId")
    reporter_id = text(data, "issue.fields.reporter.accountId")
    by_customer = text(data, "comment.author.accountType") == "customer" or (
        author_id is not None and author_id == reporter_id
    )
    return SourceComment(
        author=_person(data, "comment.author"),
        public=public is not False,
        by_agent=not by_customer,
    )


def _changelog(data: dict[str, Any]) -> tuple[set[Change], str | None]:
    """What ``changelog.items`` says changed, and the status before."""
    items = field(data, "changelog.items", list, required=False) or []
    changed: set[Change] = set()
    previous_status: str | None = None
    for index, item in enumerate(items[:MAX_ITEMS]):
        path = f"changelog.items[{index}]"
        name = _in(item, path, "field", required=True) or ""
        part = _CHANGES.get(name.lower(), "fields")
        changed.add(part)
        if part == "status":
            previous_status = _in(item, path, "fromString")
    return changed, previous_status


def _first_component(data: dict[str, Any]) -> str | None:
    components = field(data, "issue.fields.components", list, required=False) or []
    if not components:
        return None
    return _in(components[0], "issue.fields.components[0]", "name")


def _custom_fields(data: dict[str, Any]) -> dict[str, FieldValue]:
    fields: dict[str, Any] = _object(data, "issue.fields") or {}
    values: dict[str, FieldValue] = {}
    for key, raw in fields.items():
        if len(values) >= MAX_ITEMS:
            break
        if not _CUSTOM_FIELD.fullmatch(key):
            continue
        value = raw
        if isinstance(raw, dict):
            # A select list's option is {"value": ...}; a version or component is {"name": ...}.
            value = raw.get("value") if raw.get("value") is not None else raw.get("name")
        if isinstance(value, str):
            values[key] = clean(value[:MAX_TEXT])
        elif isinstance(value, bool | int | float):
            values[key] = value
    return values


def _person(data: dict[str, Any], path: str) -> str | None:
    """A Jira user object's email address, else its display name."""
    if _object(data, path) is None:
        return None
    return text(data, f"{path}.emailAddress") or text(data, f"{path}.displayName")


def _name(data: dict[str, Any], path: str) -> str | None:
    if _object(data, path) is None:
        return None
    return text(data, f"{path}.name")


def _required(data: dict[str, Any], path: str) -> str:
    value = text(data, path, required=True)
    if value is None:  # text raises first; this only tells the type checker
        raise PayloadError(path, "is required")
    return value


def _object(data: dict[str, Any], path: str, *, required: bool = False) -> dict[str, Any] | None:
    """The object at ``path``: checked first, so that a string where an object belongs is an
    error rather than a missing value."""
    value: dict[str, Any] | None = field(data, path, dict, required=required)
    return value


def _in(item: object, path: str, key: str, *, required: bool = False) -> str | None:
    """The text ``key`` of the list element ``item`` found at ``path``."""
    if not isinstance(item, dict):
        raise PayloadError(path, "must be an object")
    try:
        return text(item, key, required=required)
    except PayloadError as err:
        raise PayloadError(f"{path}.{err.field}", err.message) from None


__all__ = ["DELIVERY_HEADER", "SIGNATURE_HEADER", "read", "verify"]
