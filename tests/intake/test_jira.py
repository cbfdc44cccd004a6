"""Jira Cloud / JSM webhooks: the signature, the recorded life of one request, and bodies that
are not what Jira sends.

The life in ``tests/data/intake/jira`` was written for this project after the fields Atlassian
documents (webhookEvent, issue_event_type_name, user, issue, changelog, comment); nothing in it is
copied from Atlassian.
"""

from __future__ import annotations

import contextlib
import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalations.intake.events import PayloadError, SignatureError
from escalations.intake.sources import jira
from escalations.intake.sources.common import MAX_TEXT, body_digest
from tests.intake.signing import SECRETS, signed_headers

LIFE = Path(__file__).parents[1] / "data" / "intake" / "jira"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

# signature-vectors.json, "Jira Cloud / Jira Service Management" (computed from the documented
# algorithm; the same inputs as GitHub's published X-Hub-Signature-256 example).
VECTOR_SECRET = b"It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def steps() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((LIFE / "life.json").read_text())
    return loaded


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((LIFE / name).read_text())
    return loaded


def body_of(data: Any) -> bytes:
    return json.dumps(data).encode()


def read(data: Any, headers: dict[str, str] | None = None) -> Any:
    return jira.read(headers or {}, body_of(data))


# --- signature -----------------------------------------------------------------------------------


def test_the_published_vector_verifies() -> None:
    jira.verify({"x-hub-signature": VECTOR_SIGNATURE}, VECTOR_BODY, VECTOR_SECRET, NOW)


def test_upper_case_hex_and_prefix_verify() -> None:
    jira.verify({"x-hub-signature": VECTOR_SIGNATURE.upper()}, VECTOR_BODY, VECTOR_SECRET, NOW)


def test_every_life_file_verifies_when_signed_as_jira_does() -> None:
    secret = SECRETS["jira"]
    for step in steps():
        body = (LIFE / step["file"]).read_bytes()
        headers = {name.lower(): value for name, value in signed_headers("jira", body).items()}
        jira.verify(headers, body, secret.encode(), NOW)


def test_a_wrong_secret_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        jira.verify({"x-hub-signature": VECTOR_SIGNATURE}, VECTOR_BODY, b"another secret", NOW)


def test_a_tampered_body_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        jira.verify({"x-hub-signature": VECTOR_SIGNATURE}, b"Hello, World?", VECTOR_SECRET, NOW)


def test_a_missing_header_fails() -> None:
    with pytest.raises(SignatureError, match="missing X-Hub-Signature"):
        jira.verify({"x-hub-signature-256": VECTOR_SIGNATURE}, VECTOR_BODY, VECTOR_SECRET, NOW)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", id="no ="),
        pytest.param("sha256=", id="empty digest"),
        pytest.param("sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", id="sha1 prefix"),
        pytest.param(
            "md5=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", id="md5 prefix"
        ),
        pytest.param("sha256=" + "zz" * 32, id="non-hex"),
        pytest.param("sha256=757107ea0eb2509fc211221cce984b8a", id="short"),
        pytest.param("sha256=" + "é" * 64, id="latin-1"),
        pytest.param(
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1€", id="€"
        ),
        pytest.param(
            "sh\u0430256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            id="homoglyph",
        ),
    ],
)
def test_a_malformed_header_fails(value: str) -> None:
    with pytest.raises(SignatureError):
        jira.verify({"x-hub-signature": value}, VECTOR_BODY, VECTOR_SECRET, NOW)


# --- the recorded life of SUP-1042 ---------------------------------------------------------------

EXPECTED: dict[str, dict[str, Any]] = {
    "01-created.json": {"kind": "created", "status": "Waiting for support"},
    "02-agent-reply.json": {
        "kind": "comment",
        "status": "Waiting for support",
        "comment": ("priya.raman@example.com", True, True),
    },
    "03-waiting-for-customer.json": {
        "kind": "updated",
        "status": "Waiting for customer",
        "changed": {"status"},
        "previous_status": "Waiting for support",
    },
    "04-customer-reply.json": {
        "kind": "comment",
        "status": "Waiting for customer",
        "comment": ("jonas.becker@example.org", True, False),
    },
    "05-in-progress.json": {
        "kind": "updated",
        "status": "In Progress",
        "changed": {"status"},
        "previous_status": "Waiting for customer",
    },
    "06-resolved.json": {
        "kind": "updated",
        "status": "Resolved",
        "changed": {"status", "fields"},
        "previous_status": "In Progress",
    },
}


def test_the_life_is_complete_and_in_order() -> None:
    life = steps()
    assert [step["file"] for step in life] == sorted(EXPECTED)
    times = [datetime.fromisoformat(step["at"]) for step in life]
    assert times == sorted(times)
    assert all(
        datetime(2026, 11, 28, tzinfo=UTC) <= t < datetime(2026, 12, 1, tzinfo=UTC) for t in times
    )
    ids = [step["headers"]["X-Atlassian-Webhook-Identifier"] for step in life]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("step", steps(), ids=lambda step: step["file"])
def test_each_life_step_reads(step: dict[str, Any]) -> None:
    expected = EXPECTED[step["file"]]
    headers = {name.lower(): value for name, value in step["headers"].items()}

    event = jira.read(headers, (LIFE / step["file"]).read_bytes())

    assert event.source == "jira"
    assert event.delivery_id == step["headers"]["X-Atlassian-Webhook-Identifier"]
    assert event.kind == expected["kind"]
    assert event.at == datetime.fromisoformat(step["at"])
    assert event.changed == frozenset(expected.get("changed", ()))
    assert event.previous_status == expected.get("previous_status")
    assert event.ticket is not None
    assert event.ticket.ref == "SUP-1042"
    assert event.ticket.status == expected["status"]
    assert event.ticket.priority == "High"
    assert event.ticket.assignee == "priya.raman@example.com"
    if "comment" in expected:
        assert event.comment is not None
        assert (event.comment.author, event.comment.public, event.comment.by_agent) == (
            expected["comment"]
        )
    else:
        assert event.comment is None


def test_the_created_issue_reads_in_full() -> None:
    event = read(payload("01-created.json"))

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
    body = (LIFE / "03-waiting-for-customer.json").read_bytes()

    assert jira.read({}, body).delivery_id == body_digest(body)
    assert jira.read({"x-atlassian-webhook-identifier": "  "}, body).delivery_id == body_digest(
        body
    )


def test_an_overlong_identifier_header_is_refused() -> None:
    with pytest.raises(PayloadError) as raised:
        read(payload("01-created.json"), {"x-atlassian-webhook-identifier": "x" * 201})
    assert raised.value.field == "X-Atlassian-Webhook-Identifier"


def test_an_issue_commented_update_is_a_comment() -> None:
    data = payload("05-in-progress.json")
    data["issue_event_type_name"] = "issue_commented"
    data["comment"] = payload("04-customer-reply.json")["comment"]

    event = read(data)

    assert event.kind == "comment"
    assert event.comment.author == "jonas.becker@example.org"
    assert event.comment.by_agent is False  # the reporter, by accountId
    assert event.changed == {"status"}
    assert event.actor == "jonas.becker@example.org"


def test_an_issue_commented_update_without_its_comment_stays_an_update() -> None:
    data = payload("05-in-progress.json")
    data["issue_event_type_name"] = "issue_commented"

    assert read(data).kind == "updated"


def test_the_reporter_is_no_agent_even_without_the_customer_account_type() -> None:
    data = payload("05-in-progress.json")
    data["issue_event_type_name"] = "issue_commented"
    reporter = dict(data["issue"]["fields"]["reporter"], accountType="atlassian")
    data["issue"]["fields"]["reporter"] = reporter
    data["comment"] = dict(payload("04-customer-reply.json")["comment"], author=reporter)

    assert read(data).comment.by_agent is False


def test_a_portal_customer_who_is_not_the_reporter_is_no_agent() -> None:
    data = payload("04-customer-reply.json")
    data["comment"]["author"] = dict(
        data["comment"]["author"], accountId="qm:another", emailAddress="colleague@example.org"
    )

    assert read(data).comment.by_agent is False


def test_an_app_comment_is_nobodys_reply() -> None:
    data = payload("02-agent-reply.json")
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
    data = payload("05-in-progress.json")
    data["issue_event_type_name"] = "issue_commented"
    data["comment"] = dict(
        payload("02-agent-reply.json")["comment"],
        author={
            "accountId": "557058:app",
            "displayName": "Automation for Jira",
            "accountType": "app",
        },
    )

    event = read(data)

    assert (event.kind, event.changed, event.comment) == ("updated", {"status"}, None)


def test_an_internal_jsm_comment_is_not_public() -> None:
    data = payload("02-agent-reply.json")
    data["comment"]["jsdPublic"] = False

    assert read(data).comment.public is False


def test_a_comment_without_jsd_public_is_public() -> None:
    data = payload("02-agent-reply.json")
    del data["comment"]["jsdPublic"]

    assert read(data).comment.public is True


def test_people_without_an_email_read_as_their_display_name() -> None:
    data = payload("01-created.json")
    del data["issue"]["fields"]["assignee"]["emailAddress"]
    del data["issue"]["fields"]["reporter"]["emailAddress"]

    ticket = read(data).ticket

    assert (ticket.assignee, ticket.requester) == ("Priya Raman", "Jonas Becker")


def test_an_unassigned_issue_without_components_or_labels() -> None:
    data = payload("01-created.json")
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
    data = payload("03-waiting-for-customer.json")
    data["changelog"]["items"] = [
        {"field": field, "fieldtype": "jira", "fromString": "a", "toString": "b"}
    ]

    event = read(data)

    assert event.changed == {part}
    assert event.previous_status == ("a" if part == "status" else None)


def test_custom_fields_flatten_to_plain_values() -> None:
    data = payload("01-created.json")
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
    data = payload("06-resolved.json")
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


def test_huge_strings_are_cut_not_refused() -> None:
    data = payload("01-created.json")
    data["issue"]["fields"]["summary"] = "s" * 100_000
    data["issue"]["fields"]["labels"] = ["l" * 10_000]

    ticket = read(data).ticket

    assert ticket.title == "s" * MAX_TEXT
    assert ticket.tags == ("l" * MAX_TEXT,)


def test_lone_surrogates_are_replaced_not_refused() -> None:
    body = (
        (LIFE / "01-created.json")
        .read_bytes()
        .replace(b'"Card payments', b'"\\ud83d Card payments', 1)
    )

    event = jira.read({}, body)

    assert event.ticket is not None
    assert event.ticket.title == "\ufffd Card payments declined at checkout since 08:30"


# --- bodies Jira does not send -------------------------------------------------------------------


DELETE = object()
"""As the value in :func:`mutated`: remove the key."""


def mutated(name: str, path: str, value: Any) -> dict[str, Any]:
    """Life file ``name`` with the value at dotted ``path`` replaced."""
    data = copy.deepcopy(payload(name))
    *parents, last = path.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if value is DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


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
    with pytest.raises(PayloadError) as raised:
        read(mutated(name, path, value))
    assert raised.value.field == error_field


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="text"),
        pytest.param(b"\xff\xfe{}", id="not UTF-8"),
        pytest.param(b"[]", id="array"),
        pytest.param(b'"issue"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deep"),
        pytest.param(b'{"timestamp": ' + b"9" * 5000 + b"}", id="huge number"),
    ],
)
def test_a_body_that_is_no_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(PayloadError) as raised:
        jira.read({}, body)
    assert raised.value.field == "body"


# --- properties ----------------------------------------------------------------------------------

KEYS = st.sampled_from(
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
    ]
) | st.text(max_size=6)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
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
        ]
    )
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=6),
    max_leaves=30,
)


def paths(value: Any, prefix: str = "") -> list[str]:
    """Every dotted path inside ``value`` (list indexes as numbers)."""
    found: list[str] = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, inner in items:
        path = f"{prefix}{key}"
        found.append(path)
        found.extend(paths(inner, path + "."))
    return found


def reads_or_refuses(body: bytes) -> None:
    with contextlib.suppress(PayloadError):
        jira.read({}, body)


@settings(deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_read_or_are_refused(body: bytes) -> None:
    reads_or_refuses(body)


@settings(deadline=None)
@given(st.dictionaries(KEYS, JSON, max_size=8))
def test_random_json_objects_read_or_are_refused(data: dict[str, Any]) -> None:
    reads_or_refuses(json.dumps(data).encode())


@settings(deadline=None, max_examples=300)
@given(st.sampled_from(sorted(EXPECTED)), st.data())
def test_a_life_file_with_one_value_replaced_reads_or_is_refused(name: str, draw: Any) -> None:
    data = payload(name)
    path = draw.draw(st.sampled_from(paths(data)))
    reads_or_refuses(json.dumps(mutated(name, path, draw.draw(JSON))).encode())
