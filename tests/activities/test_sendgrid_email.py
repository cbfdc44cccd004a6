"""SendGrid delivery over real HTTP against a loopback fake: bodies, results, error mapping."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter, DefaultFailureConverter
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.models import ClockSnapshot, NotificationRequest
from activities.notifications import build_notification_activities
from activities.sendgrid_email import SendGridSender
from escalations.testing.fake_sendgrid import FakeSendGrid, sendgrid_error
from tests.activities import notices
from tests.activities.notices import OPENED

API_KEY = "SG.test-key-d0-not-leak.9f8e7d"
FROM = "escalations@helpdesk.example"
NOW = 1_750_000_000.0
SCHEMA = json.loads(
    (Path(__file__).parent.parent / "data" / "sendgrid-mail-send.schema.json").read_text()
)


CLOCK = ClockSnapshot(
    clock="first_response",
    target=timedelta(minutes=15),
    elapsed=timedelta(minutes=20),
    due_at=OPENED + timedelta(minutes=15),
    breached=True,
    stopped=False,
)


def make_request(**changes: Any) -> NotificationRequest:
    return notices.make_request(**{"assignee": "dana@example.com", "clocks": [CLOCK], **changes})


def assert_valid_mail_send(body: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(
        SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    validator.validate(body)


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def sender(fake: FakeSendGrid) -> SendGridSender:
    return SendGridSender(API_KEY, FROM, host=fake.url, timeout=5, clock=lambda: NOW)


def failure_of(sender: SendGridSender, request: NotificationRequest) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        sender.deliver(request)
    error = caught.value
    # Whatever goes into workflow history must be free of the key and of unpicklable causes.
    failure = Failure()
    DefaultFailureConverter().to_failure(error, DataConverter.default.payload_converter, failure)
    assert API_KEY not in str(failure)
    assert not failure.HasField("cause")
    return error


def test_accepted_notice_is_sent_with_sendgrid_message_id(
    fake: FakeSendGrid, sender: SendGridSender
) -> None:
    result = sender.deliver(make_request())
    assert result.status == "sent"
    assert result.provider == "sendgrid"
    assert result.message_id == "fake-1"
    [recorded] = fake.requests
    assert recorded.method == "POST"
    assert recorded.path == "/v3/mail/send"
    assert recorded.headers["authorization"] == f"Bearer {API_KEY}"
    assert recorded.headers["content-type"] == "application/json"


def test_body_matches_the_mail_send_schema(fake: FakeSendGrid, sender: SendGridSender) -> None:
    request = make_request(repeat=2)
    sender.deliver(request)
    [body] = fake.wait_for_accepted(1, timeout=5)
    assert_valid_mail_send(body)
    assert body["from"] == {"email": FROM}
    assert body["personalizations"] == [
        {"to": [{"email": "lead@example.com"}]},
        {"to": [{"email": "manager@example.com"}]},
    ]
    assert body["subject"] == "[P1] T-1042 Checkout down: response-breached (repeat 2)"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    assert "Title: Checkout down" in body["content"][0]["value"]
    assert body["custom_args"] == {
        "ticket_id": "T-1042",
        "level": "response-breached",
        "idempotency_key": request.idempotency_key,
        "repeat": "2",
    }
    assert body["categories"] == ["escalation", "response-breached"]
    assert "template_id" not in body


def test_template_request_carries_template_and_data(
    fake: FakeSendGrid, sender: SendGridSender
) -> None:
    sender.deliver(make_request(template_id="d-0123456789abcdef0123456789abcdef"))
    [body] = fake.accepted
    assert_valid_mail_send(body)
    assert body["template_id"] == "d-0123456789abcdef0123456789abcdef"
    for personalization in body["personalizations"]:
        data = personalization["dynamic_template_data"]
        assert data["ticket"]["id"] == "T-1042"
        assert data["level"] == "response-breached"
        assert data["clocks"][0]["target"] == "15m"


def test_duplicate_recipients_get_one_personalization(
    fake: FakeSendGrid, sender: SendGridSender
) -> None:
    sender.deliver(make_request(recipients=["a@example.com", "A@example.com", "b@example.com"]))
    [body] = fake.accepted
    assert [p["to"][0]["email"] for p in body["personalizations"]] == [
        "a@example.com",
        "b@example.com",
    ]


def test_hostile_title_is_escaped_and_stays_out_of_headers(
    fake: FakeSendGrid, sender: SendGridSender
) -> None:
    sender.deliver(make_request(title="<script>alert(1)</script> Subject\r\nBcc: evil@x.com"))
    [body] = fake.accepted
    assert_valid_mail_send(body)
    assert "\r" not in body["subject"]
    assert "\n" not in body["subject"]
    html = body["content"][1]["value"]
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "bcc" not in json.dumps(body["personalizations"]).lower()


def test_rate_limit_waits_until_the_reset_time(fake: FakeSendGrid, sender: SendGridSender) -> None:
    fake.answer_next(429, headers={"X-RateLimit-Reset": str(int(NOW) + 120)})
    error = failure_of(sender, make_request())
    assert error.type == "SendGridRateLimited"
    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=120)


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        (NOW + 10 * 3600, timedelta(minutes=15)),
        (NOW - 50, timedelta(seconds=1)),
        ("soon", None),
        (None, None),
    ],
)
def test_rate_limit_delay_is_clamped_or_absent(
    fake: FakeSendGrid, sender: SendGridSender, reset: Any, expected: timedelta | None
) -> None:
    headers = {"X-RateLimit-Reset": str(reset)} if reset is not None else {}
    fake.answer_next(429, headers=headers)
    error = failure_of(sender, make_request())
    assert error.type == "SendGridRateLimited"
    assert error.next_retry_delay == expected


@pytest.mark.parametrize("status", [500, 502, 503, 504, 405])
def test_server_errors_are_retryable(
    fake: FakeSendGrid, sender: SendGridSender, status: int
) -> None:
    fake.answer_next(status)
    error = failure_of(sender, make_request())
    assert error.type == "SendGridUnavailable"
    assert not error.non_retryable
    assert f"HTTP {status}" in error.message


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413])
def test_rejections_are_not_retried(
    fake: FakeSendGrid, sender: SendGridSender, status: int
) -> None:
    fake.answer_next(status, body=sendgrid_error("The from address does not match", "from"))
    error = failure_of(sender, make_request())
    assert error.type == "SendGridRejected"
    assert error.non_retryable
    assert f"HTTP {status}" in error.message
    assert "from: The from address does not match" in error.message


def test_error_text_is_bounded_and_never_shows_the_key(
    fake: FakeSendGrid, sender: SendGridSender
) -> None:
    echo = sendgrid_error(f"bad key {API_KEY} " + "z" * 5000, "authorization")
    fake.answer_next(401, body=echo)
    error = failure_of(sender, make_request())
    assert API_KEY not in error.message
    assert "[redacted]" in error.message
    assert len(error.message) < 700


def test_connection_refused_is_retryable(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    closed = SendGridSender(API_KEY, FROM, host=f"http://127.0.0.1:{port}", timeout=5)
    error = failure_of(closed, make_request())
    assert error.type == "SendGridUnreachable"
    assert not error.non_retryable


def test_silent_server_times_out_as_unreachable() -> None:
    # The kernel completes the TCP handshake into the backlog; nobody ever answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        slow = SendGridSender(API_KEY, FROM, host=f"http://127.0.0.1:{port}", timeout=0.3)
        error = failure_of(slow, make_request())
    assert error.type == "SendGridUnreachable"
    assert not error.non_retryable


def test_outage_then_recovery(fake: FakeSendGrid, sender: SendGridSender) -> None:
    fake.answer_always(503)
    assert failure_of(sender, make_request()).type == "SendGridUnavailable"
    fake.answer_always(202)
    assert sender.deliver(make_request()).status == "sent"
    assert [r.status for r in fake.requests] == [503, 202]


def test_activity_with_api_key_sends_through_sendgrid(fake: FakeSendGrid, tmp_path: Path) -> None:
    activities = build_notification_activities(API_KEY, fake.url, FROM, tmp_path)
    env = ActivityEnvironment()
    result = env.run(activities.send_notification, make_request())
    assert result.status == "sent"
    assert result.provider == "sendgrid"
    assert result.message_id is not None
    fake.answer_next(400)
    with pytest.raises(ApplicationError) as caught:
        env.run(activities.send_notification, make_request())
    assert caught.value.type == "SendGridRejected"
    assert not list(tmp_path.iterdir()), "with a key, nothing goes to the outbox"


def test_sender_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="API key is required"):
        SendGridSender("", FROM)


def test_fake_requires_a_bearer_token(fake: FakeSendGrid) -> None:
    request = urllib.request.Request(
        fake.url + "/v3/mail/send", data=b"{}", method="POST", headers={}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 401
    caught.value.close()
    assert fake.accepted == []
    with pytest.raises(AssertionError, match="received 1"):
        fake.wait_for_accepted(1, timeout=0.1)


def test_sandbox_mode_asks_sendgrid_to_validate_and_deliver_nothing(fake: FakeSendGrid) -> None:
    sandboxed = SendGridSender(API_KEY, FROM, host=fake.url, timeout=5, sandbox=True)
    fake.answer_next(200)  # SendGrid answers a sandboxed send 200 with no message id
    result = sandboxed.deliver(make_request())
    [body] = fake.wait_for_accepted(1, timeout=5)
    assert_valid_mail_send(body)
    assert body["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert result.status == "sent"
    assert "sandbox mode" in (result.detail or "")


def test_sandbox_mode_is_off_unless_asked(fake: FakeSendGrid, sender: SendGridSender) -> None:
    sender.deliver(make_request())
    [body] = fake.wait_for_accepted(1, timeout=5)
    assert "mail_settings" not in body


def test_the_fake_refuses_a_request_whose_body_never_arrived(fake: FakeSendGrid) -> None:
    # What a worker killed mid-send leaves behind: headers, no body. SendGrid sends nothing
    # for it, and the fault suite must not count it as an accepted notice.
    request = urllib.request.Request(
        f"{fake.url}/v3/mail/send",
        data=b"",
        method="POST",
        headers={"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    caught.value.close()
    assert caught.value.code == 400
    assert fake.accepted == []
