"""The delivery ledger: a notice SendGrid accepted is not sent again by a later attempt."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.delivery_ledger import RETENTION, DeliveryLedger, LedgeredBackend
from activities.models import DeliveryResult
from activities.notifications import build_notification_activities
from activities.sendgrid_email import SendGridSender
from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.activities.notices import make_request

API_KEY = "SG.ledger-test-key"
FROM = "escalations@example.com"
NOW = 1_800_000_000.0


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[DeliveryLedger]:
    book = DeliveryLedger(tmp_path / "ledger" / "deliveries.sqlite3", clock=lambda: NOW)
    yield book
    book.close()


def ledgered(fake: FakeSendGrid, ledger: DeliveryLedger) -> LedgeredBackend:
    return LedgeredBackend(SendGridSender(API_KEY, FROM, host=fake.url, timeout=5), ledger)


def test_a_retry_of_an_accepted_notice_is_not_sent_again(
    fake: FakeSendGrid, ledger: DeliveryLedger
) -> None:
    backend = ledgered(fake, ledger)
    request = make_request()
    first = backend.deliver(request)
    again = backend.deliver(request)
    assert len(fake.requests) == 1
    assert again.status == "sent"
    assert again.message_id == first.message_id
    assert again.detail is not None
    assert "not sent again" in again.detail


def test_distinct_notices_are_each_sent(fake: FakeSendGrid, ledger: DeliveryLedger) -> None:
    backend = ledgered(fake, ledger)
    backend.deliver(make_request())
    backend.deliver(make_request())
    assert len(fake.accepted) == 2


def test_a_failed_attempt_is_not_recorded_so_the_retry_sends(
    fake: FakeSendGrid, ledger: DeliveryLedger
) -> None:
    backend = ledgered(fake, ledger)
    request = make_request()
    fake.answer_next(500)
    with pytest.raises(ApplicationError):
        backend.deliver(request)
    assert ledger.lookup(request.idempotency_key) is None
    assert backend.deliver(request).detail == "HTTP 202"
    assert [r.status for r in fake.requests] == [500, 202]


def test_the_ledger_outlives_the_process_that_wrote_it(fake: FakeSendGrid, tmp_path: Path) -> None:
    # A new worker (a new ledger object on the same file) must see what a killed one recorded.
    path = tmp_path / "deliveries.sqlite3"
    request = make_request()
    writer = DeliveryLedger(path)
    ledgered(fake, writer).deliver(request)
    writer.close()
    reader = DeliveryLedger(path)
    try:
        assert ledgered(fake, reader).deliver(request).status == "sent"
    finally:
        reader.close()
    assert len(fake.requests) == 1


def test_keys_older_than_the_retention_are_forgotten(tmp_path: Path) -> None:
    now = [NOW]
    ledger = DeliveryLedger(tmp_path / "d.sqlite3", clock=lambda: now[0])
    try:
        result = DeliveryResult(status="sent", provider="sendgrid", message_id="m-1")
        ledger.record("old", result)
        now[0] += RETENTION.total_seconds() - 1
        ledger.record("recent", result)
        assert ledger.prune() == 0
        now[0] += 2
        assert ledger.prune() == 1
        assert ledger.lookup("old") is None
        assert ledger.lookup("recent") is not None
    finally:
        ledger.close()


def test_an_unreadable_ledger_never_stops_a_notice(fake: FakeSendGrid, tmp_path: Path) -> None:
    # A duplicate is better than a lost escalation: a broken ledger falls back to sending.
    ledger = DeliveryLedger(tmp_path / "d.sqlite3")
    ledger.close()
    result = ledgered(fake, ledger).deliver(make_request())
    assert result.status == "sent"
    assert len(fake.accepted) == 1


def test_hostile_keys_are_stored_as_data(fake: FakeSendGrid, ledger: DeliveryLedger) -> None:
    request = make_request(idempotency_key="x'); DROP TABLE deliveries; --\u0000\ud800")
    backend = ledgered(fake, ledger)
    backend.deliver(request)
    backend.deliver(request)
    assert len(fake.requests) == 1


def test_activity_with_a_ledger_skips_an_accepted_retry(fake: FakeSendGrid, tmp_path: Path) -> None:
    ledger_path = tmp_path / "deliveries.sqlite3"
    activities = build_notification_activities(API_KEY, fake.url, FROM, tmp_path, ledger_path)
    env = ActivityEnvironment()
    request = make_request()
    sent = env.run(activities.send_notification, request)
    env.run(activities.send_notification, request)
    assert len(fake.requests) == 1
    with sqlite3.connect(ledger_path) as db:
        rows = db.execute("SELECT provider, message_id FROM deliveries").fetchall()
    assert rows == [("sendgrid", sent.message_id)]
