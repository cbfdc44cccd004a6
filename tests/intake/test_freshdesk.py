"""Freshdesk's reader: the rule's token header, our webhook body, a ticket's life."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from escalations.intake.events import SignatureError, SourceComment
from escalations.intake.sources import freshdesk
from tests.intake.reader_cases import (
    DELETE,
    Life,
    Step,
    Template,
    TemplateBodyContract,
    changed,
    refused_at,
)

LIFE = Life("freshdesk", None)

SECRET = b"fd-7Qm2-shared-token-for-tests"
NOW = datetime(2026, 11, 27, 10, 4, tzinfo=UTC)
REPLY = LIFE.body("02-agent-reply.json")
AGENT, CUSTOMER = "sam.ortiz@helpdesk.example", "lena.fischer@initech.example"


# The token


def test_the_configured_token_verifies() -> None:
    freshdesk.verify({"x-escalations-token": SECRET.decode()}, REPLY, SECRET, NOW)


def test_spaces_around_the_token_are_not_part_of_it() -> None:
    freshdesk.verify({"x-escalations-token": f"  {SECRET.decode()} "}, REPLY, SECRET, NOW)


@pytest.mark.parametrize(
    "token",
    [
        "fd-7Qm2-shared-token-for-test",  # one character short
        "fd-7Qm2-shared-token-for-tests2",
        "FD-7QM2-SHARED-TOKEN-FOR-TESTS",
        "Bearer fd-7Qm2-shared-token-for-tests",
        "fd-7Qm2-shared-token-för-tests",
        "\u20ac\ud800",
    ],
)
def test_a_wrong_token_is_refused(token: str) -> None:
    with pytest.raises(SignatureError, match="does not match"):
        freshdesk.verify({"x-escalations-token": token}, REPLY, SECRET, NOW)


def test_a_missing_token_is_refused() -> None:
    with pytest.raises(SignatureError, match="missing"):
        freshdesk.verify({"x-hub-signature-256": "sha256=00"}, REPLY, SECRET, NOW)


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(SignatureError, match="empty"):
        freshdesk.verify({"x-escalations-token": "  "}, REPLY, SECRET, NOW)


def test_nothing_verifies_when_no_token_is_configured() -> None:
    with pytest.raises(SignatureError, match="no Freshdesk token"):
        freshdesk.verify({"x-escalations-token": "anything"}, REPLY, b"", NOW)


# A ticket's life

EXPECTED = {
    "01-created.json": Step("created", "Open"),
    "02-agent-reply.json": Step(
        "comment", "Open", comment=SourceComment(public=True, by_agent=True)
    ),
    "03-waiting-on-customer.json": Step(
        "updated", "Waiting on Customer", changed=frozenset({"status"})
    ),
    "04-customer-reply.json": Step(
        "comment",
        "Waiting on Customer",
        comment=SourceComment(public=True, by_agent=False, author=CUSTOMER),
    ),
    "05-open.json": Step("updated", "Open", changed=frozenset({"status"})),
    "06-resolved.json": Step("updated", "Resolved", changed=frozenset({"status"})),
}


@pytest.mark.parametrize("step", LIFE.steps, ids=LIFE.ids())
def test_each_step_of_the_life_reads_as_recorded(step: dict[str, Any]) -> None:
    LIFE.assert_reads(freshdesk, step, EXPECTED[step["file"]])


def test_the_life_opens_a_fully_described_ticket() -> None:
    event = LIFE.read(freshdesk, LIFE.steps[0])
    assert event.ticket is not None
    assert event.ticket.model_dump() == {
        "ref": "7315",
        "title": "Invoice INV-2026-1184 charged twice",
        "status": "Open",
        "priority": "Urgent",
        "group": "Billing",
        "assignee": AGENT,
        "requester": CUSTOMER,
        "organization": "Initech",
        "tags": ("invoice", "vip"),
        "fields": {},
    }


def test_the_life_happens_in_order_within_the_recorded_days() -> None:
    LIFE.assert_in_order(
        list(EXPECTED), datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    )


# The template


TEMPLATE = Template(
    "freshdesk-webhook.json",
    {
        "ticket.id": "311",
        "ticket.subject": "Can't export \\ to CSV",
        "ticket.status": "Waiting on Third Party",
        "ticket.priority": "Medium",
        "ticket.group.name": "",
        "ticket.agent.email": "",
        "ticket.contact.email": CUSTOMER,
        "ticket.company.name": "Initech",
        "ticket.tags": "export,csv, ",
        "ticket.modified_on | date: '%Y-%m-%dT%H:%M:%S%z'": "2026-11-29T17:35:00+0530",
    },
)


def test_the_template_filled_in_reads() -> None:
    event = freshdesk.read({}, TEMPLATE.filled("ticket.updated"))
    assert event.kind == "updated"
    assert event.at == datetime(2026, 11, 29, 12, 5, tzinfo=UTC)
    assert event.ticket is not None
    assert event.ticket.model_dump() == {
        "ref": "311",
        "title": "Can't export \\ to CSV",
        "status": "Waiting on Third Party",
        "priority": "Medium",
        "group": None,
        "assignee": None,
        "requester": CUSTOMER,
        "organization": "Initech",
        "tags": ("export", "csv"),
        "fields": {},
    }


@pytest.mark.parametrize(
    "rendered",
    [
        "2026-11-29T12:05:00Z",
        "2026-11-29T17:35:00+05:30",
        "2026-11-29 12:05:00 UTC",
        "2026-11-29 17:35:00 +0530",
        "2026-11-29 07:05:00 -0500",
    ],
)
def test_the_update_time_reads_in_iso_and_in_rubys_rendering(rendered: str) -> None:
    event = freshdesk.read({}, changed(REPLY, "at", rendered))
    assert event.at == datetime(2026, 11, 29, 12, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        ({"by": "agent", "public": "false"}, SourceComment(public=False, by_agent=True)),
        ({"by": "Requester", "public": True}, SourceComment(public=True, by_agent=False)),
        (
            {"by": "requester", "public": True, "author": CUSTOMER},
            SourceComment(public=True, by_agent=False, author=CUSTOMER),
        ),
    ],
)
def test_the_rule_says_who_wrote_the_comment(
    comment: dict[str, Any], expected: SourceComment
) -> None:
    assert freshdesk.read({}, changed(REPLY, "comment", comment)).comment == expected


def test_custom_fields_are_read_as_flat_values() -> None:
    fields = {"cf_affected_users": " 40 ", "cf_region": "", "cf_vip": True, "cf_score": 2.5}
    event = freshdesk.read({}, changed(REPLY, "ticket.fields", fields))
    assert event.ticket is not None
    assert event.ticket.fields == {
        "cf_affected_users": "40",
        "cf_region": None,
        "cf_vip": True,
        "cf_score": 2.5,
    }


# Malformed bodies (the template's own are in the contract below)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (changed(REPLY, "comment.by", DELETE), "comment.by"),
        (changed(REPLY, "comment.by", "bot"), "comment.by"),
    ],
)
def test_a_malformed_comment_author_names_the_field(body: bytes, where: str) -> None:
    assert refused_at(freshdesk, body) == where


# Any body, and what every reader of the template checks alike


class TestReaderContract(TemplateBodyContract):
    reader = freshdesk
    template = TEMPLATE
    samples = (REPLY,)
    texts: ClassVar[dict[str, str]] = {
        "ticket.organization": "ticket.organization",
        "ticket.title": "ticket.title",
        "ticket.group": "ticket.group",
    }
    paths = (
        "event",
        "changed",
        "at",
        "ticket",
        "ticket.id",
        "ticket.title",
        "ticket.tags",
        "ticket.fields",
        "comment",
        "comment.by",
        "comment.public",
        "comment.author",
    )
