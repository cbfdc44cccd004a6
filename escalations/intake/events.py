"""What every helpdesk's webhook says, once read: one shape for all sources.

Each source module (:mod:`escalations.intake.sources`) reads its own payloads into a
:class:`SourceEvent`; :mod:`escalations.intake.translate` turns that, through the source's mapping
file, into the contract's updates. Values are the source's own (its status and priority names,
its group name): the mapping file, not the reader, decides what they mean.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

SourceName = Literal["zendesk", "jira", "freshdesk", "zammad", "github"]
SOURCES: tuple[SourceName, ...] = ("zendesk", "jira", "freshdesk", "zammad", "github")

Change = Literal["status", "priority", "group", "assignee", "tags", "fields"]
"""A part of the ticket an event says changed."""

FieldValue = str | int | float | bool | None


class _Read(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceTicket(_Read):
    """The ticket as the source describes it in this delivery (current values)."""

    ref: str = Field(min_length=1, max_length=200)
    """The source's own id or key (Zendesk ``123``, Jira ``SUP-42``, GitHub the issue's id)."""
    title: str | None = None
    status: str | None = None
    priority: str | None = None
    group: str | None = None
    assignee: str | None = None
    """The assignee's email address, when the source gives one."""
    requester: str | None = None
    """The requester's email address, when the source gives one."""
    organization: str | None = None
    tags: tuple[str, ...] = ()
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    """Custom fields by the source's name for them, flattened to plain values."""


class SourceComment(_Read):
    """A comment (reply, article) the event added."""

    author: str | None = None
    """Who wrote it: an email address when the source gives one, else a name or login."""
    public: bool
    """Visible to the customer (an internal note is not)."""
    by_agent: bool
    """Written by staff, not by the requester or another customer."""


class SourceEvent(_Read):
    """One delivery of one helpdesk, read.

    Attributes:
        source: The helpdesk.
        delivery_id: The source's id for this delivery, the same on every redelivery (a
            header, where the source sends one, else a digest of the body).
        kind: ``created`` (the ticket is new), ``updated`` (fields changed: ``changed``
            says which), ``comment`` (``comment`` is set), ``deleted``, or ``other`` (an
            event of the source that means nothing to tickets; ``reason`` says what).
        at: When it happened, by the source's clock.
        ticket: The ticket as the delivery describes it.
        changed: What the event changed, where the source says so; empty for created.
        previous_status: The status before this event, when the source says.
        comment: The comment the event added.
        actor: Who did it (email, login or name), when the source says.
        reason: Why an ``other`` event means nothing to tickets.
    """

    source: SourceName
    delivery_id: str = Field(min_length=1, max_length=200)
    kind: Literal["created", "updated", "comment", "deleted", "other"]
    at: AwareDatetime
    ticket: SourceTicket | None = None
    changed: frozenset[Change] = frozenset()
    previous_status: str | None = None
    comment: SourceComment | None = None
    actor: str | None = None
    reason: str | None = None


class SignatureError(Exception):
    """A delivery whose signature is missing, malformed, wrong or stale (answered ``401``).

    The message says which, never the expected value.
    """


class PayloadError(Exception):
    """A delivery whose body is not what the source sends (answered ``422``).

    Args:
        field: Where in the body, as a dotted path (``ticket.status``), or ``body``.
        message: What is wrong there.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


__all__ = [
    "SOURCES",
    "Change",
    "FieldValue",
    "PayloadError",
    "SignatureError",
    "SourceComment",
    "SourceEvent",
    "SourceName",
    "SourceTicket",
]
