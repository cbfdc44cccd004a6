"""The ``load_policy`` activity and a policy's ical file: the dates are fixed in the result, the
cache notices an edited or replaced file, and a broken or oversized feed is a non-retryable
``PolicyInvalid`` naming the file and the field."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.models import LoadPolicyRequest
from activities.policy_files import PolicyActivities
from policies.model import Policy

FEED = "company-holidays.ics"
POLICY = f"""\
name: feeds
version: 1
targets:
  P1: {{first_response: 1h, resolution: 4h, calendar: support}}
contacts:
  manager: [m@example.com]
levels:
  - name: breached
    when: {{clock: resolution, at: 100%}}
    notify: [manager]
calendars:
  support:
    timezone: Europe/Berlin
    hours: {{daily: ["09:00-17:00"]}}
    holidays: {{ical: {FEED}}}
"""


def ics(dates: list[date], name: str = "Closed") -> bytes:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:{day}\r\nDTSTART;VALUE=DATE:{day:%Y%m%d}\r\nSUMMARY:{name}\r\n"
        "END:VEVENT\r\n"
        for day in dates
    )
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"
    return f"{head}{events}END:VCALENDAR\r\n".encode()


def holiday_dates(policy: Policy) -> dict[date, str]:
    source = policy.calendars["support"].holidays
    assert source is not None
    assert source.resolved is not None
    assert source.feed is None  # only the dates travel in the ticket's history
    return source.resolved.dates


def load(activities: PolicyActivities) -> Policy:
    return ActivityEnvironment().run(activities.load_policy, LoadPolicyRequest(name="feeds"))


def failure(activities: PolicyActivities) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        load(activities)
    assert caught.value.type == "PolicyInvalid"
    assert caught.value.non_retryable
    return caught.value


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "feeds.yaml").write_text(POLICY, encoding="utf-8")
    (tmp_path / FEED).write_bytes(ics([date(this_year(), 5, 4)]))
    return tmp_path


def this_year() -> int:
    return datetime.now(UTC).year  # the activity resolves the years around the current one


def dates_in(policy: Policy, year: int) -> list[date]:
    return [day for day in holiday_dates(policy) if day.year == year]


def test_the_feed_is_read_once_until_it_changes(folder: Path) -> None:
    activities = PolicyActivities(folder)
    year = this_year()
    first = load(activities)
    assert load(activities) is first
    assert dates_in(first, year) == [date(year, 5, 4)]

    # An edit in place (a longer file): read afresh.
    feed = folder / FEED
    feed.write_bytes(ics([date(year, 5, 4), date(year, 5, 5)]))
    edited = load(activities)
    assert dates_in(edited, year) == [date(year, 5, 4), date(year, 5, 5)]
    assert load(activities) is edited

    # A replacement of the same size and modification time (a new file renamed over it).
    stat = feed.stat()
    replacement = folder / "new.ics"
    replacement.write_bytes(ics([date(year, 6, 4), date(year, 6, 5)]))
    assert replacement.stat().st_size == stat.st_size
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, feed)
    assert dates_in(load(activities), year) == [date(year, 6, 4), date(year, 6, 5)]


def test_a_feed_removed_after_loading_fails_the_next_load(folder: Path) -> None:
    activities = PolicyActivities(folder)
    load(activities)
    (folder / FEED).unlink()
    message = failure(activities).message
    assert f"calendars.support.holidays.ical: {FEED}: no such file in the policy" in message


def test_a_broken_feed_is_a_non_retryable_error_naming_the_field(folder: Path) -> None:
    timed = ics([date(2026, 4, 1)]).replace(
        b"DTSTART;VALUE=DATE:20260401", b"DTSTART:20260401T090000Z"
    )
    (folder / FEED).write_bytes(timed)
    message = failure(PolicyActivities(folder)).message
    assert message.startswith(f"{folder / 'feeds.yaml'}: invalid policy:")
    assert (
        f"calendars.support.holidays.ical: {FEED}: VEVENT 1 'Closed': starts at a time of day"
        in message
    )


def test_holidays_too_many_for_a_ticket_history_are_refused(folder: Path) -> None:
    # Every day of the resolved years closed, each with a long name: far beyond what fits in
    # a ticket's history beside the ticket.
    year = this_year()
    first = date(year - 1, 1, 1)
    every_day = [first + timedelta(days=n) for n in range((date(year + 6, 1, 1) - first).days)]
    (folder / FEED).write_bytes(ics(every_day, name="A long holiday name " * 5))
    message = failure(PolicyActivities(folder)).message
    assert "the policy with its holidays is " in message
    assert "fit in every ticket's history beside the ticket" in message
