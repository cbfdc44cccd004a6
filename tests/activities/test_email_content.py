"""Rendering of escalation notices: format, hostile input, truncation, template data."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from activities.email_content import (
    MAX_FIELD_LENGTH,
    MAX_SUBJECT_LENGTH,
    TRUNCATION_MARKER,
    render_email,
    render_subject,
    single_line,
    template_data,
    truncate,
)
from activities.models import ClockSnapshot, NotificationRequest
from tests.activities import notices
from tests.activities.notices import OPENED

CLOCKS = [
    ClockSnapshot(
        clock="first_response",
        target=timedelta(minutes=15),
        elapsed=timedelta(hours=1, minutes=30),
        due_at=OPENED + timedelta(minutes=15),
        breached=True,
        stopped=False,
    ),
    ClockSnapshot(
        clock="resolution",
        target=timedelta(hours=4),
        elapsed=timedelta(hours=1, minutes=30),
        due_at=None,
        breached=False,
        stopped=True,
    ),
]


def make_request(**changes: Any) -> NotificationRequest:
    defaults = {
        "assignee": "dana@example.com",
        "clocks": CLOCKS,
        "recipients": ["lead@example.com"],
    }
    return notices.make_request(**{**defaults, **changes})


class _Markup(HTMLParser):
    """Records the tags of a document and its raw text, without decoding entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.tags: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []
        self.raw_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple(attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(("/" + tag, ()))

    def handle_data(self, data: str) -> None:
        self.raw_text.append(data)

    def handle_comment(self, data: str) -> None:
        self.tags.append(("!--", ()))


def markup(document: str) -> _Markup:
    parser = _Markup()
    parser.feed(document)
    parser.close()
    return parser


def test_subject_names_priority_ticket_title_and_level() -> None:
    assert render_subject(make_request()) == "[P1] T-1042 Checkout down: response-breached"


def test_subject_counts_repeats() -> None:
    subject = render_subject(make_request(repeat=2))
    assert subject == "[P1] T-1042 Checkout down: response-breached (repeat 2)"


def test_bodies_list_every_fact_and_clock() -> None:
    email = render_email(make_request())
    for expected in [
        "Ticket: T-1042",
        "Title: Checkout down",
        "Priority: P1",
        "Team: payments",
        "Customer: Acme Corp",
        "Requester: ops@acme.example",
        "Assignee: dana@example.com",
        "Affected users: 1200",
        "Critical service: yes",
        "State: open",
        "Opened at: 2025-03-04 09:00:00 UTC",
        "Level: response-breached",
        "Reason: first response overdue",
        "Due at: 2025-03-04 09:15:00 UTC",
        "- first_response: target 15m, elapsed 1h30m, due 2025-03-04 09:15:00 UTC, "
        "breached yes, stopped no",
        "- resolution: target 4h, elapsed 1h30m, due —, breached no, stopped yes",
    ]:
        assert expected in email.text
    for expected in ["Checkout down", "Acme Corp", "1h30m", "15m", "4h", "first_response"]:
        assert expected in email.html


def test_missing_assignee_is_shown_as_unassigned() -> None:
    assert "Assignee: unassigned" in render_email(make_request(assignee=None)).text


def test_script_in_title_is_escaped_in_html() -> None:
    email = render_email(make_request(title="<script>alert(1)</script>", customer='"><img>'))
    assert "<script>" not in email.html
    assert "<img>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "&quot;&gt;&lt;img&gt;" in email.html
    assert markup(email.html).tags == markup(render_email(make_request()).html).tags


def test_line_breaks_in_title_cannot_inject_headers_or_lines() -> None:
    email = render_email(make_request(title="Subject\r\nBcc: evil@x.com"))
    assert "\r" not in email.subject
    assert "\n" not in email.subject
    assert email.subject == "[P1] T-1042 Subject Bcc: evil@x.com: response-breached"
    # In the body the value stays on its own labelled line; it cannot forge a line of its own.
    assert not any(line.startswith("Bcc:") for line in email.text.splitlines())
    assert "Title: Subject Bcc: evil@x.com" in email.text


def test_bidi_and_other_invisible_controls_are_removed() -> None:
    assert single_line("abc\u202edef\x00\x1b[31m\u2028x") == "abcdef [31m x"


def test_long_title_is_cut_with_a_marker_and_keeps_the_level() -> None:
    email = render_email(make_request(title="x" * 10_000))
    assert len(email.subject) <= MAX_SUBJECT_LENGTH
    assert TRUNCATION_MARKER in email.subject
    assert email.subject.endswith(": response-breached")
    title_line = next(line for line in email.text.splitlines() if line.startswith("Title: "))
    assert len(title_line) == len("Title: ") + MAX_FIELD_LENGTH
    assert title_line.endswith(TRUNCATION_MARKER)
    assert "x" * (MAX_FIELD_LENGTH + 1) not in email.html


def test_truncate_leaves_short_text_alone() -> None:
    assert truncate("short", 10) == "short"
    assert truncate("x" * 30, 20) == "x" * (20 - len(TRUNCATION_MARKER)) + TRUNCATION_MARKER


def test_template_data_is_plain_json() -> None:
    data = template_data(make_request(repeat=1, title="A\nB"))
    assert json.loads(json.dumps(data)) == data
    assert data["subject"] == "[P1] T-1042 A B: response-breached (repeat 1)"
    assert data["ticket"]["id"] == "T-1042"
    assert data["ticket"]["title"] == "A B"
    assert data["ticket"]["affected_users"] == 1200
    assert data["ticket"]["critical_service"] is True
    assert data["repeat"] == 1
    assert data["due_at"] == "2025-03-04 09:15:00 UTC"
    assert data["clocks"][0] == {
        "clock": "first_response",
        "target": "15m",
        "elapsed": "1h30m",
        "due_at": "2025-03-04 09:15:00 UTC",
        "breached": True,
        "stopped": False,
    }


@given(
    title=st.text(),
    priority=st.text(max_size=300),
    ticket_id=st.text(max_size=300),
    level=st.text(max_size=300),
    repeat=st.integers(min_value=0, max_value=10**12),
)
def test_subject_is_one_bounded_line(
    title: str, priority: str, ticket_id: str, level: str, repeat: int
) -> None:
    subject = render_subject(
        make_request(
            title=title, priority=priority, ticket_id=ticket_id, level=level, repeat=repeat
        )
    )
    assert len(subject) <= MAX_SUBJECT_LENGTH
    assert subject == subject.strip()
    assert not any(char in subject for char in "\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
    assert not any(unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") for char in subject)


HOSTILE = st.text(alphabet=st.sampled_from("<>&\"'/=abc \r\n\t!-[]")) | st.text()


@given(title=HOSTILE, customer=HOSTILE, reason=HOSTILE, clock=HOSTILE)
def test_fields_never_add_markup(title: str, customer: str, reason: str, clock: str) -> None:
    base = make_request()
    request = make_request(
        title=title,
        customer=customer,
        reason=reason,
        clocks=[base.clocks[0].model_copy(update={"clock": clock})],
    )
    document = markup(render_email(request).html)
    benign = markup(render_email(base.model_copy(update={"clocks": base.clocks[:1]})).html)
    assert document.tags == benign.tags
    assert not any("<" in chunk for chunk in document.raw_text)


def test_business_hours_due_times_are_shown_in_the_calendar_zone() -> None:
    due = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)  # 10:30 in New York (EST)
    clock = ClockSnapshot(
        clock="first_response",
        target=timedelta(hours=4),
        elapsed=timedelta(hours=1),
        due_at=due,
        breached=False,
        stopped=False,
        timezone="America/New_York",
    )
    email = render_email(make_request(clocks=[clock]))
    shown = "2026-11-23 10:30:00 EST (America/New_York; 2026-11-23 15:30:00 UTC)"
    assert shown in email.text
    assert shown in email.html
