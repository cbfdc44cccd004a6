"""Zendesk's reader: the signature as Zendesk documents it, our trigger body, a ticket's life."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalations.intake.events import PayloadError, SignatureError, SourceComment
from escalations.intake.sources import zendesk
from escalations.intake.sources.common import MAX_TEXT, body_digest

DATA = Path(__file__).resolve().parents[1] / "data" / "intake" / "zendesk"
TEMPLATE = Path(zendesk.__file__).resolve().parents[1] / "templates" / "zendesk-trigger.json"

# ../shared/vendor/helpdesk/signature-vectors.json, Zendesk "computed": the documented
# base64(HMAC-SHA256(secret, timestamp + body)) over the inputs of Zendesk's Node example.
SECRET = b"HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
STAMP = "2021-07-25T10:00:00Z"
SIGNED_AT = datetime(2021, 7, 25, 10, 0, tzinfo=UTC)
VECTOR_BODY = b'{"say": "hello"}'
COMPUTED = "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk="
# The same file's vector from an older revision of the page, signing body + timestamp.
BODY_THEN_TIMESTAMP = "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw="

LIFE: list[dict[str, Any]] = json.loads((DATA / "life.json").read_text(encoding="utf-8"))
REPLY = (DATA / "02-agent-reply.json").read_bytes()
AGENT, CUSTOMER = "priya.raman@helpdesk.example", "tom.becker@globex.example"


def signed(signature: str = COMPUTED, stamp: str = STAMP) -> dict[str, str]:
    return {
        "x-zendesk-webhook-signature": signature,
        "x-zendesk-webhook-signature-timestamp": stamp,
    }


def sign(body: bytes, stamp: str, secret: bytes = SECRET) -> str:
    digest = hmac.new(secret, stamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def changed(body: bytes, path: str, value: Any) -> bytes:
    """``body`` with the value at dotted ``path`` replaced (``...`` deletes it)."""
    data = json.loads(body)
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return json.dumps(data).encode()


# Signature


def test_the_computed_vector_verifies() -> None:
    zendesk.verify(signed(), VECTOR_BODY, SECRET, SIGNED_AT + timedelta(seconds=42))


def test_the_older_body_then_timestamp_order_does_not_verify() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        zendesk.verify(signed(BODY_THEN_TIMESTAMP), VECTOR_BODY, SECRET, SIGNED_AT)


def test_a_wrong_secret_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        zendesk.verify(signed(), VECTOR_BODY, b"not the secret", SIGNED_AT)


def test_a_tampered_body_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        zendesk.verify(signed(), b'{"say": "hellO"}', SECRET, SIGNED_AT)


@pytest.mark.parametrize(
    "missing", ["x-zendesk-webhook-signature", "x-zendesk-webhook-signature-timestamp"]
)
def test_a_missing_header_is_refused(missing: str) -> None:
    headers = signed()
    del headers[missing]
    with pytest.raises(SignatureError, match="missing"):
        zendesk.verify(headers, VECTOR_BODY, SECRET, SIGNED_AT)


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "sha256=" + COMPUTED,
        "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk",  # padding cut
        "not base64 at all!",
        "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIké=",
        "\u20ac" * 44,
        COMPUTED[:20],
        base64.b64encode(b"\x00" * 32).decode(),
    ],
)
def test_a_malformed_or_foreign_signature_is_refused(signature: str) -> None:
    with pytest.raises(SignatureError):
        zendesk.verify(signed(signature), VECTOR_BODY, SECRET, SIGNED_AT)


@pytest.mark.parametrize(
    "stamp",
    [
        "",
        "yesterday",
        "2021-07-25",
        "2021-07-25T10:00:00",  # no zone
        "1627207200",
        "2021-07-25T10:00:00Zé",
        "\u0662\u0660\u0662\u0661-07-25T10:00:00Z",  # Arabic-Indic digits
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    ],
)
def test_a_malformed_timestamp_is_refused(stamp: str) -> None:
    with pytest.raises(SignatureError, match="Timestamp"):
        zendesk.verify(signed(COMPUTED, stamp), VECTOR_BODY, SECRET, SIGNED_AT)


@pytest.mark.parametrize("off", [-zendesk.MAX_AGE, zendesk.MAX_AGE])
def test_a_timestamp_at_the_edge_of_max_age_verifies(off: timedelta) -> None:
    zendesk.verify(signed(), VECTOR_BODY, SECRET, SIGNED_AT - off)


@pytest.mark.parametrize(
    ("now", "why"),
    [
        (SIGNED_AT + zendesk.MAX_AGE + timedelta(seconds=1), "stale"),
        (SIGNED_AT - zendesk.MAX_AGE - timedelta(seconds=1), "from the future"),
        (SIGNED_AT + timedelta(days=400), "replayed a year later"),
    ],
)
def test_a_timestamp_far_from_now_is_refused(now: datetime, why: str) -> None:
    with pytest.raises(SignatureError, match="minutes from now"):
        zendesk.verify(signed(), VECTOR_BODY, SECRET, now)


def test_a_delivery_signed_with_an_offset_timestamp_verifies() -> None:
    stamp = "2026-11-26T10:12:04+01:00"
    body = (DATA / "01-created.json").read_bytes()
    now = datetime(2026, 11, 26, 9, 13, tzinfo=UTC)
    zendesk.verify(signed(sign(body, stamp), stamp), body, SECRET, now)


# A ticket's life

# file -> kind, changed, comment (public, by_agent, author), status
EXPECTED: dict[str, tuple[str, set[str], tuple[bool, bool, str] | None, str]] = {
    "01-created.json": ("created", set(), None, "New"),
    "02-agent-reply.json": ("comment", set(), (True, True, AGENT), "Open"),
    "03-pending.json": ("updated", {"status"}, None, "Pending"),
    "04-customer-reply.json": ("comment", set(), (True, False, CUSTOMER), "Pending"),
    "05-open.json": ("updated", {"status"}, None, "Open"),
    "06-solved.json": ("updated", {"status"}, None, "Solved"),
}


@pytest.mark.parametrize("step", LIFE, ids=[step["file"] for step in LIFE])
def test_each_step_of_the_life_reads_as_recorded(step: dict[str, Any]) -> None:
    body = (DATA / step["file"]).read_bytes()
    event = zendesk.read(lower(step["headers"]), body)
    kind, change, comment, status = EXPECTED[step["file"]]
    assert event.source == "zendesk"
    assert event.kind == kind
    assert event.changed == change
    assert event.at == datetime.fromisoformat(step["at"])
    assert event.delivery_id == step["headers"]["X-Zendesk-Webhook-Invocation-Id"]
    expected_comment = (
        None
        if comment is None
        else SourceComment(public=comment[0], by_agent=comment[1], author=comment[2])
    )
    assert event.comment == expected_comment
    assert event.ticket is not None
    assert event.ticket.status == status


def test_the_life_opens_a_fully_described_ticket() -> None:
    event = zendesk.read(lower(LIFE[0]["headers"]), (DATA / LIFE[0]["file"]).read_bytes())
    assert event.ticket is not None
    assert event.ticket.model_dump() == {
        "ref": "48213",
        "title": "Card payments fail at checkout with error 502",
        "status": "New",
        "priority": "Urgent",
        "group": "Payments",
        "assignee": AGENT,
        "requester": CUSTOMER,
        "organization": "Globex Corporation",
        "tags": ("checkout", "vip"),
        "fields": {"affected_users": "120"},
    }
    assert event.actor == CUSTOMER


def test_the_life_happens_in_order_within_the_recorded_days() -> None:
    times = [datetime.fromisoformat(step["at"]) for step in LIFE]
    assert times == sorted(set(times))
    assert datetime(2026, 11, 25, tzinfo=UTC) <= times[0]
    assert times[-1] <= datetime(2026, 11, 30, tzinfo=UTC)
    assert [step["file"] for step in LIFE] == list(EXPECTED)


# The template


PLACEHOLDER = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")
SAMPLE = {
    "ticket.id": "1042",
    "ticket.title": 'Printer says "PC LOAD LETTER"',
    "ticket.status": "Open",
    "ticket.priority": "High",
    "ticket.group.name": "Support",
    "ticket.assignee.email": AGENT,
    "ticket.requester.email": CUSTOMER,
    "ticket.organization.name": "Globex Corporation",
    "ticket.tags": "printer  office",
    "ticket.updated_at_with_timestamp": "2026-11-29T16:05Z",
    "ticket.ticket_field_360012345678": "",
    "ticket.latest_comment.author.email": CUSTOMER,
    "ticket.latest_comment.is_public": "false",
    "current_user.email": CUSTOMER,
    "current_user.role": "End-user",
}


def filled(template: str, event: str) -> bytes:
    def value(match: re.Match[str]) -> str:
        return json.dumps(SAMPLE[match[1]])[1:-1]

    body = PLACEHOLDER.sub(value, template).replace('"ticket.created"', f'"{event}"')
    return body.encode()


def test_the_template_uses_only_the_placeholders_the_reader_was_tested_with() -> None:
    assert set(PLACEHOLDER.findall(TEMPLATE.read_text(encoding="utf-8"))) == set(SAMPLE)


def test_the_template_filled_in_reads() -> None:
    event = zendesk.read({}, filled(TEMPLATE.read_text(encoding="utf-8"), "ticket.comment_added"))
    assert event.kind == "comment"
    assert event.at == datetime(2026, 11, 29, 16, 5, tzinfo=UTC)
    assert event.comment == SourceComment(author=CUSTOMER, public=False, by_agent=False)
    assert event.ticket is not None
    assert event.ticket.title == 'Printer says "PC LOAD LETTER"'
    assert event.ticket.tags == ("printer", "office")
    assert event.ticket.fields == {"affected_users": None}


@pytest.mark.parametrize(
    ("role", "by_agent"), [("Agent", True), ("Admin", True), ("admin", True), ("End-user", False)]
)
def test_the_role_of_the_comments_author_says_whether_staff_wrote_it(
    role: str, by_agent: bool
) -> None:
    event = zendesk.read({}, changed(REPLY, "comment.author_role", role))
    assert event.comment is not None
    assert event.comment.by_agent is by_agent


# Delivery id


def test_without_an_invocation_id_a_delivery_is_named_by_its_body() -> None:
    assert zendesk.read({}, REPLY).delivery_id == body_digest(REPLY)


def test_an_unusable_invocation_id_falls_back_to_the_body() -> None:
    headers = {"x-zendesk-webhook-invocation-id": "9" * 201}
    assert zendesk.read(headers, REPLY).delivery_id == body_digest(REPLY)


# Malformed bodies


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "body"),
        (b"", "body"),
        (b"\xff\xfe{}", "body"),
        (b'[{"event": "ticket.created"}]', "body"),
        (b"1" * 5000, "body"),
        (b"[" * 100_000, "body"),
        (changed(REPLY, "event", ...), "event"),
        (changed(REPLY, "event", "ticket.deleted"), "event"),
        (changed(REPLY, "at", ...), "at"),
        (changed(REPLY, "at", "yesterday"), "at"),
        (changed(REPLY, "at", "2026-11-26T09:41:37"), "at"),
        (changed(REPLY, "at", 1795000000000), "at"),
        (changed(REPLY, "at", "9999-12-31T23:59:59-23:59"), "at"),
        (changed(REPLY, "ticket", ["48213"]), "ticket"),
        (changed(REPLY, "ticket", ...), "ticket"),
        (changed(REPLY, "ticket.id", ...), "ticket.id"),
        (changed(REPLY, "ticket.id", ""), "ticket.id"),
        (changed(REPLY, "ticket.id", True), "ticket.id"),
        (changed(REPLY, "ticket.id", "{{ticket.id}}"), "ticket.id"),
        (changed(REPLY, "ticket.id", -3), "ticket.id"),
        (changed(REPLY, "ticket.id", 10**40), "ticket.id"),
        (changed(REPLY, "ticket.status", ["Open"]), "ticket.status"),
        (changed(REPLY, "ticket.tags", ["vip"]), "ticket.tags"),
        (changed(REPLY, "ticket.fields", "affected_users=120"), "ticket.fields"),
        (changed(REPLY, "ticket.fields.affected_users", {"n": 1}), "ticket.fields.affected_users"),
        (changed(REPLY, "comment", ...), "comment"),
        (changed(REPLY, "comment.author_role", ...), "comment.author_role"),
        (changed(REPLY, "comment.author_role", "Light robot"), "comment.author_role"),
        (changed(REPLY, "comment.public", "yes"), "comment.public"),
        (changed(REPLY, "comment.public", 1), "comment.public"),
        (changed(changed(REPLY, "event", "ticket.updated"), "changed", "status"), "changed"),
        (changed(changed(REPLY, "event", "ticket.updated"), "changed", ["title"]), "changed[0]"),
    ],
)
def test_a_malformed_body_names_the_field(body: bytes, where: str) -> None:
    with pytest.raises(PayloadError) as raised:
        zendesk.read({}, body)
    assert raised.value.field == where


def test_a_huge_string_is_cut_not_refused() -> None:
    event = zendesk.read({}, changed(REPLY, "ticket.title", "x" * 1_000_000))
    assert event.ticket is not None
    assert event.ticket.title == "x" * MAX_TEXT


def test_control_characters_are_kept_as_data() -> None:
    title = "a\x00b\x1b[31mc\u2028d\x7f"
    event = zendesk.read({}, changed(REPLY, "ticket.title", title))
    assert event.ticket is not None
    assert event.ticket.title == title
    assert json.loads(event.model_dump_json())["ticket"]["title"] == title


def test_a_lone_surrogate_never_reaches_the_event() -> None:
    body = REPLY.replace(b'"Card payments', b'"\\ud800Card payments')
    event = zendesk.read({}, body)
    assert event.ticket is not None
    assert event.ticket.title is not None
    assert event.ticket.title.endswith("Card payments fail at checkout with error 502")
    assert "\ud800" not in event.ticket.title
    event.model_dump_json()


# Properties

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PATHS = [
    "event",
    "changed",
    "at",
    "actor",
    "ticket",
    "ticket.id",
    "ticket.title",
    "ticket.status",
    "ticket.tags",
    "ticket.fields",
    "comment",
    "comment.public",
    "comment.author_role",
]


@settings(deadline=None)
@given(body=st.binary(max_size=512))
def test_any_bytes_read_or_raise_payload_error(body: bytes) -> None:
    with contextlib.suppress(PayloadError):
        zendesk.read({}, body)


@settings(deadline=None)
@given(path=st.sampled_from(PATHS), value=JSON)
def test_any_value_anywhere_reads_or_raises_payload_error(path: str, value: Any) -> None:
    try:
        event = zendesk.read({}, changed(REPLY, path, value))
    except PayloadError:
        return
    event.model_dump_json()
