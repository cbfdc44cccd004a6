"""Zammad trigger webhooks: the signature, the recorded life of one ticket, and bodies that are
not what Zammad sends.

The life in ``tests/data/intake/zammad`` was written for this project in the shape of Zammad's
default webhook payload (a ticket with its associations expanded, and the triggering article);
nothing in it is copied from Zammad's documentation.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from escalations.intake.events import SourceComment
from escalations.intake.sources import zammad
from escalations.intake.sources.common import body_digest
from tests.intake.reader_cases import (
    DELETE,
    Life,
    PrefixedHexContract,
    Step,
    changed,
    json_of,
    read_json,
    refused_at,
)

LIFE = Life("zammad", zammad.DELIVERY_HEADER)

EVERYTHING = frozenset({"status", "priority", "group", "assignee"})
"""What an update of a snapshot without tags says changed."""


read = functools.partial(read_json, zammad)
"""A life file's data, edited, as the reader reads it."""


# --- the recorded life of ticket 31017 ----------------------------------------------------------

AGENT, CUSTOMER = "emma.taylor@example.com", "jonas.becker@example.org"

# A snapshot never says the status before: every step's previous_status is None.
EXPECTED = {
    "01-created.json": Step("created", "new"),
    "02-agent-reply.json": Step(
        "comment", "open", comment=SourceComment(author=AGENT, public=True, by_agent=True)
    ),
    "03-pending-reminder.json": Step("updated", "pending reminder", changed=EVERYTHING),
    "04-customer-reply.json": Step(
        "comment",
        "pending reminder",
        comment=SourceComment(author=CUSTOMER, public=True, by_agent=False),
    ),
    "05-open.json": Step("updated", "open", changed=EVERYTHING),
    "06-closed.json": Step("updated", "closed", changed=EVERYTHING),
}


def test_the_life_is_complete_and_in_order() -> None:
    LIFE.assert_in_order(
        list(EXPECTED), datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert all(step["headers"]["X-Zammad-Trigger"] for step in LIFE.steps)


@pytest.mark.parametrize("step", LIFE.steps, ids=LIFE.ids())
def test_each_life_step_reads(step: dict[str, Any]) -> None:
    event = LIFE.assert_reads(zammad, step, EXPECTED[step["file"]])

    assert event.ticket is not None
    assert event.ticket.ref == "4217"
    assert event.ticket.priority == "3 high"
    assert event.ticket.group == "Payments"
    assert event.ticket.assignee == AGENT
    assert event.ticket.requester == CUSTOMER
    assert event.ticket.organization == "Northwind Traders"


def test_the_created_ticket_reads_in_full() -> None:
    event = read(LIFE.payload("01-created.json"))

    assert event.ticket.model_dump() == {
        "ref": "4217",
        "title": "Card payments declined at checkout since 08:30",
        "status": "new",
        "priority": "3 high",
        "group": "Payments",
        "assignee": "emma.taylor@example.com",
        "requester": "jonas.becker@example.org",
        "organization": "Northwind Traders",
        "tags": (),
        "fields": {"number": "31017"},
    }
    assert event.actor == "jonas.becker@example.org"


# --- rules ---------------------------------------------------------------------------------------


def test_without_the_delivery_header_the_delivery_is_named_by_its_body() -> None:
    body = LIFE.body("03-pending-reminder.json")

    assert zammad.read({}, body).delivery_id == body_digest(body)


def test_the_trigger_header_changes_nothing() -> None:
    body = LIFE.body("03-pending-reminder.json")
    headers = {"x-zammad-delivery": "d-1"}

    assert zammad.read(headers, body) == zammad.read(
        {**headers, "x-zammad-trigger": "another trigger"}, body
    )


def test_an_overlong_delivery_header_is_refused() -> None:
    headers = {"x-zammad-delivery": "x" * 201}
    assert refused_at(zammad, LIFE.body("01-created.json"), headers) == "X-Zammad-Delivery"


def test_expanded_and_plain_names_read_alike() -> None:
    data = LIFE.payload("05-open.json")
    ticket = data["ticket"]
    ticket.update(
        state={"id": 2, "name": "open"},
        priority="3 high",
        group="Payments",
        organization="Northwind Traders",
        owner="emma.taylor@example.com",
        customer="jonas.becker@example.org",
    )

    assert read(data).ticket == read(LIFE.payload("05-open.json")).ticket


def test_an_unassigned_ticket_without_organization() -> None:
    data = LIFE.payload("01-created.json")
    data["ticket"]["owner"] = {"id": 1, "login": "-", "firstname": "-", "lastname": "", "email": ""}
    data["ticket"]["owner_id"] = 1
    data["ticket"]["organization"] = {}

    ticket = read(data).ticket

    assert (ticket.assignee, ticket.organization) == (None, None)


def test_a_null_organization_and_absent_article() -> None:
    data = LIFE.payload("05-open.json")
    data["ticket"]["organization"] = None
    del data["article"]

    event = read(data)

    assert (event.kind, event.ticket.organization) == ("updated", None)


def test_a_user_without_an_email_reads_as_the_login() -> None:
    data = LIFE.payload("01-created.json")
    data["ticket"]["customer"] = dict(data["ticket"]["customer"], email="", login="jonas")

    assert read(data).ticket.requester == "jonas"


def test_tags_when_the_payload_has_them_are_read_and_named_changed() -> None:
    data = LIFE.payload("05-open.json")
    data["ticket"]["tags"] = ["payments", " ", "vip"]

    event = read(data)

    assert event.ticket.tags == ("payments", "vip")
    assert event.changed == EVERYTHING | {"tags"}


def test_an_agent_opened_ticket_is_created_not_a_comment() -> None:
    # A phone ticket an agent opens: the first article is the agent's, in the same second.
    data = LIFE.payload("01-created.json")
    data["article"].update(sender="Agent", type="phone", created_by=data["ticket"]["owner"])

    assert read(data).kind == "created"


def test_an_internal_note_is_a_comment_not_public() -> None:
    data = LIFE.payload("02-agent-reply.json")
    data["article"].update(type="note", internal=True)

    comment = read(data).comment

    assert (comment.public, comment.by_agent) == (False, True)


def test_a_system_article_is_no_comment() -> None:
    # Zammad's own auto-reply: not an agent's answer, not the customer's.
    data = LIFE.payload("02-agent-reply.json")
    data["article"]["sender"] = "System"

    event = read(data)

    assert (event.kind, event.comment, event.changed) == ("updated", None, EVERYTHING)


def test_an_article_older_than_the_update_is_no_comment() -> None:
    data = LIFE.payload("05-open.json")
    data["article"] = LIFE.payload("04-customer-reply.json")["article"]  # 31 minutes before

    assert read(data).kind == "updated"


@pytest.mark.parametrize(
    ("seconds", "kind"), [(0.9, "created"), (1.0, "created"), (1.1, "updated")]
)
def test_created_means_updated_within_a_second(seconds: float, kind: str) -> None:
    data = LIFE.payload("03-pending-reminder.json")
    data["ticket"]["updated_at"] = f"2026-11-28T08:02:{11.583 + seconds:06.3f}Z"

    assert read(data).kind == kind


@pytest.mark.parametrize(("seconds", "kind"), [(2.0, "comment"), (2.5, "updated")])
def test_a_comment_is_an_article_within_two_seconds_of_the_update(
    seconds: float, kind: str
) -> None:
    data = LIFE.payload("02-agent-reply.json")
    data["ticket"]["updated_at"] = f"2026-11-28T09:10:{45.118 + seconds:06.3f}Z"

    assert read(data).kind == kind


def test_the_author_is_the_person_an_agent_wrote_for() -> None:
    data = LIFE.payload("02-agent-reply.json")
    data["article"]["origin_by"] = "jonas.becker@example.org"
    data["article"]["sender"] = "Customer"

    assert read(data).comment.author == "jonas.becker@example.org"


def test_without_a_creator_the_author_is_the_from_address() -> None:
    data = LIFE.payload("04-customer-reply.json")
    data["article"].update(created_by={}, **{"from": "Jonas Becker <jonas@example.org>"})

    assert read(data).comment.author == "jonas@example.org"


# --- bodies Zammad does not send -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path", "value", "error_field"),
    [
        ("01-created.json", "ticket", DELETE, "ticket"),
        ("01-created.json", "ticket", [4217], "ticket"),
        ("01-created.json", "ticket.id", DELETE, "ticket.id"),
        ("01-created.json", "ticket.id", True, "ticket.id"),
        ("01-created.json", "ticket.id", 42.17, "ticket.id"),
        ("01-created.json", "ticket.id", "9" * 201, "ticket.id"),
        ("01-created.json", "ticket.title", ["x"], "ticket.title"),
        ("01-created.json", "ticket.state", ["open"], "ticket.state"),
        ("01-created.json", "ticket.priority.name", {"x": 1}, "ticket.priority.name"),
        ("01-created.json", "ticket.owner", 5, "ticket.owner"),
        ("01-created.json", "ticket.tags", "vip", "ticket.tags"),
        ("01-created.json", "ticket.created_at", DELETE, "ticket.created_at"),
        ("01-created.json", "ticket.updated_at", 1796018531702, "ticket.updated_at"),
        ("01-created.json", "ticket.updated_at", "yesterday", "ticket.updated_at"),
        ("01-created.json", "ticket.updated_at", "2026-11-28T08:02:11", "ticket.updated_at"),
        ("01-created.json", "ticket.updated_at", "0001-01-01T00:00:00+01:00", "ticket.updated_at"),
        ("01-created.json", "article", "hello", "article"),
        ("02-agent-reply.json", "article.sender", ["Agent"], "article.sender"),
        ("02-agent-reply.json", "article.internal", DELETE, "article.internal"),
        ("02-agent-reply.json", "article.internal", "false", "article.internal"),
        ("02-agent-reply.json", "article.created_at", DELETE, "article.created_at"),
        ("02-agent-reply.json", "article.created_by", 5, "article.created_by"),
    ],
)
def test_a_malformed_body_names_the_field(
    name: str, path: str, value: Any, error_field: str
) -> None:
    assert refused_at(zammad, changed(LIFE.body(name), path, value)) == error_field


def test_a_tag_that_is_no_string_is_named() -> None:
    data = LIFE.payload("01-created.json")
    data["ticket"]["tags"] = ["vip", 7]

    assert refused_at(zammad, json.dumps(data).encode()) == "ticket.tags[1]"


# --- the signature, and any body -----------------------------------------------------------------

KEYS, JSON = json_of(
    [
        "ticket",
        "article",
        "id",
        "number",
        "title",
        "state",
        "priority",
        "group",
        "owner",
        "customer",
        "organization",
        "tags",
        "name",
        "email",
        "login",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
        "origin_by",
        "sender",
        "internal",
        "from",
    ],
    [
        "Agent",
        "Customer",
        "System",
        "-",
        "2026-11-28T08:02:11.583Z",
        "2026-11-28T08:02:12.000Z",
        "2026-11-28T09:10:45Z",
        "9999-12-31T23:59:59-01:00",
    ],
)


class TestReaderContract(PrefixedHexContract):
    reader = zammad
    life = LIFE
    # signature-vectors.json, "Zammad" (computed from lib/user_agent.rb's documented algorithm).
    vector = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"
    # Zammad sends no signature when the webhook has no token: with a secret configured here,
    # such a delivery is refused.
    unsigned: ClassVar[dict[str, str]] = {"x-zammad-delivery": "x"}
    samples = tuple(LIFE.body(name) for name in EXPECTED)
    texts: ClassVar[dict[str, str]] = {
        "ticket.title": "ticket.title",
        "ticket.group.name": "ticket.group",
    }
    keys = KEYS
    values = JSON
