"""A source event becomes the contract's requests through its mapping, with stable update ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from escalations.intake.events import SourceComment, SourceEvent, SourceTicket
from escalations.intake.mapping import load_mappings
from escalations.intake.translate import MappingProblem, plan
from workflows.ticket_messages import ReportEventRequest, TicketInput

MAPPINGS = load_mappings(None)
AT = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def event(kind: str = "updated", source: str = "zendesk", **changes: Any) -> SourceEvent:
    ticket = SourceTicket(
        ref="481",
        title="Checkout\tdown",
        status="open",
        priority="high",
        group="Billing",
        assignee="ann@helpdesk.example",
        requester="tom@globex.example",
        organization="Globex",
        tags=("vip",),
        fields={"affected_users": 40},
    )
    values: dict[str, Any] = {
        "source": source,
        "delivery_id": "d-1",
        "kind": kind,
        "at": AT,
        "ticket": ticket.model_copy(update=changes.pop("ticket", {})),
    }
    return SourceEvent(**(values | changes))


def labels(source_event: SourceEvent) -> list[str]:
    return [step.label for step in plan(source_event, MAPPINGS[source_event.source]).steps]


def test_a_created_event_opens_with_the_mapped_fields_at_the_sources_time() -> None:
    steps = plan(event("created"), MAPPINGS["zendesk"]).steps
    assert [s.label for s in steps] == ["open"]
    opening = steps[0].request
    assert isinstance(opening, TicketInput)
    assert (opening.ticket_id, opening.priority, opening.team) == ("ZD-481", "P2", "billing")
    assert (opening.customer, opening.title, opening.opened_at) == ("Globex", "Checkout down", AT)
    assert (opening.affected_users, opening.critical_service) == (40, False)
    assert steps[0].update_id == "zendesk:d-1:open"


def test_a_ticket_created_waiting_or_solved_says_so_at_once() -> None:
    assert labels(event("created", ticket={"status": "pending"})) == [
        "open",
        "report_event:waiting",
    ]


@pytest.mark.parametrize(
    ("status", "report"),
    [("pending", "waiting"), ("open", "active"), ("hold", "active"), ("solved", "solved")],
)
def test_a_status_change_is_a_report_at_the_sources_time(status: str, report: str) -> None:
    steps = plan(event(changed={"status"}, ticket={"status": status}), MAPPINGS["zendesk"]).steps
    assert [s.label for s in steps] == [f"report_event:{report}"]
    request = steps[0].request
    assert isinstance(request, ReportEventRequest)
    assert (request.at, request.source) == (AT, "zendesk")


def test_an_unmapped_status_is_skipped_with_the_reason() -> None:
    result = plan(event(changed={"status"}, ticket={"status": "archived"}), MAPPINGS["zendesk"])
    assert result.steps == ()
    assert result.skipped == ("status 'archived' is not in the mapping's statuses",)


def test_facts_become_the_plain_updates() -> None:
    changed = event(changed={"priority", "group", "assignee", "tags"}, ticket={"tags": ("outage",)})
    assert labels(changed) == ["change_priority", "reassign", "update_impact"]


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        (
            SourceComment(author="ann@helpdesk.example", public=True, by_agent=True),
            ["report_event:agent_replied"],
        ),
        (
            SourceComment(author="tom@globex.example", public=True, by_agent=False),
            ["report_event:customer_replied"],
        ),
        (SourceComment(author="ann@helpdesk.example", public=False, by_agent=True), []),
    ],
)
def test_comments(comment: SourceComment, expected: list[str]) -> None:
    assert labels(event("comment", comment=comment)) == expected


def test_github_labels_say_waiting_and_priority() -> None:
    waiting = event(
        source="github",
        changed={"tags"},
        ticket={
            "status": "open",
            "priority": None,
            "tags": ("waiting-on-customer", "priority: urgent"),
        },
    )
    steps = plan(waiting, MAPPINGS["github"]).steps
    assert [s.label for s in steps] == ["report_event:waiting", "change_priority", "update_impact"]
    assert steps[1].request.model_dump() == {"priority": "P1"}


def test_events_of_no_ticket_ask_nothing_and_say_why() -> None:
    other = SourceEvent(source="github", delivery_id="d", kind="other", at=AT, reason="a ping")
    assert plan(other, MAPPINGS["github"]).skipped == ("a ping",)
    deleted = plan(event("deleted"), MAPPINGS["zendesk"])
    assert deleted.steps == ()
    assert "deleted" in deleted.skipped[0]


def test_a_redelivery_asks_the_same_update_ids() -> None:
    first = plan(event(changed={"status", "priority"}), MAPPINGS["zendesk"])
    again = plan(event(changed={"status", "priority"}), MAPPINGS["zendesk"])
    assert [s.update_id for s in first.steps] == [s.update_id for s in again.steps]
    assert len({s.update_id for s in first.steps}) == len(first.steps)


def test_a_requester_without_an_address_names_the_field() -> None:
    with pytest.raises(MappingProblem) as raised:
        plan(event("created", ticket={"requester": "tom"}), MAPPINGS["zendesk"])
    assert raised.value.field == "requester"


def test_a_ref_that_makes_no_ticket_id_names_the_field() -> None:
    with pytest.raises(MappingProblem) as raised:
        plan(event("created", ticket={"ref": "48 1/../x"}), MAPPINGS["zendesk"])
    assert raised.value.field == "ticket_id"
