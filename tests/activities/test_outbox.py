"""The outbox: one parseable .eml per notice, written once per idempotency key."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.email_content import TRUNCATION_MARKER
from activities.notifications import build_notification_activities
from activities.outbox import OutboxWriter, outbox_file_name
from tests.activities.notices import make_request

FROM = "escalations@helpdesk.example"


def read_eml(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def text_of(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


def test_writes_a_parseable_eml_with_escalation_headers(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox" / "nested"
    request = make_request()
    result = OutboxWriter(outbox, FROM).deliver(request)

    files = list(outbox.iterdir())
    assert [f.name for f in files] == [outbox_file_name(request.idempotency_key)]
    message = read_eml(files[0])
    assert message["From"] == FROM
    assert message["To"] == "lead@example.com, manager@example.com"
    assert message["Subject"] == "[P1] T-1042 Checkout down: response-breached"
    assert message["Date"].datetime.tzinfo is not None
    assert message["Message-ID"] == result.message_id
    assert message["Message-ID"].endswith("@helpdesk.example>")
    assert message["X-Escalation-Key"] == request.idempotency_key
    assert message["X-Ticket-Id"] == "T-1042"
    assert message["X-Escalation-Level"] == "response-breached"
    assert message.get_content_type() == "multipart/alternative"
    assert "Title: Checkout down" in text_of(message, "plain")
    assert "<td>Checkout down</td>" in text_of(message, "html")
    assert result.status == "written"
    assert result.provider == "outbox"
    assert result.detail == f"written to {files[0]}"


def test_second_delivery_of_the_same_key_writes_nothing(tmp_path: Path) -> None:
    writer = OutboxWriter(tmp_path, FROM)
    request = make_request()
    first = writer.deliver(request)
    written = writer.path_for(request.idempotency_key).read_bytes()

    again = writer.deliver(request.model_copy(update={"reason": "changed"}))

    assert list(tmp_path.iterdir()) == [writer.path_for(request.idempotency_key)]
    assert writer.path_for(request.idempotency_key).read_bytes() == written
    assert again.detail is not None
    assert again.detail.startswith("already written")
    assert again.message_id == first.message_id


def test_each_key_gets_its_own_file(tmp_path: Path) -> None:
    writer = OutboxWriter(tmp_path, FROM)
    for repeat in range(3):
        writer.deliver(make_request(repeat=repeat))
    assert len(list(tmp_path.glob("*.eml"))) == 3
    assert not list(tmp_path.glob(".*")), "no temporary files are left behind"


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "/abs/path", "a/b", "a:b", ".hidden", "", "x" * 5000, "é\x00\n"]
)
def test_hostile_keys_make_safe_distinct_file_names(tmp_path: Path, key: str) -> None:
    writer = OutboxWriter(tmp_path / "box", FROM)
    path = writer.path_for(key)
    assert path.parent == tmp_path / "box"
    assert not path.name.startswith(".")
    assert len(path.name) < 120
    assert path.name != writer.path_for(key + "-").name
    writer.deliver(make_request(idempotency_key=key))
    assert path.is_file()


def test_hostile_title_cannot_add_headers(tmp_path: Path) -> None:
    writer = OutboxWriter(tmp_path, FROM)
    request = make_request(title="Subject\r\nBcc: evil@x.com", ticket_id="T-1\r\nX-Evil: 1")
    writer.deliver(request)
    message = read_eml(writer.path_for(request.idempotency_key))
    assert message["Bcc"] is None
    assert message["X-Evil"] is None
    assert message["Subject"] == "[P1] T-1 X-Evil: 1 Subject Bcc: evil@x.com: response-breached"
    assert message["X-Ticket-Id"] == "T-1 X-Evil: 1"


def test_script_in_title_is_escaped_in_the_html_part(tmp_path: Path) -> None:
    writer = OutboxWriter(tmp_path, FROM)
    request = make_request(title="<script>alert(1)</script>")
    writer.deliver(request)
    html = text_of(read_eml(writer.path_for(request.idempotency_key)), "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_long_title_is_truncated_in_the_file(tmp_path: Path) -> None:
    writer = OutboxWriter(tmp_path, FROM)
    request = make_request(title="y" * 50_000)
    writer.deliver(request)
    message = read_eml(writer.path_for(request.idempotency_key))
    assert TRUNCATION_MARKER in message["Subject"]
    assert len(message["Subject"]) <= 200
    assert TRUNCATION_MARKER in text_of(message, "plain")


def test_unwritable_outbox_is_a_retryable_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(ApplicationError) as caught:
        OutboxWriter(blocker, FROM).deliver(make_request())
    assert caught.value.type == "OutboxWriteFailed"
    assert not caught.value.non_retryable


def test_activity_without_api_key_writes_to_the_outbox(tmp_path: Path) -> None:
    activities = build_notification_activities(None, None, FROM, tmp_path)
    request = make_request()
    env = ActivityEnvironment()
    result = env.run(activities.send_notification, request)
    assert result.status == "written"
    assert result.provider == "outbox"
    again = env.run(activities.send_notification, request)
    assert again.detail is not None
    assert again.detail.startswith("already written")
    assert len(list(tmp_path.glob("*.eml"))) == 1


def test_activity_rejects_a_recipient_that_is_not_an_address(tmp_path: Path) -> None:
    activities = build_notification_activities("  ", None, FROM, tmp_path)
    request = make_request(recipients=["lead@example.com\r\nBcc: evil@x.com"])
    with pytest.raises(ApplicationError) as caught:
        ActivityEnvironment().run(activities.send_notification, request)
    assert caught.value.type == "InvalidRecipient"
    assert caught.value.non_retryable
    assert not list(tmp_path.iterdir())


def test_factory_rejects_a_bad_from_address(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an email address"):
        build_notification_activities(None, None, "Escalations <x@y.example>", tmp_path)
