"""Freshdesk's reader: the rule's token header, our webhook body, a ticket's life."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escalations.intake.events import PayloadError, SignatureError, SourceComment
from escalations.intake.sources import freshdesk
from escalations.intake.sources.common import MAX_TEXT, body_digest

DATA = Path(__file__).resolve().parents[1] / "data" / "intake" / "freshdesk"
TEMPLATE = Path(freshdesk.__file__).resolve().parents[1] / "templates" / "freshdesk-webhook.json"

SECRET = b"fd-7Qm2-shared-token-for-tests"
NOW = datetime(2026, 11, 27, 10, 4, tzinfo=UTC)
LIFE: list[dict[str, Any]] = json.loads((DATA / "life.json").read_text(encoding="utf-8"))
REPLY = (DATA / "02-agent-reply.json").read_bytes()
AGENT, CUSTOMER = "sam.ortiz@helpdesk.example", "lena.fischer@initech.example"


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

# file -> kind, changed, comment (public, by_agent, author), status
EXPECTED: dict[str, tuple[str, set[str], tuple[bool, bool, str | None] | None, str]] = {
    "01-created.json": ("created", set(), None, "Open"),
    "02-agent-reply.json": ("comment", set(), (True, True, None), "Open"),
    "03-waiting-on-customer.json": ("updated", {"status"}, None, "Waiting on Customer"),
    "04-customer-reply.json": ("comment", set(), (True, False, CUSTOMER), "Waiting on Customer"),
    "05-open.json": ("updated", {"status"}, None, "Open"),
    "06-resolved.json": ("updated", {"status"}, None, "Resolved"),
}


@pytest.mark.parametrize("step", LIFE, ids=[step["file"] for step in LIFE])
def test_each_step_of_the_life_reads_as_recorded(step: dict[str, Any]) -> None:
    body = (DATA / step["file"]).read_bytes()
    event = freshdesk.read(lower(step["headers"]), body)
    kind, change, comment, status = EXPECTED[step["file"]]
    assert event.source == "freshdesk"
    assert event.kind == kind
    assert event.changed == change
    assert event.at == datetime.fromisoformat(step["at"])
    assert event.delivery_id == body_digest(body)
    expected_comment = (
        None
        if comment is None
        else SourceComment(public=comment[0], by_agent=comment[1], author=comment[2])
    )
    assert event.comment == expected_comment
    assert event.ticket is not None
    assert event.ticket.status == status


def test_the_life_opens_a_fully_described_ticket() -> None:
    event = freshdesk.read(lower(LIFE[0]["headers"]), (DATA / LIFE[0]["file"]).read_bytes())
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
    times = [datetime.fromisoformat(step["at"]) for step in LIFE]
    assert times == sorted(set(times))
    assert datetime(2026, 11, 25, tzinfo=UTC) <= times[0]
    assert times[-1] <= datetime(2026, 11, 30, tzinfo=UTC)
    assert [step["file"] for step in LIFE] == list(EXPECTED)


# The template


PLACEHOLDER = re.compile(r"\{\{\s*(.+?)\s*\}\}")
SAMPLE = {
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
}


def filled(template: str, event: str) -> bytes:
    def value(match: re.Match[str]) -> str:
        return json.dumps(SAMPLE[match[1]])[1:-1]

    body = PLACEHOLDER.sub(value, template).replace('"ticket.created"', f'"{event}"')
    return body.encode()


def test_the_template_uses_only_the_placeholders_the_reader_was_tested_with() -> None:
    assert set(PLACEHOLDER.findall(TEMPLATE.read_text(encoding="utf-8"))) == set(SAMPLE)


def test_the_template_filled_in_reads() -> None:
    event = freshdesk.read({}, filled(TEMPLATE.read_text(encoding="utf-8"), "ticket.updated"))
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


# Malformed bodies


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "body"),
        (b"", "body"),
        (b"\xc3\x28", "body"),
        (b"[]", "body"),
        (b'"ticket"', "body"),
        (b"9" * 4301, "body"),
        (b'{"a":' * 50_000, "body"),
        (changed(REPLY, "event", ...), "event"),
        (changed(REPLY, "event", "ticket.merged"), "event"),
        (changed(REPLY, "at", ...), "at"),
        (changed(REPLY, "at", "November 27 2026 at 10:29 AM IST"), "at"),
        (changed(REPLY, "at", "2026-11-27 10:29:51"), "at"),
        (changed(REPLY, "at", "0001-01-01 00:00:00 +0100"), "at"),
        (changed(REPLY, "ticket", "7315"), "ticket"),
        (changed(REPLY, "ticket.id", ...), "ticket.id"),
        (changed(REPLY, "ticket.id", "  "), "ticket.id"),
        (changed(REPLY, "ticket.id", "#7315"), "ticket.id"),
        (changed(REPLY, "ticket.id", 7315.0), "ticket.id"),
        (changed(REPLY, "ticket.priority", {"name": "Urgent"}), "ticket.priority"),
        (changed(REPLY, "ticket.fields.cf_x", ["a"]), "ticket.fields.cf_x"),
        (changed(REPLY, "comment", ...), "comment"),
        (changed(REPLY, "comment.by", ...), "comment.by"),
        (changed(REPLY, "comment.by", "bot"), "comment.by"),
        (changed(REPLY, "comment.public", ...), "comment.public"),
        (changed(REPLY, "comment.public", "public"), "comment.public"),
        (changed(changed(REPLY, "event", "ticket.updated"), "changed", {"status": 1}), "changed"),
        (changed(changed(REPLY, "event", "ticket.updated"), "changed", [3]), "changed[0]"),
    ],
)
def test_a_malformed_body_names_the_field(body: bytes, where: str) -> None:
    with pytest.raises(PayloadError) as raised:
        freshdesk.read({}, body)
    assert raised.value.field == where


def test_a_huge_string_is_cut_not_refused() -> None:
    event = freshdesk.read({}, changed(REPLY, "ticket.organization", "\u00e9" * 100_000))
    assert event.ticket is not None
    assert event.ticket.organization == "\u00e9" * MAX_TEXT


def test_control_characters_are_kept_as_data() -> None:
    title = "tab\there\r\nnul\x00 esc\x1b[0m bidi\u202e"
    event = freshdesk.read({}, changed(REPLY, "ticket.title", title))
    assert event.ticket is not None
    assert event.ticket.title == title.strip()
    assert json.loads(event.model_dump_json())["ticket"]["title"] == title.strip()


def test_a_lone_surrogate_never_reaches_the_event() -> None:
    body = REPLY.replace(b'"Billing"', b'"Billing\\udfff"')
    event = freshdesk.read({}, body)
    assert event.ticket is not None
    assert event.ticket.group is not None
    assert event.ticket.group.startswith("Billing")
    assert "\udfff" not in event.ticket.group
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
    "ticket",
    "ticket.id",
    "ticket.title",
    "ticket.tags",
    "ticket.fields",
    "comment",
    "comment.by",
    "comment.public",
    "comment.author",
]


@settings(deadline=None)
@given(body=st.binary(max_size=512))
def test_any_bytes_read_or_raise_payload_error(body: bytes) -> None:
    with contextlib.suppress(PayloadError):
        freshdesk.read({}, body)


@settings(deadline=None)
@given(path=st.sampled_from(PATHS), value=JSON)
def test_any_value_anywhere_reads_or_raises_payload_error(path: str, value: Any) -> None:
    try:
        event = freshdesk.read({}, changed(REPLY, path, value))
    except PayloadError:
        return
    event.model_dump_json()
