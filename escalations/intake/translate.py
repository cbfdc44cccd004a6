"""A helpdesk's event, read, turned into the ticket contract's requests through its mapping.

Pure: no Temporal, no I/O. Each request carries an update id built from the source's delivery
id, so a redelivered event asks for the same updates and the ticket applies each once. What
happened on the helpdesk's timeline (a status, a reply) becomes a ``report_event`` at the
source's time; facts (priority, group, assignee, impact, and the tags and attributes of
:mod:`escalations.intake.attributes`) become the plain updates, applied when they arrive.
"""

from __future__ import annotations

import dataclasses

from pydantic import BaseModel, ValidationError

from escalations.intake import attributes
from escalations.intake.events import SourceEvent, SourceTicket
from escalations.intake.mapping import Mapping
from workflows.ticket_messages import (
    ChangePriorityRequest,
    ReassignRequest,
    ReportEventRequest,
    TicketInput,
    UpdateImpactRequest,
)
from workflows.ticket_timeline import HelpdeskEvent

OPEN = "open"
"""The step that opens the ticket; every other step names an update."""


@dataclasses.dataclass(frozen=True)
class Step:
    """One request to send: ``open`` or an update's name, its model and its update id."""

    name: str
    request: BaseModel
    update_id: str

    @property
    def label(self) -> str:
        """How logs and answers name it: ``report_event:waiting``, ``change_priority``."""
        if isinstance(self.request, ReportEventRequest):
            return f"{self.name}:{self.request.event}"
        return self.name


@dataclasses.dataclass(frozen=True)
class Plan:
    """What an event asks of one ticket: its steps in order, and what was left out and why."""

    ticket_id: str | None
    steps: tuple[Step, ...]
    skipped: tuple[str, ...] = ()


class MappingProblem(Exception):
    """The event's values do not make a valid ticket or request (answered ``422``).

    Args:
        field: The contract's field that came out wrong (``requester``, ``ticket_id``).
        message: What is wrong, with the source's value.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def plan(event: SourceEvent, mapping: Mapping) -> Plan:
    """The steps ``event`` asks for under ``mapping``; none (with a reason) when it asks for
    nothing.

    Raises:
        MappingProblem: a value that makes no valid ticket id, ticket or request.
    """
    if event.kind == "other" or event.ticket is None:
        return Plan(None, (), (event.reason or f"{event.source} event of no ticket",))
    ticket = event.ticket
    ticket_id = f"{mapping.ticket_id_prefix}{ticket.ref}"
    if event.kind == "deleted":
        return Plan(ticket_id, (), ("a deleted ticket is left as it is here; resolve it",))
    builder = _Builder(event, mapping, ticket_id)
    if event.kind == "created":
        builder.open(ticket)
        category = mapping.category(ticket.status, ticket.tags)
        if category in ("waiting", "solved"):
            builder.report(category, "status")
    if event.kind == "updated":
        builder.changes(ticket)
    if event.comment is not None:
        builder.comment()
    return Plan(ticket_id, tuple(builder.steps), tuple(builder.skipped))


class _Builder:
    def __init__(self, event: SourceEvent, mapping: Mapping, ticket_id: str) -> None:
        self.event = event
        self.mapping = mapping
        self.ticket_id = ticket_id
        self.steps: list[Step] = []
        self.skipped: list[str] = []

    def add(self, name: str, request: BaseModel, part: str) -> None:
        update_id = f"{self.event.source}:{self.event.delivery_id}:{part}"
        self.steps.append(Step(name, request, update_id))

    def open(self, ticket: SourceTicket) -> None:
        m = self.mapping
        customer = ticket.organization if m.customer_from == "organization" else None
        customer = customer or ticket.requester or m.default_customer
        requester = m.address_for(ticket.requester)
        if requester is None:
            raise MappingProblem(
                "requester",
                f"{ticket.requester!r} is not an email address and the mapping's people table "
                "does not name it (add it there, or set login_domain)",
            )
        carried = attributes.carried(ticket, m)
        self.skipped += carried.skipped
        values = {
            "ticket_id": self.ticket_id,
            "title": _one_line(ticket.title) or f"{self.event.source} ticket {ticket.ref}",
            "priority": m.priority_for(ticket.priority, ticket.tags),
            "team": m.team_for(ticket.group),
            "customer": _one_line(customer)[:200],
            "requester": requester,
            "assignee": m.address_for(ticket.assignee),
            "policy": m.policy,
            "opened_at": self.event.at,
            **self._impact(ticket),
            **carried.opening(),
        }
        self.add(OPEN, _build(TicketInput, values), "open")

    def report(self, event: HelpdeskEvent, part: str, by: str | None = None) -> None:
        request = _build(
            ReportEventRequest,
            {
                "event": event,
                "at": self.event.at,
                "by": _one_line(by or self.event.actor or "")[:200] or None,
                "source": self.event.source,
            },
        )
        self.add("report_event", request, f"{part}-{event}")

    def changes(self, ticket: SourceTicket) -> None:
        m, changed = self.mapping, self.event.changed
        if "status" in changed or ("tags" in changed and m.waiting_tags):
            category = m.category(ticket.status, ticket.tags)
            if category is None:
                self.skipped.append(f"status {ticket.status!r} is not in the mapping's statuses")
            else:
                self.report(category, "status")
        if "priority" in changed or ("tags" in changed and m.priority_tags):
            priority = m.priority_for(ticket.priority, ticket.tags)
            self.add("change_priority", ChangePriorityRequest(priority=priority), "priority")
        if "group" in changed or "assignee" in changed:
            self._reassign(ticket)
        if changed & {"tags", "fields"} and self._impact(ticket):
            request = _build(UpdateImpactRequest, self._impact(ticket))
            self.add("update_impact", request, "impact")
        update, skipped = attributes.update_request(ticket, m, changed)
        self.skipped += skipped
        if update is not None:
            self.add("update_attributes", update, "attributes")

    def comment(self) -> None:
        comment = self.event.comment
        assert comment is not None
        if not comment.public:
            self.skipped.append("an internal note moves no clock")
        elif comment.by_agent:
            self.report("agent_replied", "comment", self.mapping.address_for(comment.author))
        else:
            self.report("customer_replied", "comment", comment.author)

    def _reassign(self, ticket: SourceTicket) -> None:
        team = self.mapping.team_for(ticket.group) if "group" in self.event.changed else None
        assignee = None
        if "assignee" in self.event.changed:
            assignee = self.mapping.address_for(ticket.assignee)
            if assignee is None and ticket.assignee is not None:
                self.skipped.append(
                    f"assignee {ticket.assignee!r} has no email address in the mapping"
                )
        if team is None and assignee is None:
            if ticket.assignee is None and "assignee" in self.event.changed:
                self.skipped.append("unassigned: the ticket keeps its last assignee here")
            return
        self.add(
            "reassign", _build(ReassignRequest, {"team": team, "assignee": assignee}), "reassign"
        )

    def _impact(self, ticket: SourceTicket) -> dict[str, object]:
        impact = self.mapping.impact
        values: dict[str, object] = {}
        if impact.critical_service_tags:
            tags = {tag.casefold() for tag in ticket.tags}
            values["critical_service"] = bool(tags & set(impact.critical_service_tags))
        if impact.affected_users_field is not None:
            count = ticket.fields.get(impact.affected_users_field)
            if isinstance(count, int | float) and not isinstance(count, bool):
                values["affected_users"] = int(count)
            elif isinstance(count, str) and count.strip().isdigit():
                values["affected_users"] = int(count.strip())
        return values


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def _build(model: type[BaseModel], values: dict[str, object]) -> BaseModel:
    try:
        return model.model_validate(values)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or model.__name__
        raise MappingProblem(where, first["msg"].removeprefix("Value error, ")) from None
