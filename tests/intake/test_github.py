"""GitHub's reader: the published signature vector, octokit's schemas and examples, a life."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from escalations.intake.events import SourceComment
from escalations.intake.sources import github
from escalations.intake.sources.common import MAX_TEXT
from tests.intake.reader_cases import (
    DELETE,
    Life,
    PrefixedHexContract,
    Step,
    changed,
    refused_at,
)

LIFE = Life("github", github.DELIVERY_HEADER)
OCTOKIT = LIFE.folder / "octokit-webhooks"
SCHEMAS = OCTOKIT / "payload-schemas" / "api.github.com"
EXAMPLES = OCTOKIT / "payload-examples" / "api.github.com"

# docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries, "Testing the webhook
# payload validation" (also ../shared/vendor/helpdesk/signature-vectors.json, "published"): the
# signature of "Hello, World!" under "It's a Secret to Everybody".
PUBLISHED = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

OPENED = LIFE.body("01-opened.json")
COMMENT = LIFE.body("02-agent-comment.json")
LENA, SAM = "lena-fischer", "sam-ortiz"


def schemas() -> dict[str, Any]:
    found = [json.loads(p.read_text(encoding="utf-8")) for p in SCHEMAS.rglob("*.schema.json")]
    by_id = {schema["$id"]: schema for schema in found}
    # octokit's issues$unlabeled has labeled's shape (the copy holds no file of it).
    unlabeled = copy.deepcopy(by_id["issues$labeled"])
    unlabeled["$id"] = "issues$unlabeled"
    unlabeled["properties"]["action"]["enum"] = ["unlabeled"]
    by_id["issues$unlabeled"] = unlabeled
    return by_id


SCHEMA = schemas()
REGISTRY: Registry[Any] = Registry().with_resources(
    (schema_id, Resource.from_contents(schema, default_specification=DRAFT7))
    for schema_id, schema in SCHEMA.items()
)


def schema_errors(event: str, payload: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(
        SCHEMA[f"{event}${payload['action']}"], registry=REGISTRY
    )
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(payload)]


def delivery(
    event: str, delivery_id: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
) -> dict[str, str]:
    return {"x-github-event": event, "x-github-delivery": delivery_id}


# octokit's examples and schemas


EXAMPLE_FILES = sorted(EXAMPLES.rglob("*.payload.json"))


@pytest.mark.parametrize(
    "path", EXAMPLE_FILES, ids=[p.parent.name + "/" + p.name for p in EXAMPLE_FILES]
)
def test_each_example_validates_and_reads(path: Path) -> None:
    payload = json.loads(path.read_text(encoding="utf-8"))
    event_name = path.parent.name
    assert schema_errors(event_name, payload) == []
    event = github.read(delivery(event_name), path.read_bytes())
    assert event.kind in {"created", "updated", "comment"}
    assert event.ticket is not None
    assert event.ticket.ref == str(payload["issue"]["id"])
    assert event.ticket.organization == "Codertocat/Hello-World"


def test_the_closed_example_written_here_validates_and_reads() -> None:
    body = LIFE.body("closed.payload.json")
    assert schema_errors("issues", json.loads(body)) == []
    event = github.read(delivery("issues"), body)
    assert event.kind == "updated"
    assert event.changed == {"status"}
    assert event.previous_status == "open"
    assert event.at == datetime(2019, 5, 15, 15, 20, 35, tzinfo=UTC)
    assert event.ticket is not None
    assert event.ticket.status == "closed"
    assert event.ticket.fields == {"state_reason": "completed"}


def test_the_reopened_example_says_the_issue_was_closed() -> None:
    event = github.read(
        delivery("issues"), (EXAMPLES / "issues" / "reopened.payload.json").read_bytes()
    )
    assert event.kind == "updated"
    assert event.changed == {"status"}
    assert event.previous_status == "closed"
    assert event.at == datetime(2021, 10, 11, 16, 40, 56, tzinfo=UTC)


# An issue's life

BOTH = ("priority: high", "team: payments")
WAITING = (*BOTH, "waiting-on-customer")

# file -> what it reads as, and the issue's labels then
EXPECTED: dict[str, tuple[Step, tuple[str, ...]]] = {
    "01-opened.json": (Step("created", "open"), BOTH),
    "02-agent-comment.json": (
        Step("comment", "open", comment=SourceComment(public=True, by_agent=True, author=SAM)),
        BOTH,
    ),
    "03-labeled-waiting.json": (Step("updated", "open", changed=frozenset({"tags"})), WAITING),
    "04-customer-comment.json": (
        Step("comment", "open", comment=SourceComment(public=True, by_agent=False, author=LENA)),
        WAITING,
    ),
    "05-unlabeled-waiting.json": (Step("updated", "open", changed=frozenset({"tags"})), BOTH),
    "06-closed.json": (
        Step("updated", "closed", changed=frozenset({"status"}), previous_status="open"),
        BOTH,
    ),
}


@pytest.mark.parametrize("step", LIFE.steps, ids=LIFE.ids())
def test_each_step_of_the_life_validates_and_reads_as_recorded(step: dict[str, Any]) -> None:
    body = LIFE.body(step["file"])
    assert schema_errors(step["headers"]["X-GitHub-Event"], json.loads(body)) == []
    expected, labels = EXPECTED[step["file"]]
    event = LIFE.assert_reads(github, step, expected)
    assert event.ticket is not None
    assert event.ticket.tags == labels


def test_the_life_opens_a_fully_described_issue() -> None:
    event = LIFE.read(github, LIFE.steps[0])
    assert event.ticket is not None
    assert event.ticket.model_dump() == {
        "ref": "2698714523",
        "title": "Card payments fail at checkout with error 502",
        "status": "open",
        "priority": None,
        "group": None,
        "assignee": SAM,
        "requester": LENA,
        "organization": "globex/payments-api",
        "tags": ("priority: high", "team: payments"),
        "fields": {},
    }
    assert event.actor == LENA


def test_the_life_happens_in_order_within_the_recorded_days() -> None:
    LIFE.assert_in_order(
        list(EXPECTED), datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    )


# Events that mean nothing to tickets, and the others


PING = json.dumps(
    {
        "zen": "Keep it logically awesome.",
        "hook_id": 512739841,
        "hook": {
            "type": "Organization",
            "id": 512739841,
            "active": True,
            "events": ["issues", "issue_comment"],
            "updated_at": "2026-11-20T16:41:07Z",
            "created_at": "2026-11-20T16:41:07Z",
        },
    }
).encode()


def test_a_ping_means_nothing_to_tickets() -> None:
    event = github.read(delivery("ping"), PING)
    assert event.kind == "other"
    assert event.reason is not None
    assert "ping" in event.reason
    assert event.at == datetime(2026, 11, 20, 16, 41, 7, tzinfo=UTC)
    assert event.ticket is None


@pytest.mark.parametrize(
    ("event_name", "body", "why"),
    [
        ("star", b'{"action": "created", "starred_at": null}', "not about issues"),
        ("issues", changed(OPENED, "action", "milestoned"), "milestoned"),
        ("issues", changed(OPENED, "action", "transferred"), "transferred"),
        ("issue_comment", changed(COMMENT, "action", "edited"), "only new comments"),
        ("issue_comment", changed(COMMENT, "action", "deleted"), "only new comments"),
        (
            "issue_comment",
            changed(COMMENT, "issue.pull_request", {"url": "https://api.github.com/x"}),
            "pull request",
        ),
    ],
)
def test_other_events_and_actions_read_as_other_with_a_reason(
    event_name: str, body: bytes, why: str
) -> None:
    event = github.read(delivery(event_name), body)
    assert event.kind == "other"
    assert event.reason is not None
    assert why in event.reason


def test_an_event_with_no_time_of_its_own_reads_at_the_time_it_arrived() -> None:
    before = datetime.now(UTC)
    event = github.read(delivery("meta"), b'{"action": "deleted"}')
    assert before <= event.at <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("action", "change"),
    [("assigned", {"assignee"}), ("unassigned", {"assignee"}), ("edited", set())],
)
def test_other_issue_actions_read_as_updates(action: str, change: set[str]) -> None:
    event = github.read(delivery("issues"), changed(OPENED, "action", action))
    assert event.kind == "updated"
    assert event.changed == change
    assert event.at == datetime(2026, 11, 26, 8, 2, 11, tzinfo=UTC)


def test_a_deleted_issue_reads_as_deleted() -> None:
    event = github.read(delivery("issues"), changed(OPENED, "action", "deleted"))
    assert event.kind == "deleted"
    assert event.ticket is not None


@pytest.mark.parametrize("association", ["OWNER", "MEMBER", "COLLABORATOR"])
def test_staff_comments_are_by_agents(association: str) -> None:
    body = changed(COMMENT, "comment.author_association", association)
    assert github.read(delivery("issue_comment"), body).comment == SourceComment(
        author=SAM, public=True, by_agent=True
    )


@pytest.mark.parametrize("association", ["NONE", "CONTRIBUTOR", "FIRST_TIMER", "MANNEQUIN"])
def test_other_comments_are_by_customers(association: str) -> None:
    body = changed(COMMENT, "comment.author_association", association)
    comment = github.read(delivery("issue_comment"), body).comment
    assert comment is not None
    assert comment.by_agent is False


# Malformed deliveries


@pytest.mark.parametrize(
    ("headers", "where"),
    [
        ({"x-github-delivery": "72d3162e"}, "X-GitHub-Event"),
        ({"x-github-event": "issues"}, "X-GitHub-Delivery"),
        ({"x-github-event": "issues", "x-github-delivery": "  "}, "X-GitHub-Delivery"),
        ({"x-github-event": "issues", "x-github-delivery": "d" * 201}, "X-GitHub-Delivery"),
    ],
)
def test_a_missing_header_names_it(headers: dict[str, str], where: str) -> None:
    assert refused_at(github, OPENED, headers) == where


@pytest.mark.parametrize(
    ("event_name", "body", "where"),
    [
        # Even a ping, which reads as nothing to tickets, is a JSON object.
        ("ping", b"null", "body"),
        ("issues", changed(OPENED, "action", DELETE), "action"),
        ("issues", changed(OPENED, "action", 7), "action"),
        ("issues", changed(OPENED, "issue", DELETE), "issue"),
        ("issues", changed(OPENED, "issue", "#214"), "issue"),
        ("issues", changed(OPENED, "issue.id", DELETE), "issue.id"),
        ("issues", changed(OPENED, "issue.id", "2698714523"), "issue.id"),
        ("issues", changed(OPENED, "issue.id", 0), "issue.id"),
        ("issues", changed(OPENED, "issue.id", 2**80), "issue.id"),
        ("issues", changed(OPENED, "issue.id", True), "issue.id"),
        ("issues", changed(OPENED, "issue.state", DELETE), "issue.state"),
        ("issues", changed(OPENED, "issue.created_at", DELETE), "issue.created_at"),
        ("issues", changed(OPENED, "issue.created_at", "2026-11-26"), "issue.created_at"),
        ("issues", changed(OPENED, "issue.labels", "bug"), "issue.labels"),
        ("issues", changed(OPENED, "issue.labels.1", "bug"), "issue.labels[1]"),
        ("issues", changed(OPENED, "issue.labels.1.name", DELETE), "issue.labels[1].name"),
        ("issues", changed(OPENED, "issue.labels.0.name", 5.5), "issue.labels[0].name"),
        ("issues", changed(OPENED, "issue.assignee.login", ["sam"]), "issue.assignee.login"),
        (
            "issues",
            changed(changed(OPENED, "action", "closed"), "issue.closed_at", None),
            "issue.closed_at",
        ),
        ("issue_comment", changed(COMMENT, "comment", DELETE), "comment"),
        ("issue_comment", changed(COMMENT, "comment.created_at", "now"), "comment.created_at"),
        (
            "issue_comment",
            changed(COMMENT, "comment.author_association", DELETE),
            "comment.author_association",
        ),
    ],
)
def test_a_malformed_body_names_the_field(event_name: str, body: bytes, where: str) -> None:
    assert refused_at(github, body, delivery(event_name)) == where


def test_a_huge_title_is_cut_before_it_is_stripped() -> None:
    event = github.read(delivery("issues"), changed(OPENED, "issue.title", "502 " * 300_000))
    assert event.ticket is not None
    assert event.ticket.title == ("502 " * MAX_TEXT)[:MAX_TEXT].strip()


def test_a_flood_of_labels_is_cut() -> None:
    label = json.loads(OPENED)["issue"]["labels"][0]
    labels = [dict(label, name=f"label {n}") for n in range(5000)]
    event = github.read(delivery("issues"), changed(OPENED, "issue.labels", labels))
    assert event.ticket is not None
    assert len(event.ticket.tags) == github.MAX_TAGS


# The signature, and any body


class TestReaderContract(PrefixedHexContract):
    reader = github
    life = LIFE
    vector = PUBLISHED
    # The legacy SHA-1 header alone is not enough.
    unsigned: ClassVar[dict[str, str]] = {
        "x-hub-signature": "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"
    }
    # An issue comment's body under each action (the first, "opened", is an issue's).
    samples = tuple(
        changed(COMMENT, "action", action)
        for action in [*github.ISSUE_ACTIONS, "created", "pinned"]
    )
    paths = (
        "action",
        "issue",
        "issue.id",
        "issue.title",
        "issue.state",
        "issue.state_reason",
        "issue.labels",
        "issue.assignee",
        "issue.user",
        "issue.created_at",
        "issue.updated_at",
        "issue.closed_at",
        "issue.pull_request",
        "comment",
        "comment.user",
        "comment.created_at",
        "comment.author_association",
        "repository",
        "sender",
    )
    headers = delivery("issues")
    texts: ClassVar[dict[str, str]] = {
        "issue.title": "ticket.title",
        "issue.labels.0.name": "ticket.tags.0",
        "issue.user.login": "ticket.requester",
    }
    header_choices = tuple(delivery(name) for name in ("issues", "issue_comment", "ping", "push"))
