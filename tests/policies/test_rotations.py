"""On-call rotations: who is on call at an instant, hand-offs exact across DST, overrides, the
policy's checks of rotations, and how contacts and quiet hours resolve them.

Instants are compared in UTC: ``dt - timedelta`` in a ZoneInfo zone is wall-clock arithmetic,
and two datetimes sharing a tzinfo compare by wall time, neither of which is what a hand-off
promises.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.calendar import policy_calendars
from policies.contacts import Recipient, recipients_by_role, split_by_quiet_hours
from policies.loader import PolicyError, parse_policy
from policies.model import Policy
from policies.rotations import Override, Rotation, handoff_at, on_call, shift_at

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
MEMBERS = ["ana@example.com", "bo@example.com", "cy@example.com"]
MICRO = timedelta(microseconds=1)


def rotation(**changes: Any) -> Rotation:
    """The weekly support rotation of the policy reference, with ``changes``."""
    values: dict[str, Any] = {
        "members": MEMBERS,
        "turn": "weekly",
        "handoff": "09:00",
        "handoff_day": "mon",
        "timezone": "America/New_York",
        "start": date(2026, 1, 5),
    }
    return Rotation(**(values | changes))


def local(zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A wall time in ``zone`` as a UTC instant (fold=0)."""
    return datetime(year, month, day, hour, minute, tzinfo=zone).astimezone(UTC)


# -- examples ----------------------------------------------------------------------------------


def test_weekly_turns_cycle_the_members_at_the_handoff() -> None:
    rot = rotation()
    assert on_call(rot, local(NEW_YORK, 2026, 1, 5, 9)) == "ana@example.com"
    assert on_call(rot, local(NEW_YORK, 2026, 1, 12, 9) - MICRO) == "ana@example.com"
    assert on_call(rot, local(NEW_YORK, 2026, 1, 12, 9)) == "bo@example.com"
    assert on_call(rot, local(NEW_YORK, 2026, 1, 21, 3)) == "cy@example.com"
    assert on_call(rot, local(NEW_YORK, 2026, 1, 26, 9)) == "ana@example.com"


def test_a_weekly_turn_over_spring_forward_is_an_hour_short() -> None:
    # 2026-03-08: New York springs forward; the turn runs Monday 09:00 EST to Monday 09:00 EDT.
    shift = shift_at(rotation(), local(NEW_YORK, 2026, 3, 8, 12))
    assert shift.begins == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    assert shift.ends == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert shift.ends - shift.begins == timedelta(days=7, hours=-1)


def test_a_daily_turn_over_fall_back_in_berlin_is_25_hours() -> None:
    rot = rotation(turn="daily", handoff_day=None, timezone="Europe/Berlin")
    shift = shift_at(rot, local(BERLIN, 2026, 10, 25, 2, 30))
    assert shift.begins == datetime(2026, 10, 24, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert shift.ends == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert shift.ends - shift.begins == timedelta(hours=25)


def test_a_handoff_in_the_skipped_hour_moves_forward_by_the_gap() -> None:
    # 02:30 does not exist in New York on 2026-03-08: that hand-off is at 03:30 EDT.
    rot = rotation(turn="daily", handoff_day=None, handoff="02:30")
    assert handoff_at(rot, (date(2026, 3, 8) - rot.start).days) == datetime(
        2026, 3, 8, 7, 30, tzinfo=UTC
    )
    shift = shift_at(rot, datetime(2026, 3, 8, 7, 29, tzinfo=UTC))
    assert shift.ends == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert shift.begins is not None
    assert shift.ends - shift.begins == timedelta(hours=24)  # 02:30 EST to 03:30 EDT
    assert shift_at(rot, shift.ends).ends == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)


def test_a_handoff_in_the_repeated_hour_is_its_first_occurrence() -> None:
    # 01:30 happens twice in New York on 2026-11-01 (EDT, then EST): the hand-off is the first.
    rot = rotation(turn="daily", handoff_day=None, handoff="01:30")
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    shift = shift_at(rot, second)
    assert shift.begins == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert shift.ends == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


def test_before_start_the_first_member_covers() -> None:
    rot = rotation()
    shift = shift_at(rot, datetime(2025, 6, 1, tzinfo=UTC))
    assert (shift.member, shift.begins) == ("ana@example.com", None)
    assert shift.ends == local(NEW_YORK, 2026, 1, 5, 9)


def test_overrides_win_first_match_first_and_until_is_exclusive() -> None:
    rot = rotation(
        overrides=[
            Override(
                from_=datetime(2026, 12, 24, 9), until=datetime(2026, 12, 27, 9), member="dee@x.io"
            ),
            Override(
                from_=datetime(2026, 12, 26, 0, tzinfo=UTC),
                until=datetime(2026, 12, 31, 0, tzinfo=UTC),
                member="eve@x.io",
            ),
            Override(from_=datetime(2025, 1, 1), until=datetime(2025, 1, 2), member="fay@x.io"),
        ]
    )
    assert on_call(rot, local(NEW_YORK, 2026, 12, 24, 9) - MICRO) != "dee@x.io"
    assert on_call(rot, local(NEW_YORK, 2026, 12, 24, 9)) == "dee@x.io"
    assert on_call(rot, local(NEW_YORK, 2026, 12, 26, 12)) == "dee@x.io"  # both: the first
    assert on_call(rot, local(NEW_YORK, 2026, 12, 27, 9)) == "eve@x.io"
    assert on_call(rot, datetime(2026, 12, 31, 0, tzinfo=UTC)) not in {"dee@x.io", "eve@x.io"}
    shift = shift_at(rot, datetime(2025, 1, 1, 12, tzinfo=UTC))  # before start, too
    assert (shift.member, shift.override) == ("fay@x.io", 2)


def test_an_instant_needs_a_time_zone_and_a_calendar() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        on_call(rotation(), datetime(2026, 1, 5, 9))
    with pytest.raises(ValueError, match="years 1 and 9999"):
        on_call(rotation(), datetime(9999, 12, 31, 20, tzinfo=UTC))


# -- properties --------------------------------------------------------------------------------

ZONES = {"America/New_York": NEW_YORK, "Europe/Berlin": BERLIN}
SETTINGS = settings(max_examples=150, deadline=None)

rotations = st.builds(
    rotation,
    members=st.lists(st.sampled_from([f"m{i}@example.com" for i in range(6)]), min_size=1),
    turn=st.sampled_from(["daily", "weekly"]),
    handoff_day=st.none(),
    timezone=st.sampled_from(sorted(ZONES)),
    start=st.dates(date(2025, 1, 1), date(2027, 12, 31)),
)
DST_CHANGES = {
    "America/New_York": ["2025-03-09", "2025-11-02", "2026-03-08", "2026-11-01", "2027-03-14"],
    "Europe/Berlin": ["2025-03-30", "2025-10-26", "2026-03-29", "2026-10-25", "2027-03-28"],
}
"""Days of the DST changes of both zones: half the instants drawn fall within a week of one."""


def near_dst_change(zone: str, max_days: int) -> st.SearchStrategy[datetime]:
    """Instants within ``max_days`` of a DST change of ``zone``."""
    return st.builds(
        lambda day, minutes: datetime.combine(day, time(), UTC) + timedelta(minutes=minutes),
        st.sampled_from([date.fromisoformat(day) for day in DST_CHANGES[zone]]),
        st.integers(-max_days * 1440, max_days * 1440),
    )


instants = st.one_of(
    st.datetimes(datetime(2024, 6, 1), datetime(2029, 6, 1), timezones=st.just(UTC)),
    *(near_dst_change(zone, 8) for zone in ZONES),
).map(lambda moment: moment.astimezone(UTC))


@SETTINGS
@given(rot=rotations, at=instants)
def test_every_handoff_is_at_nine_local_and_turns_cycle(rot: Rotation, at: datetime) -> None:
    zone, days = ZONES[rot.timezone], rot.turn_days
    shift = shift_at(rot, at)
    # Reference: the last 09:00 on the wall clock at or before ``at`` gives the turn's date.
    wall = at.astimezone(zone)
    day = wall.date() - timedelta(days=1 if wall.time() < time(9) else 0)
    turn = (day - rot.start).days // days
    if turn < 0:
        assert (shift.member, shift.begins) == (rot.members[0], None)
        assert shift.ends.astimezone(zone) == datetime.combine(rot.start, time(9), zone)
        return
    assert shift.member == rot.members[turn % len(rot.members)]
    assert shift.begins is not None
    assert shift.begins <= at < shift.ends
    begins, ends = shift.begins.astimezone(zone), shift.ends.astimezone(zone)
    assert begins.time() == ends.time() == time(9)
    assert (ends.date() - begins.date()).days == days
    assert abs(shift.ends - shift.begins - timedelta(days=days)) <= timedelta(hours=1)
    assert on_call(rot, shift.ends - MICRO) == shift.member
    assert on_call(rot, shift.ends) == rot.members[(turn + 1) % len(rot.members)]


@st.composite
def small_hours_near_dst(draw: st.DrawFn) -> tuple[Rotation, datetime]:
    """A daily rotation handing off in the small hours, and an instant within days of a DST
    change of its zone (whose 02:00-03:00 is skipped in spring and repeated in autumn)."""
    zone = draw(st.sampled_from(sorted(ZONES)))
    hour, minute = draw(st.sampled_from([0, 1, 2, 3, 23])), draw(st.sampled_from([0, 30, 59]))
    rot = rotation(
        turn="daily",
        handoff_day=None,
        timezone=zone,
        handoff=f"{hour:02d}:{minute:02d}",
        start=date(2024, 1, 1),
    )
    return rot, draw(near_dst_change(zone, 2))


@SETTINGS
@given(case=small_hours_near_dst())
def test_handoffs_in_the_small_hours_follow_the_dst_rule(case: tuple[Rotation, datetime]) -> None:
    rot, at = case
    zone, handoff = ZONES[rot.timezone], rot.handoff_time
    shift = shift_at(rot, at)
    assert shift.begins is not None
    assert shift.begins <= at < shift.ends
    assert shift_at(rot, shift.ends).begins == shift.ends
    for moment in (shift.begins, shift.ends):
        wall = moment.astimezone(zone)
        intended = datetime.combine(wall.date(), handoff)
        round_trip = intended.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
        exists = round_trip.replace(tzinfo=None) == intended
        # On time, or moved forward by the hour that does not exist that night; a doubled
        # time is its first occurrence (fold 0).
        expected = handoff if exists else time(handoff.hour + 1, handoff.minute)
        assert (wall.time(), wall.fold) == (expected, 0)


@SETTINGS
@given(
    rot=rotations,
    starts=st.datetimes(datetime(2024, 6, 1), datetime(2029, 6, 1)),
    hours=st.integers(1, 24 * 20),
    other=st.integers(-48, 48),
    minutes=st.integers(-3 * 1440, 23 * 1440),
)
def test_overrides_win_and_the_first_match_wins(
    rot: Rotation, starts: datetime, hours: int, other: int, minutes: int
) -> None:
    # Two windows written in local time that often overlap, and an instant near them.
    first = Override(from_=starts, until=starts + timedelta(hours=hours), member="o1@example.com")
    second = Override(
        from_=starts + timedelta(hours=other),
        until=starts + timedelta(hours=other + hours),
        member="o2@example.com",
    )
    overridden = rot.model_copy(update={"overrides": [first, second]})
    zone = ZONES[rot.timezone]
    at = (starts.replace(tzinfo=zone) + timedelta(minutes=minutes)).astimezone(UTC)

    def holds(o: Override) -> bool:
        return o.from_.replace(tzinfo=zone) <= at < o.until.replace(tzinfo=zone)

    expected = next((o.member for o in (first, second) if holds(o)), on_call(rot, at))
    assert on_call(overridden, at) == expected


# -- the policy's checks, and resolving contacts -------------------------------------------

POLICY = """
name: oncall
version: 1
targets: {P1: {first_response: 1h, resolution: 4h}, P3: {first_response: 4h, resolution: 1d}}
calendars:
  office: {timezone: America/New_York, hours: {mon-fri: ["09:00-17:00"]}}
channels:
  slack-support: {slack: {channel: "#support"}}
rotations:
  support-primary:
    members: [ana@example.com, bo@example.com, cy@example.com]
    turn: weekly
    handoff: "09:00"
    handoff_day: mon
    timezone: America/New_York
    start: 2026-01-05
    overrides:
      - {from: "2026-12-24T09:00", until: "2026-12-27T09:00", member: dee@example.com}
  payments-night:
    members: [slack-support, night@example.com]
    turn: daily
    handoff: "20:00"
    timezone: Europe/Berlin
    start: 2026-01-01
contacts:
  team_lead: [support-primary, lead@example.com]
  manager: [manager@example.com]
teams:
  payments: {team_lead: [payments-night, support-primary]}
quiet_hours:
  support-primary: {calendar: office, page_any_time: [P1]}
levels:
  - {name: breached, when: {clock: first_response, at: 100%}, notify: [team_lead, manager]}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "policies/oncall.yaml")
    assert str(caught.value).startswith("policies/oncall.yaml: invalid policy:")
    return caught.value.problems


def test_a_policy_with_rotations_survives_the_round_trip_through_history() -> None:
    policy = parse_policy(POLICY, "policies/oncall.yaml")
    assert Policy.model_validate_json(policy.model_dump_json()) == policy


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(
            ('handoff: "09:00"', "handoff: 9:30"),
            "rotations.support-primary.handoff: 570 is not a time of day; write it in quotes",
            id="unquoted-time",
        ),
        pytest.param(
            ('"20:00"', '"24:00"'),
            "rotations.payments-night.handoff: '24:00' is not a time of day such as '09:00'",
            id="no-such-time",
        ),
        pytest.param(
            ("handoff_day: mon", "handoff_day: tue"),
            "rotations.support-primary.start: 2026-01-05 is a mon, not the handoff_day tue",
            id="start-not-on-handoff-day",
        ),
        pytest.param(
            ('"20:00"', '"20:00"\n    handoff_day: fri'),
            "rotations.payments-night.handoff_day: only a weekly rotation has a hand-off day",
            id="daily-with-handoff-day",
        ),
        pytest.param(
            ('until: "2026-12-27T09:00"', 'until: "2026-12-24T08:00"'),
            "rotations.support-primary.overrides.0: until 2026-12-24T08:00:00 is not after from",
            id="override-backwards",
        ),
        pytest.param(
            ("member: dee@example.com", "member: dee"),
            "rotations.support-primary.overrides.0.member: 'dee' is not an email address, and "
            "no channel of that name is defined under channels (defined: slack-support)",
            id="unknown-override-member",
        ),
        pytest.param(
            ("[slack-support, night", "[payments-night, night"),
            "rotations.payments-night.members.0: 'payments-night' is a rotation; members are "
            "email addresses or channels",
            id="rotation-as-member",
        ),
        pytest.param(
            ("  payments-night:\n", "  manager:\n"),
            "rotations.manager: 'manager' is also the name of a role; give the rotation a name "
            "of its own",
            id="clashes-with-role",
        ),
        pytest.param(
            ("  payments-night:\n", "  slack-support:\n"),
            "rotations.slack-support: 'slack-support' is also the name of a channel",
            id="clashes-with-channel",
        ),
        pytest.param(
            ("[support-primary, lead", "[support-primary, oncall-primary, lead"),
            "contacts.team_lead.1: 'oncall-primary' is not an email address, and no channel of "
            "that name is defined under channels (defined: slack-support), nor a rotation "
            "(support-primary, payments-night)",
            id="unknown-contact",
        ),
        pytest.param(
            ("timezone: America/New_York\n    start", "timezone: Eastern\n    start"),
            "rotations.support-primary.timezone: 'Eastern' is not an IANA time zone",
            id="bad-zone",
        ),
        pytest.param(
            ("turn: daily", "turn: hourly"),
            "rotations.payments-night.turn: Input should be 'daily' or 'weekly'",
            id="bad-turn",
        ),
    ],
)
def test_rotation_mistakes_name_the_field(change: tuple[str, str], expected: str) -> None:
    assert change[0] in POLICY
    found = problems(POLICY.replace(*change, 1))
    assert any(line.startswith(expected) for line in found), found


def test_contacts_resolve_the_member_on_call_when_the_level_fires() -> None:
    policy = parse_policy(POLICY, "policies/oncall.yaml")
    week_two = local(NEW_YORK, 2026, 1, 14, 12)
    assert recipients_by_role(policy, ["team_lead", "manager"], "web", None, week_two) == [
        Recipient("team_lead", "bo@example.com", "support-primary"),
        Recipient("team_lead", "lead@example.com"),
        Recipient("manager", "manager@example.com"),
    ]
    christmas = local(NEW_YORK, 2026, 12, 25, 15)
    # The team's override names two rotations: Berlin's turn 358 began at 20:00 (21:00 now).
    assert recipients_by_role(policy, ["team_lead"], "payments", None, christmas) == [
        Recipient("team_lead", "slack-support", "payments-night"),
        Recipient("team_lead", "dee@example.com", "support-primary"),
    ]


def test_an_address_reached_twice_is_notified_once() -> None:
    policy = parse_policy(
        POLICY.replace("[manager@example.com]", "[support-primary, bo@example.com]"), "p.yaml"
    )
    week_two = local(NEW_YORK, 2026, 1, 14, 12)
    assert recipients_by_role(policy, ["manager", "team_lead"], "web", None, week_two) == [
        Recipient("manager", "bo@example.com", "support-primary"),
        Recipient("team_lead", "lead@example.com"),
    ]


def test_quiet_hours_of_a_rotation_hold_its_member_but_not_the_role() -> None:
    policy = parse_policy(POLICY, "policies/oncall.yaml")
    saturday = local(NEW_YORK, 2026, 1, 17, 12)  # the office calendar is closed
    recipients = recipients_by_role(policy, ["team_lead"], "web", None, saturday)
    calendars = policy_calendars(policy)
    now, held = split_by_quiet_hours(policy, recipients, "P3", saturday, calendars)
    assert now == ["lead@example.com"]
    assert held == {local(NEW_YORK, 2026, 1, 19, 9): ["bo@example.com"]}
    now, held = split_by_quiet_hours(policy, recipients, "P1", saturday, calendars)
    assert (now, held) == (["bo@example.com", "lead@example.com"], {})
