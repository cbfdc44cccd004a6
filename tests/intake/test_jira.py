"""Jira Cloud / JSM webhooks: the signature, the recorded life of one request, and bodies that
are not what Jira sends.

The life in ``tests/data/intake/jira`` was written for this project after the fields Atlassian
documents (webhookEvent, issue_event_type_name, user, issue, changelog, comment); nothing in it is
copied from Atlassian.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from escalations.intake.events import SourceComment
from escalations.intake.sources import jira
from escalations.intake.sources.common import MAX_TEXT, body_digest
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

LIFE = Life("jira", jira.DELIVERY_HEADER)


read = functools.partial(read_json, jira)
"""A life file's data, edited, as the reader reads it."""


# --- the recorded life of SUP-1042 ---------------------------------------------------------------

AGENT, CUSTOMER = "priya.raman@example.com", "jonas.becker@example.org"

EXPECTED = {
    "01-created.json": Step("created", "Waiting for support"),
    "02-agent-reply.json": Step(
        "comment",
        "Waiting for support",
        comment=SourceComment(author=AGENT, public=True, by_agent=True),
    ),
    "03-waiting-for-customer.json": Step(
        "updated",
        "Waiting for customer",
        changed=frozenset({"status"}),
        previous_status="Waiting for support",
    ),
    "04-customer-reply.json": Step(
        "comment",
        "Waiting for customer",
        comment=SourceComment(author=CUSTOMER, public=True, by_agent=False),
    ),
    "05-in-progress.json": Step(
        "updated",
        "In Progress",
        changed=frozenset({"status"}),
        previous_status="Waiting for customer",
    ),
    "06-resolved.json": Step(
        "updated",
        "Resolved",
        changed=frozenset({"status", "fields"}),
        previous_status="In Progress",
    ),
}


def test_the_life_is_complete_and_in_order() -> None:
    LIFE.assert_in_order(
        list(EXPECTED), datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    )


@pytest.mark.parametrize("step", LIFE.steps, ids=LIFE.ids())
def test_each_life_step_reads(step: dict[str, Any]) -> None:
    event = LIFE.assert_reads(jira, step, EXPECTED[step["file"]])

    assert event.ticket is not None
    assert event.ticket.ref == "SUP-1042"
    assert event.ticket.priority == "High"
    assert event.ticket.assignee == AGENT


def test_the_created_issue_reads_in_full() -> None:
    event = read(LIFE.payload("01-created.json"))

    assert event.ticket.model_dump() == {
        "ref": "SUP-1042",
        "title": "Card payments declined at checkout since 08:30",
        "status": "Waiting for support",
        "priority": "High",
        "group": "Payments",
        "assignee": "priya.raman@example.com",
        "requester": "jonas.becker@example.org",
        "organization": None,
        "tags": ("checkout", "payments-outage"),
        # The request type (an object of its own), the organizations (a list) and an empty
        # field are left out.
        "fields": {"customfield_10057": "Production", "customfield_10058": 420},
    }
    assert event.actor == "jonas.becker@example.org"


# --- rules ---------------------------------------------------------------------------------------


def test_without_the_identifier_header_the_delivery_is_named_by_its_body() -> None:
    body = LIFE.body("03-waiting-for-customer.json")

    assert jira.read({}, body).delivery_id == body_digest(body)
    assert jira.read({"x-atlassian-webhook-identifier": "  "}, body).delivery_id == body_digest(
        body
    )


def test_an_overlong_identifier_header_is_refused() -> None:
    headers = {"x-atlassian-webhook-identifier": "x" * 201}
    where = refused_at(jira, LIFE.body("01-created.json"), headers)
    assert where == "X-Atlassian-Webhook-Identifier"


def test_an_issue_commented_update_is_a_comment() -> None:
    data = LIFE.payload("05-in-progress.json")
    data["issue_event_type_name"] = "issue_commented"
    data["comment"] = LIFE.payload("04-customer-reply.json")["comment"]

    event = read(data)

    assert event.kind == "comment"
    assert event.comment.author == "jonas.becker@example.org"
    assert event.comment.by_agent is False  # the reporter, by accountId
    assert event.changed == {"status"}
    assert event.actor == "jonas.becker@example.org"


def test_an_issue_commented_update_without_its_comment_stays_an_update() -> None:
    data = LIFE.payload("05-in-progress.json")
    data["issue_event_type_name"] = "issue_commented"

    assert read(data).kind == "updated"


def test_the_reporter_is_no_agent_even_without_the_customer_account_type() -> None:
    data = LIFE.payload("05-in-progress.json")
    data["issue_event_type_name"] = "issue_commented"
    reporter = dict(data["issue"]["fields"]["reporter"], accountType="atlassian")
    data["issue"]["fields"]["reporter"] = reporter
    data["comment"] = dict(LIFE.payload("04-customer-reply.json")["comment"], author=reporter)

    assert read(data).comment.by_agent is False


def test_a_portal_customer_who_is_not_the_reporter_is_no_agent() -> None:
    data = LIFE.payload("04-customer-reply.json")
    data["comment"]["author"] = dict(
        data["comment"]["author"], accountId="qm:another", emailAddress="colleague@example.org"
    )

    assert read(data).comment.by_agent is False


def test_an_app_comment_is_nobodys_reply() -> None:
    data = LIFE.payload("02-agent-reply.json")
    data["comment"]["author"] = {
        "accountId": "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077",
        "displayName": "Automation for Jira",
        "accountType": "app",
    }

    event = read(data)

    assert event.kind == "other"
    assert event.comment is None
    assert event.reason is not None


def test_an_app_comment_that_changed_fields_is_an_update() -> None:
    data = LIFE.payload("05-in-progress.json")
    data["issue_event_type_name"] = "issue_commented"
    data["comment"] = dict(
        LIFE.payload("02-agent-reply.json")["comment"],
        author={
            "accountId": "557058:app",
            "displayName": "Automation for Jira",
            "accountType": "app",
        },
    )

    event = read(data)

    assert (event.kind, event.changed, event.comment) == ("updated", {"status"}, None)


def test_an_internal_jsm_comment_is_not_public() -> None:
    data = LIFE.payload("02-agent-reply.json")
    data["comment"]["jsdPublic"] = False

    assert read(data).comment.public is False


def test_a_comment_without_jsd_public_is_public() -> None:
    data = LIFE.payload("02-agent-reply.json")
    del data["comment"]["jsdPublic"]

    assert read(data).comment.public is True


def test_people_without_an_email_read_as_their_display_name() -> None:
    data = LIFE.payload("01-created.json")
    del data["issue"]["fields"]["assignee"]["emailAddress"]
    del data["issue"]["fields"]["reporter"]["emailAddress"]

    ticket = read(data).ticket

    assert (ticket.assignee, ticket.requester) == ("Priya Raman", "Jonas Becker")


def test_an_unassigned_issue_without_components_or_labels() -> None:
    data = LIFE.payload("01-created.json")
    fields = data["issue"]["fields"]
    fields.update(assignee=None, components=[], labels=[])

    ticket = read(data).ticket

    assert (ticket.assignee, ticket.group, ticket.tags) == (None, None, ())


@pytest.mark.parametrize(
    ("field", "part"),
    [
        ("status", "status"),
        ("priority", "priority"),
        ("assignee", "assignee"),
        ("labels", "tags"),
        ("Component", "group"),
        ("resolution", "fields"),
        ("Request participants", "fields"),
    ],
)
def test_changelog_fields_name_the_part_changed(field: str, part: str) -> None:
    data = LIFE.payload("03-waiting-for-customer.json")
    data["changelog"]["items"] = [
        {"field": field, "fieldtype": "jira", "fromString": "a", "toString": "b"}
    ]

    event = read(data)

    assert event.changed == {part}
    assert event.previous_status == ("a" if part == "status" else None)


def test_custom_fields_flatten_to_plain_values() -> None:
    data = LIFE.payload("01-created.json")
    data["issue"]["fields"] = {
        "customfield_10100": "plain",
        "customfield_10101": 2.5,
        "customfield_10102": {"self": "x", "value": "Option", "id": "1"},
        "customfield_10103": {"name": "Version 2"},
        "customfield_10104": {"value": "Parent", "child": {"value": "Child"}},
        "customfield_10105": ["a", "b"],
        "customfield_10106": {"accountId": "1", "displayName": "Somebody"},
        "customfield_10107": None,
        "customfield_10108": "x" * (MAX_TEXT + 100),
        "summary": "not a custom field",
    }

    assert read(data).ticket.fields == {
        "customfield_10100": "plain",
        "customfield_10101": 2.5,
        "customfield_10102": "Option",
        "customfield_10103": "Version 2",
        "customfield_10104": "Parent",
        "customfield_10108": "x" * MAX_TEXT,
    }


def test_a_deleted_issue() -> None:
    data = LIFE.payload("06-resolved.json")
    data.update(webhookEvent="jira:issue_deleted", issue_event_type_name="issue_deleted")
    del data["changelog"]

    event = read(data)

    assert (event.kind, event.ticket.ref, event.changed) == ("deleted", "SUP-1042", frozenset())


@pytest.mark.parametrize("name", ["worklog_created", "comment_updated", "sprint_started"])
def test_other_events_mean_nothing_to_tickets(name: str) -> None:
    event = read({"timestamp": 1796036043512, "webhookEvent": name})

    assert (event.kind, event.ticket) == ("other", None)
    assert event.reason is not None
    assert name in event.reason


# --- bodies Jira does not send -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path", "value", "error_field"),
    [
        ("01-created.json", "issue.key", DELETE, "issue.key"),
        ("01-created.json", "issue.key", "  ", "issue.key"),
        ("01-created.json", "issue.key", ["SUP-1"], "issue.key"),
        ("01-created.json", "issue.key", "K" * 201, "issue.key"),
        ("01-created.json", "issue", DELETE, "issue"),
        ("01-created.json", "issue", "SUP-1042", "issue"),
        ("01-created.json", "issue.fields", [], "issue.fields"),
        ("01-created.json", "webhookEvent", DELETE, "webhookEvent"),
        ("01-created.json", "webhookEvent", {"name": "x"}, "webhookEvent"),
        ("01-created.json", "timestamp", DELETE, "timestamp"),
        ("01-created.json", "timestamp", "2026-11-28T09:14:03Z", "timestamp"),
        ("01-created.json", "timestamp", True, "timestamp"),
        ("01-created.json", "timestamp", 10**20, "timestamp"),
        ("01-created.json", "issue.fields.summary", 3.5, "issue.fields.summary"),
        ("01-created.json", "issue.fields.status", "Open", "issue.fields.status"),
        ("01-created.json", "issue.fields.priority.name", {"x": 1}, "issue.fields.priority.name"),
        ("01-created.json", "issue.fields.assignee", "priya", "issue.fields.assignee"),
        ("01-created.json", "issue.fields.components", {"name": "x"}, "issue.fields.components"),
        ("01-created.json", "issue.fields.components.0", "Payments", "issue.fields.components[0]"),
        ("01-created.json", "issue.fields.labels.1", 7, "issue.fields.labels[1]"),
        ("03-waiting-for-customer.json", "changelog.items", {}, "changelog.items"),
        ("03-waiting-for-customer.json", "changelog.items.0", "status", "changelog.items[0]"),
        (
            "03-waiting-for-customer.json",
            "changelog.items.0.field",
            DELETE,
            "changelog.items[0].field",
        ),
        (
            "03-waiting-for-customer.json",
            "changelog.items.0.fromString",
            [],
            "changelog.items[0].fromString",
        ),
        ("02-agent-reply.json", "comment", DELETE, "comment"),
        ("02-agent-reply.json", "comment", "hello", "comment"),
        ("02-agent-reply.json", "comment.jsdPublic", "yes", "comment.jsdPublic"),
        ("02-agent-reply.json", "comment.author", "priya", "comment.author"),
    ],
)
def test_a_malformed_body_names_the_field(
    name: str, path: str, value: Any, error_field: str
) -> None:
    assert refused_at(jira, changed(LIFE.body(name), path, value)) == error_field


# --- the signature, and any body -----------------------------------------------------------------

KEYS, JSON = json_of(
    [
        "webhookEvent",
        "timestamp",
        "issue_event_type_name",
        "user",
        "issue",
        "key",
        "fields",
        "summary",
        "status",
        "priority",
        "name",
        "components",
        "labels",
        "assignee",
        "reporter",
        "emailAddress",
        "displayName",
        "accountId",
        "accountType",
        "changelog",
        "items",
        "field",
        "fromString",
        "comment",
        "author",
        "jsdPublic",
        "customfield_10010",
        "value",
    ],
    [
        "jira:issue_created",
        "jira:issue_updated",
        "jira:issue_deleted",
        "comment_created",
        "issue_commented",
        "customer",
        "app",
        "status",
        "labels",
        1796036043512,
    ],
)


class TestReaderContract(PrefixedHexContract):
    reader = jira
    life = LIFE
    # signature-vectors.json, "Jira Cloud / Jira Service Management" (computed from the
    # documented algorithm; the same inputs as GitHub's published X-Hub-Signature-256 example).
    vector = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    # GitHub's header is not Jira's.
    unsigned: ClassVar[dict[str, str]] = {"x-hub-signature-256": vector}
    samples = tuple(LIFE.body(name) for name in EXPECTED)
    texts: ClassVar[dict[str, str]] = {
        "issue.fields.summary": "ticket.title",
        "issue.fields.labels.0": "ticket.tags.0",
    }
    keys = KEYS
    values = JSON
