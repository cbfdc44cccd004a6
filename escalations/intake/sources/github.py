"""GitHub issues: repository (or organization) webhooks for ``issues`` and ``issue_comment``.

Signature (docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries):
``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``. The event's name is in
``X-GitHub-Event`` and the delivery's id, the same on every redelivery, in ``X-GitHub-Delivery``.
Payloads follow octokit/webhooks' schemas (``issues$opened``, ``issue_comment$created``, ...).

GitHub gives logins, not email addresses: the assignee, the requester (the issue's author) and
comment authors are logins, which the source's mapping turns into addresses. Priority and group
are left to the mapping too, which derives them from the labels (the ticket's tags).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from escalations.intake.events import (
    Change,
    PayloadError,
    SourceComment,
    SourceEvent,
    SourceTicket,
)
from escalations.intake.sources.common import (
    MAX_HEADER,
    Headers,
    check_prefixed_hex,
    clean,
    field,
    header,
    load_object,
    text,
    time_at,
)

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"

ISSUE_ACTIONS: dict[str, tuple[Literal["created", "updated", "deleted"], frozenset[Change]]] = {
    "opened": ("created", frozenset()),
    "edited": ("updated", frozenset()),
    "closed": ("updated", frozenset({"status"})),
    "reopened": ("updated", frozenset({"status"})),
    "labeled": ("updated", frozenset({"tags"})),
    "unlabeled": ("updated", frozenset({"tags"})),
    "assigned": ("updated", frozenset({"assignee"})),
    "unassigned": ("updated", frozenset({"assignee"})),
    "deleted": ("deleted", frozenset()),
}
"""The ``issues`` actions that mean something to a ticket: their kind and what they change."""

PREVIOUS_STATUS = {"closed": "open", "reopened": "closed"}
"""The issue's state before the actions that flip it."""

MAX_TAGS = 100
"""Most labels read from one delivery; the rest are left."""

STAFF = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})
"""``author_association`` values of the people who answer issues (the rest are customers)."""

# Where an event that means nothing to tickets may still carry a time of its own.
_OTHER_TIMES = (
    "issue.updated_at",
    "comment.updated_at",
    "hook.updated_at",
    "repository.updated_at",
)


def verify(headers: Headers, body: bytes, secret: bytes, now: datetime) -> None:
    """Check ``X-Hub-Signature-256`` against ``secret`` (GitHub signs no time; ``now`` is unused).

    Raises:
        SignatureError: the header is missing, malformed or does not match.
    """
    check_prefixed_hex(headers, SIGNATURE_HEADER, "sha256", secret, body)


def read(headers: Headers, body: bytes) -> SourceEvent:
    """Read an ``issues`` or ``issue_comment`` delivery; any other event reads as ``other``.

    Raises:
        PayloadError: a header or the body is not what GitHub sends; names which.
    """
    delivery_id = _header(headers, DELIVERY_HEADER)
    event = _header(headers, EVENT_HEADER)
    data = load_object(body)
    action = ""
    if event in ("issues", "issue_comment"):
        action = field(data, "action", str)
    if event == "issues" and action in ISSUE_ACTIONS:
        kind, changed = ISSUE_ACTIONS[action]
        return SourceEvent(
            source="github",
            delivery_id=delivery_id,
            kind=kind,
            ticket=_ticket(data),
            at=time_at(data, _issue_time(action)),
            changed=changed,
            previous_status=PREVIOUS_STATUS.get(action),
            actor=text(data, "sender.login"),
        )
    if event == "issue_comment" and action == "created" and not _on_pull_request(data):
        return SourceEvent(
            source="github",
            delivery_id=delivery_id,
            kind="comment",
            ticket=_ticket(data),
            comment=_comment(data),
            at=time_at(data, "comment.created_at"),
            actor=text(data, "sender.login"),
        )
    return SourceEvent(
        source="github",
        delivery_id=delivery_id,
        kind="other",
        at=_other_time(data),
        reason=_why_other(event, action),
    )


def _on_pull_request(data: dict[str, Any]) -> bool:
    # GitHub treats pull requests as issues: their comments arrive as issue_comment too.
    return field(data, "issue.pull_request", dict, required=False) is not None


def _why_other(event: str, action: str) -> str:
    if event == "issues":
        return f"issues action {action[:60]!r} changes nothing a ticket tracks"
    if event == "issue_comment" and action == "created":
        return "a comment on a pull request, not on an issue"
    if event == "issue_comment":
        return f"issue_comment action {action[:60]!r}: only new comments count"
    if event == "ping":
        return "ping: GitHub checking the webhook"
    return f"event {event[:60]!r} is not about issues"


def _issue_time(action: str) -> str:
    if action == "opened":
        return "issue.created_at"
    if action == "closed":
        return "issue.closed_at"
    return "issue.updated_at"


def _ticket(data: dict[str, Any]) -> SourceTicket:
    field(data, "issue", dict)
    issue_id = field(data, "issue.id", int)
    if not 0 < issue_id < 2**63:
        raise PayloadError("issue.id", "must be a positive 64-bit number")
    reason = text(data, "issue.state_reason")
    return SourceTicket(
        ref=str(issue_id),
        title=text(data, "issue.title"),
        status=text(data, "issue.state", required=True),
        assignee=text(data, "issue.assignee.login"),
        requester=text(data, "issue.user.login"),
        organization=text(data, "repository.full_name"),
        tags=_labels(data),
        # "completed" or "not_planned" once closed: the status stays GitHub's "closed".
        fields={"state_reason": reason} if reason else {},
    )


def _labels(data: dict[str, Any]) -> tuple[str, ...]:
    labels = field(data, "issue.labels", list, required=False) or []
    names: dict[str, None] = {}
    for index, label in enumerate(labels[:MAX_TAGS]):
        path = f"issue.labels[{index}]"
        if not isinstance(label, Mapping):
            raise PayloadError(path, "must be an object")
        try:
            name = text(label, "name", required=True)
        except PayloadError as err:
            raise PayloadError(f"{path}.name", err.message) from None
        names[name or ""] = None
    return tuple(names)


def _comment(data: dict[str, Any]) -> SourceComment:
    field(data, "comment", dict)
    association = text(data, "comment.author_association", required=True)
    return SourceComment(
        author=text(data, "comment.user.login"),
        public=True,
        by_agent=association in STAFF,
    )


def _other_time(data: dict[str, Any]) -> datetime:
    for path in _OTHER_TIMES:
        try:
            return time_at(data, path)
        except PayloadError:
            continue
    # An event that means nothing to tickets still needs a time; with none in the body, the
    # time it arrived is the honest one.
    return datetime.now(UTC)


def _header(headers: Headers, name: str) -> str:
    value = (header(headers, name) or "").strip()
    if not value:
        raise PayloadError(name, "header is required")
    if len(value) > MAX_HEADER:
        raise PayloadError(name, f"header is longer than {MAX_HEADER} characters")
    return clean(value)
