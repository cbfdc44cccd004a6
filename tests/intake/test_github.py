"""GitHub's reader: the published signature vector, octokit's schemas and examples, a life."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from escalations.intake.events import PayloadError, SignatureError, SourceComment
from escalations.intake.sources import github
from escalations.intake.sources.common import MAX_TEXT

DATA = Path(__file__).resolve().parents[1] / "data" / "intake" / "github"
OCTOKIT = DATA / "octokit-webhooks"
SCHEMAS = OCTOKIT / "payload-schemas" / "api.github.com"
EXAMPLES = OCTOKIT / "payload-examples" / "api.github.com"

# docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries, "Testing the webhook
# payload validation" (also ../shared/vendor/helpdesk/signature-vectors.json, "published").
SECRET = b"It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
PUBLISHED = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
NOW = datetime(2026, 11, 26, 8, 3, tzinfo=UTC)

LIFE: list[dict[str, Any]] = json.loads((DATA / "life.json").read_text(encoding="utf-8"))
OPENED = (DATA / "01-opened.json").read_bytes()
COMMENT = (DATA / "02-agent-comment.json").read_bytes()
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


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def changed(body: bytes, path: str, value: Any) -> bytes:
    """``body`` with the value at dotted ``path`` replaced (``...`` deletes it)."""
    data = json.loads(body)
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is ...:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return json.dumps(data).encode()


# Signature


def test_the_published_vector_verifies() -> None:
    github.verify({"x-hub-signature-256": PUBLISHED}, VECTOR_BODY, SECRET, NOW)


def test_a_signature_in_capitals_verifies() -> None:
    github.verify({"x-hub-signature-256": PUBLISHED.upper()}, VECTOR_BODY, SECRET, NOW)


def test_a_signature_of_a_real_delivery_verifies() -> None:
    digest = hmac.new(SECRET, OPENED, hashlib.sha256).hexdigest()
    github.verify({"x-hub-signature-256": f"sha256={digest}"}, OPENED, SECRET, NOW)


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        github.verify({"x-hub-signature-256": PUBLISHED}, VECTOR_BODY, b"another secret", NOW)


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        github.verify({"x-hub-signature-256": PUBLISHED}, b"Hello, World?", SECRET, NOW)


def test_a_missing_header_is_refused() -> None:
    # The legacy SHA-1 header alone is not enough.
    headers = {"x-hub-signature": "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"}
    with pytest.raises(SignatureError, match="missing"):
        github.verify(headers, VECTOR_BODY, SECRET, NOW)


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "sha256=",
        "sha256",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha512=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea0eb2509fc211221cce984b8a",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17ff",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1\u00e9",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1\u20ac",
        "sha256=\udcff57107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    ],
)
def test_a_malformed_signature_is_refused(signature: str) -> None:
    with pytest.raises(SignatureError):
        github.verify({"x-hub-signature-256": signature}, VECTOR_BODY, SECRET, NOW)


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
    body = (DATA / "closed.payload.json").read_bytes()
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

# file -> kind, changed, previous status, comment (by_agent, author), status, labels
EXPECTED: dict[
    str, tuple[str, set[str], str | None, tuple[bool, str] | None, str, tuple[str, ...]]
] = {
    "01-opened.json": ("created", set(), None, None, "open", ("priority: high", "team: payments")),
    "02-agent-comment.json": (
        "comment",
        set(),
        None,
        (True, SAM),
        "open",
        ("priority: high", "team: payments"),
    ),
    "03-labeled-waiting.json": (
        "updated",
        {"tags"},
        None,
        None,
        "open",
        ("priority: high", "team: payments", "waiting-on-customer"),
    ),
    "04-customer-comment.json": (
        "comment",
        set(),
        None,
        (False, LENA),
        "open",
        ("priority: high", "team: payments", "waiting-on-customer"),
    ),
    "05-unlabeled-waiting.json": (
        "updated",
        {"tags"},
        None,
        None,
        "open",
        ("priority: high", "team: payments"),
    ),
    "06-closed.json": (
        "updated",
        {"status"},
        "open",
        None,
        "closed",
        ("priority: high", "team: payments"),
    ),
}


@pytest.mark.parametrize("step", LIFE, ids=[step["file"] for step in LIFE])
def test_each_step_of_the_life_validates_and_reads_as_recorded(step: dict[str, Any]) -> None:
    body = (DATA / step["file"]).read_bytes()
    assert schema_errors(step["headers"]["X-GitHub-Event"], json.loads(body)) == []
    event = github.read(lower(step["headers"]), body)
    kind, change, previous, comment, status, labels = EXPECTED[step["file"]]
    assert event.source == "github"
    assert event.kind == kind
    assert event.changed == change
    assert event.previous_status == previous
    assert event.at == datetime.fromisoformat(step["at"])
    assert event.delivery_id == step["headers"]["X-GitHub-Delivery"]
    expected_comment = (
        None
        if comment is None
        else SourceComment(public=True, by_agent=comment[0], author=comment[1])
    )
    assert event.comment == expected_comment
    assert event.ticket is not None
    assert event.ticket.status == status
    assert event.ticket.tags == labels


def test_the_life_opens_a_fully_described_issue() -> None:
    event = github.read(lower(LIFE[0]["headers"]), OPENED)
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
    times = [datetime.fromisoformat(step["at"]) for step in LIFE]
    assert times == sorted(set(times))
    assert datetime(2026, 11, 25, tzinfo=UTC) <= times[0]
    assert times[-1] <= datetime(2026, 11, 30, tzinfo=UTC)
    assert [step["file"] for step in LIFE] == list(EXPECTED)


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
    with pytest.raises(PayloadError) as raised:
        github.read(headers, OPENED)
    assert raised.value.field == where


@pytest.mark.parametrize(
    ("event_name", "body", "where"),
    [
        ("issues", b"not json", "body"),
        ("issues", b"", "body"),
        ("issues", b"\x80", "body"),
        ("issues", b"[1, 2, 3]", "body"),
        ("ping", b"null", "body"),
        ("issues", b"-" + b"7" * 4400, "body"),
        ("issues", b"[" * 200_000, "body"),
        ("issues", changed(OPENED, "action", ...), "action"),
        ("issues", changed(OPENED, "action", 7), "action"),
        ("issues", changed(OPENED, "issue", ...), "issue"),
        ("issues", changed(OPENED, "issue", "#214"), "issue"),
        ("issues", changed(OPENED, "issue.id", ...), "issue.id"),
        ("issues", changed(OPENED, "issue.id", "2698714523"), "issue.id"),
        ("issues", changed(OPENED, "issue.id", 0), "issue.id"),
        ("issues", changed(OPENED, "issue.id", 2**80), "issue.id"),
        ("issues", changed(OPENED, "issue.id", True), "issue.id"),
        ("issues", changed(OPENED, "issue.state", ...), "issue.state"),
        ("issues", changed(OPENED, "issue.created_at", ...), "issue.created_at"),
        ("issues", changed(OPENED, "issue.created_at", "2026-11-26"), "issue.created_at"),
        ("issues", changed(OPENED, "issue.labels", "bug"), "issue.labels"),
        ("issues", changed(OPENED, "issue.labels.1", "bug"), "issue.labels[1]"),
        ("issues", changed(OPENED, "issue.labels.1.name", ...), "issue.labels[1].name"),
        ("issues", changed(OPENED, "issue.labels.0.name", 5.5), "issue.labels[0].name"),
        ("issues", changed(OPENED, "issue.assignee.login", ["sam"]), "issue.assignee.login"),
        (
            "issues",
            changed(changed(OPENED, "action", "closed"), "issue.closed_at", None),
            "issue.closed_at",
        ),
        ("issue_comment", changed(COMMENT, "comment", ...), "comment"),
        ("issue_comment", changed(COMMENT, "comment.created_at", "now"), "comment.created_at"),
        (
            "issue_comment",
            changed(COMMENT, "comment.author_association", ...),
            "comment.author_association",
        ),
    ],
)
def test_a_malformed_body_names_the_field(event_name: str, body: bytes, where: str) -> None:
    with pytest.raises(PayloadError) as raised:
        github.read(delivery(event_name), body)
    assert raised.value.field == where


def test_a_huge_title_is_cut_not_refused() -> None:
    event = github.read(delivery("issues"), changed(OPENED, "issue.title", "502 " * 300_000))
    assert event.ticket is not None
    assert event.ticket.title == ("502 " * MAX_TEXT)[:MAX_TEXT].strip()


def test_control_characters_are_kept_as_data() -> None:
    name = "bug\x00\x07\x1b[2J"
    event = github.read(delivery("issues"), changed(OPENED, "issue.labels.0.name", name))
    assert event.ticket is not None
    assert event.ticket.tags[0] == name
    assert json.loads(event.model_dump_json())["ticket"]["tags"][0] == name


def test_a_lone_surrogate_never_reaches_the_event() -> None:
    body = OPENED.replace(b'"lena-fischer"', b'"lena\\ud83d-fischer"')
    event = github.read(delivery("issues"), body)
    assert event.ticket is not None
    assert event.ticket.requester is not None
    assert "\ud83d" not in event.ticket.requester
    event.model_dump_json()


def test_a_flood_of_labels_is_cut() -> None:
    label = json.loads(OPENED)["issue"]["labels"][0]
    labels = [dict(label, name=f"label {n}") for n in range(5000)]
    event = github.read(delivery("issues"), changed(OPENED, "issue.labels", labels))
    assert event.ticket is not None
    assert len(event.ticket.tags) == github.MAX_TAGS


# Properties

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PATHS = [
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
]


@settings(deadline=None)
@given(
    event_name=st.sampled_from(["issues", "issue_comment", "ping", "push"]),
    body=st.binary(max_size=512),
)
def test_any_bytes_read_or_raise_payload_error(event_name: str, body: bytes) -> None:
    with contextlib.suppress(PayloadError):
        github.read(delivery(event_name), body)


@settings(deadline=None)
@given(
    event_name=st.sampled_from(["issues", "issue_comment"]),
    action=st.sampled_from([*github.ISSUE_ACTIONS, "created", "pinned"]),
    path=st.sampled_from(PATHS),
    value=JSON,
)
def test_any_value_anywhere_reads_or_raises_payload_error(
    event_name: str, action: str, path: str, value: Any
) -> None:
    body = changed(changed(COMMENT, "action", action), path, value)
    try:
        event = github.read(delivery(event_name), body)
    except PayloadError:
        return
    event.model_dump_json()
