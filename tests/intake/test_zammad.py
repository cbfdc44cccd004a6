"""Zammad trigger webhooks: the signature, the recorded life of one ticket, and bodies that are
not what Zammad sends.

The life in ``tests/data/intake/zammad`` was written for this project in the shape of Zammad's
default webhook payload (a ticket with its associations expanded, and the triggering article);
nothing in it is copied from Zammad's documentation.
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
from escalations.intake.sources import zammad
from escalations.intake.sources.common import MAX_TEXT, body_digest
from tests.intake.signing import SECRETS, signed_headers

LIFE = Path(__file__).parents[1] / "data" / "intake" / "zammad"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

# signature-vectors.json, "Zammad" (computed from lib/user_agent.rb's documented algorithm).
VECTOR_SECRET = b"It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_SIGNATURE = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"

EVERYTHING = {"status", "priority", "group", "assignee"}
"""What an update of a snapshot without tags says changed."""


def steps() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((LIFE / "life.json").read_text())
    return loaded


def payload(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((LIFE / name).read_text())
    return loaded


def read(data: Any, headers: dict[str, str] | None = None) -> Any:
    return zammad.read(headers or {}, json.dumps(data).encode())


# --- signature -----------------------------------------------------------------------------------


def test_the_vector_verifies() -> None:
    zammad.verify({"x-hub-signature": VECTOR_SIGNATURE}, VECTOR_BODY, VECTOR_SECRET, NOW)


def test_every_life_file_verifies_when_signed_as_zammad_does() -> None:
    secret = SECRETS["zammad"]
    for step in steps():
        body = (LIFE / step["file"]).read_bytes()
        headers = {name.lower(): value for name, value in signed_headers("zammad", body).items()}
        zammad.verify(headers, body, secret.encode(), NOW)


def test_a_wrong_secret_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        zammad.verify({"x-hub-signature": VECTOR_SIGNATURE}, VECTOR_BODY, b"another token", NOW)


def test_a_tampered_body_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        zammad.verify({"x-hub-signature": VECTOR_SIGNATURE}, b"Hello, World?", VECTOR_SECRET, NOW)


def test_a_missing_header_fails() -> None:
    # Zammad sends no signature when the webhook has no token: with a secret configured here,
    # such a delivery is refused.
    with pytest.raises(SignatureError, match="missing X-Hub-Signature"):
        zammad.verify({"x-zammad-delivery": "x"}, VECTOR_BODY, VECTOR_SECRET, NOW)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("01dc10d0c83e72ed246219cdd91669667fe2ca59", id="no ="),
        pytest.param("sha1=", id="empty digest"),
        pytest.param(
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            id="sha256 prefix",
        ),
        pytest.param("sha1=" + "zz" * 20, id="non-hex"),
        pytest.param("sha1=01dc10d0c83e72ed", id="short"),
        pytest.param("sha1=" + "ü" * 40, id="latin-1"),
        pytest.param("sha1=01dc10d0c83e72ed246219cdd91669667fe2ca5€", id="€"),
    ],
)
def test_a_malformed_header_fails(value: str) -> None:
    with pytest.raises(SignatureError):
        zammad.verify({"x-hub-signature": value}, VECTOR_BODY, VECTOR_SECRET, NOW)


# --- the recorded life of ticket 31017 ----------------------------------------------------------

EXPECTED: dict[str, dict[str, Any]] = {
    "01-created.json": {"kind": "created", "status": "new"},
    "02-agent-reply.json": {
        "kind": "comment",
        "status": "open",
        "comment": ("emma.taylor@example.com", True, True),
    },
    "03-pending-reminder.json": {
        "kind": "updated",
        "status": "pending reminder",
        "changed": EVERYTHING,
    },
    "04-customer-reply.json": {
        "kind": "comment",
        "status": "pending reminder",
        "comment": ("jonas.becker@example.org", True, False),
    },
    "05-open.json": {"kind": "updated", "status": "open", "changed": EVERYTHING},
    "06-closed.json": {"kind": "updated", "status": "closed", "changed": EVERYTHING},
}


def test_the_life_is_complete_and_in_order() -> None:
    life = steps()
    assert [step["file"] for step in life] == sorted(EXPECTED)
    times = [datetime.fromisoformat(step["at"]) for step in life]
    assert times == sorted(times)
    assert all(
        datetime(2026, 11, 28, tzinfo=UTC) <= t < datetime(2026, 12, 1, tzinfo=UTC) for t in times
    )
    ids = [step["headers"]["X-Zammad-Delivery"] for step in life]
    assert len(set(ids)) == len(ids)
    assert all(step["headers"]["X-Zammad-Trigger"] for step in life)


@pytest.mark.parametrize("step", steps(), ids=lambda step: step["file"])
def test_each_life_step_reads(step: dict[str, Any]) -> None:
    expected = EXPECTED[step["file"]]
    headers = {name.lower(): value for name, value in step["headers"].items()}

    event = zammad.read(headers, (LIFE / step["file"]).read_bytes())

    assert event.source == "zammad"
    assert event.delivery_id == step["headers"]["X-Zammad-Delivery"]
    assert event.kind == expected["kind"]
    assert event.at == datetime.fromisoformat(step["at"])
    assert event.changed == frozenset(expected.get("changed", ()))
    assert event.previous_status is None  # a snapshot never says
    assert event.ticket is not None
    assert event.ticket.ref == "4217"
    assert event.ticket.status == expected["status"]
    assert event.ticket.priority == "3 high"
    assert event.ticket.group == "Payments"
    assert event.ticket.assignee == "emma.taylor@example.com"
    assert event.ticket.requester == "jonas.becker@example.org"
    assert event.ticket.organization == "Northwind Traders"
    if "comment" in expected:
        assert event.comment is not None
        assert (event.comment.author, event.comment.public, event.comment.by_agent) == (
            expected["comment"]
        )
    else:
        assert event.comment is None


def test_the_created_ticket_reads_in_full() -> None:
    event = read(payload("01-created.json"))

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
    body = (LIFE / "03-pending-reminder.json").read_bytes()

    assert zammad.read({}, body).delivery_id == body_digest(body)


def test_the_trigger_header_changes_nothing() -> None:
    body = (LIFE / "03-pending-reminder.json").read_bytes()
    headers = {"x-zammad-delivery": "d-1"}

    assert zammad.read(headers, body) == zammad.read(
        {**headers, "x-zammad-trigger": "another trigger"}, body
    )


def test_an_overlong_delivery_header_is_refused() -> None:
    with pytest.raises(PayloadError) as raised:
        read(payload("01-created.json"), {"x-zammad-delivery": "x" * 201})
    assert raised.value.field == "X-Zammad-Delivery"


def test_expanded_and_plain_names_read_alike() -> None:
    data = payload("05-open.json")
    ticket = data["ticket"]
    ticket.update(
        state={"id": 2, "name": "open"},
        priority="3 high",
        group="Payments",
        organization="Northwind Traders",
        owner="emma.taylor@example.com",
        customer="jonas.becker@example.org",
    )

    assert read(data).ticket == read(payload("05-open.json")).ticket


def test_an_unassigned_ticket_without_organization() -> None:
    data = payload("01-created.json")
    data["ticket"]["owner"] = {"id": 1, "login": "-", "firstname": "-", "lastname": "", "email": ""}
    data["ticket"]["owner_id"] = 1
    data["ticket"]["organization"] = {}

    ticket = read(data).ticket

    assert (ticket.assignee, ticket.organization) == (None, None)


def test_a_null_organization_and_absent_article() -> None:
    data = payload("05-open.json")
    data["ticket"]["organization"] = None
    del data["article"]

    event = read(data)

    assert (event.kind, event.ticket.organization) == ("updated", None)


def test_a_user_without_an_email_reads_as_the_login() -> None:
    data = payload("01-created.json")
    data["ticket"]["customer"] = dict(data["ticket"]["customer"], email="", login="jonas")

    assert read(data).ticket.requester == "jonas"


def test_tags_when_the_payload_has_them_are_read_and_named_changed() -> None:
    data = payload("05-open.json")
    data["ticket"]["tags"] = ["payments", " ", "vip"]

    event = read(data)

    assert event.ticket.tags == ("payments", "vip")
    assert event.changed == EVERYTHING | {"tags"}


def test_an_agent_opened_ticket_is_created_not_a_comment() -> None:
    # A phone ticket an agent opens: the first article is the agent's, in the same second.
    data = payload("01-created.json")
    data["article"].update(sender="Agent", type="phone", created_by=data["ticket"]["owner"])

    assert read(data).kind == "created"


def test_an_internal_note_is_a_comment_not_public() -> None:
    data = payload("02-agent-reply.json")
    data["article"].update(type="note", internal=True)

    comment = read(data).comment

    assert (comment.public, comment.by_agent) == (False, True)


def test_a_system_article_is_no_comment() -> None:
    # Zammad's own auto-reply: not an agent's answer, not the customer's.
    data = payload("02-agent-reply.json")
    data["article"]["sender"] = "System"

    event = read(data)

    assert (event.kind, event.comment, event.changed) == ("updated", None, EVERYTHING)


def test_an_article_older_than_the_update_is_no_comment() -> None:
    data = payload("05-open.json")
    data["article"] = payload("04-customer-reply.json")["article"]  # 31 minutes before

    assert read(data).kind == "updated"


@pytest.mark.parametrize(
    ("seconds", "kind"), [(0.9, "created"), (1.0, "created"), (1.1, "updated")]
)
def test_created_means_updated_within_a_second(seconds: float, kind: str) -> None:
    data = payload("03-pending-reminder.json")
    data["ticket"]["updated_at"] = f"2026-11-28T08:02:{11.583 + seconds:06.3f}Z"

    assert read(data).kind == kind


@pytest.mark.parametrize(("seconds", "kind"), [(2.0, "comment"), (2.5, "updated")])
def test_a_comment_is_an_article_within_two_seconds_of_the_update(
    seconds: float, kind: str
) -> None:
    data = payload("02-agent-reply.json")
    data["ticket"]["updated_at"] = f"2026-11-28T09:10:{45.118 + seconds:06.3f}Z"

    assert read(data).kind == kind


def test_the_author_is_the_person_an_agent_wrote_for() -> None:
    data = payload("02-agent-reply.json")
    data["article"]["origin_by"] = "jonas.becker@example.org"
    data["article"]["sender"] = "Customer"

    assert read(data).comment.author == "jonas.becker@example.org"


def test_without_a_creator_the_author_is_the_from_address() -> None:
    data = payload("04-customer-reply.json")
    data["article"].update(created_by={}, **{"from": "Jonas Becker <jonas@example.org>"})

    assert read(data).comment.author == "jonas@example.org"


def test_huge_strings_are_cut_not_refused() -> None:
    data = payload("01-created.json")
    data["ticket"]["title"] = "t" * 100_000
    data["ticket"]["group"]["name"] = "g" * 10_000

    ticket = read(data).ticket

    assert (ticket.title, ticket.group) == ("t" * MAX_TEXT, "g" * MAX_TEXT)


# --- bodies Zammad does not send -----------------------------------------------------------------

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
    with pytest.raises(PayloadError) as raised:
        read(mutated(name, path, value))
    assert raised.value.field == error_field


def test_a_tag_that_is_no_string_is_named() -> None:
    data = payload("01-created.json")
    data["ticket"]["tags"] = ["vip", 7]

    with pytest.raises(PayloadError) as raised:
        read(data)
    assert raised.value.field == "ticket.tags[1]"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="text"),
        pytest.param(b"\xff\xfe{}", id="not UTF-8"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"42", id="number"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deep"),
        pytest.param(b'{"ticket": {"id": ' + b"9" * 5000 + b"}}", id="huge number"),
    ],
)
def test_a_body_that_is_no_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(PayloadError) as raised:
        zammad.read({}, body)
    assert raised.value.field == "body"


# --- properties ----------------------------------------------------------------------------------

KEYS = st.sampled_from(
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
            "Agent",
            "Customer",
            "System",
            "-",
            "2026-11-28T08:02:11.583Z",
            "2026-11-28T08:02:12.000Z",
            "2026-11-28T09:10:45Z",
            "9999-12-31T23:59:59-01:00",
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
        zammad.read({}, body)


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
