"""Zendesk's reader: the signature as Zendesk documents it, our trigger body, a ticket's life."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from escalations.intake.events import SignatureError, SourceComment
from escalations.intake.sources import zendesk
from escalations.intake.sources.common import body_digest
from tests.intake.reader_cases import (
    DELETE,
    Life,
    Step,
    Template,
    TemplateBodyContract,
    changed,
    refused_at,
)

LIFE = Life("zendesk", zendesk.INVOCATION_HEADER)

# ../shared/vendor/helpdesk/signature-vectors.json, Zendesk "computed": the documented
# base64(HMAC-SHA256(secret, timestamp + body)) over the inputs of Zendesk's Node example.
SECRET = b"HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA="
STAMP = "2021-07-25T10:00:00Z"
SIGNED_AT = datetime(2021, 7, 25, 10, 0, tzinfo=UTC)
VECTOR_BODY = b'{"say": "hello"}'
COMPUTED = "Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk="
# The same file's vector from an older revision of the page, signing body + timestamp.
BODY_THEN_TIMESTAMP = "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw="

REPLY = LIFE.body("02-agent-reply.json")
AGENT, CUSTOMER = "priya.raman@helpdesk.example", "tom.becker@globex.example"


def signed(signature: str = COMPUTED, stamp: str = STAMP) -> dict[str, str]:
    return {
        "x-zendesk-webhook-signature": signature,
        "x-zendesk-webhook-signature-timestamp": stamp,
    }


def sign(body: bytes, stamp: str, secret: bytes = SECRET) -> str:
    digest = hmac.new(secret, stamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


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
    body = LIFE.body("01-created.json")
    now = datetime(2026, 11, 26, 9, 13, tzinfo=UTC)
    zendesk.verify(signed(sign(body, stamp), stamp), body, SECRET, now)


# A ticket's life

EXPECTED = {
    "01-created.json": Step("created", "New"),
    "02-agent-reply.json": Step(
        "comment", "Open", comment=SourceComment(public=True, by_agent=True, author=AGENT)
    ),
    "03-pending.json": Step("updated", "Pending", changed=frozenset({"status"})),
    "04-customer-reply.json": Step(
        "comment", "Pending", comment=SourceComment(public=True, by_agent=False, author=CUSTOMER)
    ),
    "05-open.json": Step("updated", "Open", changed=frozenset({"status"})),
    "06-solved.json": Step("updated", "Solved", changed=frozenset({"status"})),
}


@pytest.mark.parametrize("step", LIFE.steps, ids=LIFE.ids())
def test_each_step_of_the_life_reads_as_recorded(step: dict[str, Any]) -> None:
    LIFE.assert_reads(zendesk, step, EXPECTED[step["file"]])


def test_the_life_opens_a_fully_described_ticket() -> None:
    event = LIFE.read(zendesk, LIFE.steps[0])
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
    LIFE.assert_in_order(
        list(EXPECTED), datetime(2026, 11, 25, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    )


# The template


TEMPLATE = Template(
    "zendesk-trigger.json",
    {
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
    },
)


def test_the_template_filled_in_reads() -> None:
    event = zendesk.read({}, TEMPLATE.filled("ticket.comment_added"))
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


# Malformed bodies (the template's own are in the contract below)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (changed(REPLY, "comment.author_role", DELETE), "comment.author_role"),
        (changed(REPLY, "comment.author_role", "Light robot"), "comment.author_role"),
    ],
)
def test_a_malformed_comment_role_names_the_field(body: bytes, where: str) -> None:
    assert refused_at(zendesk, body) == where


# Any body, and what every reader of the template checks alike


class TestReaderContract(TemplateBodyContract):
    reader = zendesk
    template = TEMPLATE
    samples = (REPLY,)
    texts: ClassVar[dict[str, str]] = {"ticket.title": "ticket.title"}
    paths = (
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
    )
