"""BusinessCalendar worked examples, computed by hand: each case says why its due time is what
it is, and checks ``add`` and ``elapsed`` both, the exact local wall time and UTC offset of the
result, and that the result is the *earliest* such instant.

DST changes used below (checked against the tz database):

- America/New_York 2026: 03-08 02:00 EST -> 03:00 EDT; 11-01 02:00 EDT -> 01:00 EST.
- Europe/Berlin 2026: 03-29 02:00 CET -> 03:00 CEST; 10-25 03:00 CEST -> 02:00 CET.
- Australia/Sydney 2026 (southern hemisphere): 04-05 (first Sunday of April) 03:00 AEDT (+11)
  -> 02:00 AEST (+10); 10-04 (first Sunday of October) 02:00 AEST -> 03:00 AEDT.
- Pacific/Chatham 2026: 04-05 03:45 +13:45 -> 02:45 +12:45; 09-27 02:45 +12:45 -> 03:45 +13:45.
- Asia/Kolkata: +05:30 all year.

Public holidays are the ``holidays`` package's (checked): US Thanksgiving 2026-11-26 and
Christmas 2026-12-25 and New Year 2027-01-01, DE-BE Labour Day 2026-05-01, AU-NSW Australia Day
2026-01-26 and New Year 2027-01-01, IN Republic Day 2027-01-26, NZ-CIT Chatham Islands
Anniversary Day 2026-11-30.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from policies.calendar import AlwaysOpen, BusinessCalendar

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
CHATHAM = ZoneInfo("Pacific/Chatham")
MICRO = timedelta(microseconds=1)

CALENDARS: dict[str, dict[str, Any]] = {
    # A New York office with a lunch break, US federal holidays, a short Christmas Eve every
    # year, one extra open Saturday, and two dated closures (one overriding the 12-24 rule).
    "ny-office": {
        "timezone": "America/New_York",
        "hours": {"mon-fri": ["09:00-12:00", "13:00-17:00"]},
        "holidays": {"country": "US"},
        "closed": ["2026-12-31", "2029-12-24"],
        "open": {"12-24": ["09:00-13:00"], "2026-11-28": ["10:00-16:00"]},
    },
    # A night desk every night, 22:00 to 06:00 wall time: 8 h, but 7 h or 9 h across DST.
    "ny-night": {"timezone": "America/New_York", "hours": {"daily": ["22:00-06:00"]}},
    # An early shift straddling the 02:00 change, and one mostly inside the skipped hour.
    "ny-early": {"timezone": "America/New_York", "hours": {"daily": ["01:30-02:30"]}},
    "ny-gap": {"timezone": "America/New_York", "hours": {"daily": ["02:30-04:00"]}},
    "berlin-office": {
        "timezone": "Europe/Berlin",
        "hours": {"mon-fri": ["08:00-12:00", "13:00-17:00"]},
        "holidays": {"country": "DE", "subdivision": "BE"},
    },
    # 01:00-05:00 every day: contains both Berlin changes (02:00->03:00 and 03:00->02:00).
    "berlin-early": {"timezone": "Europe/Berlin", "hours": {"daily": ["01:00-05:00"]}},
    "sydney-office": {
        "timezone": "Australia/Sydney",
        "hours": {"mon-fri": ["09:00-17:00"]},
        "holidays": {"country": "AU", "subdivision": "NSW"},
    },
    "sydney-early": {"timezone": "Australia/Sydney", "hours": {"daily": ["01:00-05:00"]}},
    # Open Saturdays too, with a lunch break; Indian national holidays.
    "kolkata-office": {
        "timezone": "Asia/Kolkata",
        "hours": {"mon-sat": ["10:00-13:00", "14:00-18:00"]},
        "holidays": {"country": "IN"},
    },
    # Weeknight shifts: Friday's runs into Saturday morning, none starts on Sat or Sun.
    "kolkata-night": {"timezone": "Asia/Kolkata", "hours": {"mon-fri": ["22:00-06:00"]}},
    "chatham-office": {
        "timezone": "Pacific/Chatham",
        "hours": {"mon-fri": ["09:00-17:00"]},
        "holidays": {"country": "NZ", "subdivision": "CIT"},
    },
    # 01:00-05:00 contains both Chatham changes (02:45->03:45 and 03:45->02:45).
    "chatham-early": {"timezone": "Pacific/Chatham", "hours": {"daily": ["01:00-05:00"]}},
}

_BUILT: dict[str, BusinessCalendar] = {}


def calendar(name: str) -> BusinessCalendar:
    if name not in _BUILT:
        _BUILT[name] = BusinessCalendar(**CALENDARS[name])
    return _BUILT[name]


def h(hours: float) -> timedelta:
    return timedelta(hours=hours)


# (calendar, start, business duration, expected local wall time, expected UTC offset in hours)
CASES = [
    # --- America/New_York office: Mon-Fri 09-12, 13-17 (7 h a day) ----------------------
    pytest.param(
        # Saturday 06-13: closed all weekend; Monday 06-15 opens 09:00, +2 h = 11:00 EDT.
        "ny-office",
        datetime(2026, 6, 13, 10, 0, tzinfo=NY),
        h(2),
        datetime(2026, 6, 15, 11, 0),
        -4,
        id="ny-saturday-waits-for-monday",
    ),
    pytest.param(
        # Thanksgiving Thu 11-26 is closed; Fri 11-27 09-12 gives 3 h, 13-14 the 4th: 14:00 EST.
        "ny-office",
        datetime(2026, 11, 26, 10, 0, tzinfo=NY),
        h(4),
        datetime(2026, 11, 27, 14, 0),
        -5,
        id="ny-thanksgiving-holiday",
    ),
    pytest.param(
        # Fri 11-27 16-17 gives 1 h; Sat 11-28 is an extra open day 10-16: 2 h more = 12:00.
        "ny-office",
        datetime(2026, 11, 27, 16, 0, tzinfo=NY),
        h(3),
        datetime(2026, 11, 28, 12, 0),
        -5,
        id="ny-extra-open-saturday",
    ),
    pytest.param(
        # Opened at 12:30 during lunch: the clock starts at 13:00, +1 h = 14:00 EDT.
        "ny-office",
        datetime(2026, 6, 16, 12, 30, tzinfo=NY),
        h(1),
        datetime(2026, 6, 16, 14, 0),
        -4,
        id="ny-during-lunch",
    ),
    pytest.param(
        # 11:00 + 2 h: 11-12 is 1 h, lunch, 13-14 the second: 14:00 EDT.
        "ny-office",
        datetime(2026, 6, 16, 11, 0, tzinfo=NY),
        h(2),
        datetime(2026, 6, 16, 14, 0),
        -4,
        id="ny-across-lunch",
    ),
    pytest.param(
        # 16:00 + 1 h runs out exactly at 17:00 closing: due 17:00, not Wednesday 09:00.
        "ny-office",
        datetime(2026, 6, 16, 16, 0, tzinfo=NY),
        h(1),
        datetime(2026, 6, 16, 17, 0),
        -4,
        id="ny-due-exactly-at-closing",
    ),
    pytest.param(
        # 09:00 + 3 h runs out at 12:00 when lunch starts: due 12:00, not 13:00.
        "ny-office",
        datetime(2026, 6, 16, 9, 0, tzinfo=NY),
        h(3),
        datetime(2026, 6, 16, 12, 0),
        -4,
        id="ny-due-exactly-at-lunch",
    ),
    pytest.param(
        # Opened exactly at 17:00 closing: nothing left today, Wed 09:00 + 30 m = 09:30.
        "ny-office",
        datetime(2026, 6, 16, 17, 0, tzinfo=NY),
        timedelta(minutes=30),
        datetime(2026, 6, 17, 9, 30),
        -4,
        id="ny-opened-exactly-at-closing",
    ),
    pytest.param(
        # Opened at 19:45 after closing: Wed 09:00 + 30 m = 09:30.
        "ny-office",
        datetime(2026, 6, 16, 19, 45, tzinfo=NY),
        timedelta(minutes=30),
        datetime(2026, 6, 17, 9, 30),
        -4,
        id="ny-after-closing",
    ),
    pytest.param(
        # Opened at 06:00 before opening: 09:00 + 30 m = 09:30.
        "ny-office",
        datetime(2026, 6, 16, 6, 0, tzinfo=NY),
        timedelta(minutes=30),
        datetime(2026, 6, 16, 9, 30),
        -4,
        id="ny-before-opening",
    ),
    pytest.param(
        # Microseconds carry through: 09:00:00.000001 + 59m59.999999s = 10:00:00 exactly.
        "ny-office",
        datetime(2026, 6, 16, 9, 0, 0, 1, tzinfo=NY),
        timedelta(minutes=59, seconds=59, microseconds=999_999),
        datetime(2026, 6, 16, 10, 0),
        -4,
        id="ny-microseconds",
    ),
    pytest.param(
        # Thu 12-24 matches the every-year "12-24" rule, open 09-13 only: 12-13 is 1 h; Fri 12-25
        # is Christmas; weekend; Mon 12-28 09-10 the second hour: 10:00 EST.
        "ny-office",
        datetime(2026, 12, 24, 12, 0, tzinfo=NY),
        h(2),
        datetime(2026, 12, 28, 10, 0),
        -5,
        id="ny-christmas-eve-partial-day",
    ),
    pytest.param(
        # Wed 12-30 16-17 is 1 h; Thu 12-31 is a dated closure; Fri 2027-01-01 New Year's Day;
        # weekend; Mon 2027-01-04 09-11 the other 2 h: 11:00 EST, across the year boundary.
        "ny-office",
        datetime(2026, 12, 30, 16, 0, tzinfo=NY),
        h(3),
        datetime(2027, 1, 4, 11, 0),
        -5,
        id="ny-closed-date-and-year-boundary",
    ),
    pytest.param(
        # Fri 2027-12-24 is the package's "Christmas Day (observed)", but the 12-24 month-day
        # rule outranks holidays: open 09-13, so 09:00 + 4 h = 13:00 EST.
        "ny-office",
        datetime(2027, 12, 24, 8, 0, tzinfo=NY),
        h(4),
        datetime(2027, 12, 24, 13, 0),
        -5,
        id="ny-month-day-rule-beats-holiday",
    ),
    pytest.param(
        # Sun 2028-12-24: the 12-24 rule outranks the weekly hours (closed Sundays): 09-10.
        "ny-office",
        datetime(2028, 12, 24, 0, 0, tzinfo=NY),
        h(1),
        datetime(2028, 12, 24, 10, 0),
        -5,
        id="ny-month-day-rule-beats-weekly-hours",
    ),
    pytest.param(
        # Mon 2029-12-24 is closed by date, which outranks the 12-24 rule; Tue 12-25 Christmas;
        # Wed 12-26 09:00 + 1 h = 10:00 EST.
        "ny-office",
        datetime(2029, 12, 24, 8, 0, tzinfo=NY),
        h(1),
        datetime(2029, 12, 26, 10, 0),
        -5,
        id="ny-dated-closure-beats-month-day-rule",
    ),
    pytest.param(
        # A start in UTC gives a result in UTC: Tue 13:30Z is 09:30 EDT; +1 h = 10:30 EDT.
        "ny-office",
        datetime(2026, 6, 16, 13, 30, tzinfo=UTC),
        h(1),
        datetime(2026, 6, 16, 14, 30),
        0,
        id="ny-result-in-start-zone",
    ),
    # --- America/New_York night desk 22:00-06:00 every night ----------------------------
    pytest.param(
        # 01:00 EST, an hour before clocks jump 02:00 -> 03:00. 2 real hours later: 06:00Z +
        # 2 h = 08:00Z = 04:00 EDT (3 h on the wall clock).
        "ny-night",
        datetime(2026, 3, 8, 1, 0, tzinfo=NY),
        h(2),
        datetime(2026, 3, 8, 4, 0),
        -4,
        id="ny-night-hour-before-spring-forward",
    ),
    pytest.param(
        # Sat 03-07 22:00 EST (03:00Z) to Sun 06:00 EDT (10:00Z) is only 7 h; the 8th hour is
        # Sun 22:00-23:00 EDT.
        "ny-night",
        datetime(2026, 3, 7, 22, 0, tzinfo=NY),
        h(8),
        datetime(2026, 3, 8, 23, 0),
        -4,
        id="ny-night-shift-7h-across-spring-forward",
    ),
    pytest.param(
        # 01:00 EDT (05:00Z), an hour before clocks fall back 02:00 -> 01:00. 2 real hours:
        # 07:00Z = 02:00 EST (1 h on the wall clock).
        "ny-night",
        datetime(2026, 11, 1, 1, 0, tzinfo=NY),
        h(2),
        datetime(2026, 11, 1, 2, 0),
        -5,
        id="ny-night-hour-before-fall-back",
    ),
    pytest.param(
        # Sat 10-31 22:00 EDT (02:00Z) to Sun 06:00 EST (11:00Z) is 9 h; 8 h ends 10:00Z,
        # 05:00 EST on the wall clock.
        "ny-night",
        datetime(2026, 10, 31, 22, 0, tzinfo=NY),
        h(8),
        datetime(2026, 11, 1, 5, 0),
        -5,
        id="ny-night-shift-9h-across-fall-back",
    ),
    pytest.param(
        # New Year's Eve 23:00 + 2 h runs across midnight and the year: 2027-01-01 01:00 EST.
        "ny-night",
        datetime(2026, 12, 31, 23, 0, tzinfo=NY),
        h(2),
        datetime(2027, 1, 1, 1, 0),
        -5,
        id="ny-night-across-midnight-and-year",
    ),
    pytest.param(
        # 07:00 is after the shift: the next opens 22:00; 22:00 + 8 h = 06:00 next morning,
        # exactly the shift's end.
        "ny-night",
        datetime(2026, 6, 16, 7, 0, tzinfo=NY),
        h(8),
        datetime(2026, 6, 17, 6, 0),
        -4,
        id="ny-night-whole-shift-due-at-its-end",
    ),
    # --- America/New_York shifts touching the changed hour ------------------------------
    pytest.param(
        # 01:30-02:30 on 03-08: 02:30 does not exist and moves forward to 03:30 EDT (07:30Z),
        # so the shift is 06:30Z-07:30Z, still 1 real hour: 01:30 + 45 m = 07:15Z = 03:15 EDT.
        "ny-early",
        datetime(2026, 3, 8, 0, 0, tzinfo=NY),
        timedelta(minutes=45),
        datetime(2026, 3, 8, 3, 15),
        -4,
        id="ny-wall-time-in-skipped-hour-moves-forward",
    ),
    pytest.param(
        # 01:30-02:30 on 11-01: 01:30 is its first occurrence (EDT, 05:30Z), 02:30 EST is
        # 07:30Z: 2 real hours. 01:30 EDT + 90 m = 07:00Z = 02:00 EST.
        "ny-early",
        datetime(2026, 11, 1, 0, 0, tzinfo=NY),
        timedelta(minutes=90),
        datetime(2026, 11, 1, 2, 0),
        -5,
        id="ny-shift-over-repeated-hour-counts-2h",
    ),
    pytest.param(
        # 02:30-04:00 on 03-08: 02:30 moves forward to 03:30 EDT, so 30 m: 03:30 + 10 m.
        "ny-gap",
        datetime(2026, 3, 8, 0, 0, tzinfo=NY),
        timedelta(minutes=10),
        datetime(2026, 3, 8, 3, 40),
        -4,
        id="ny-shift-starting-in-skipped-hour",
    ),
    pytest.param(
        # Same shift: 30 m on 03-08 (03:30-04:00 EDT), so 40 m needs 10 m of 03-09's 02:30.
        "ny-gap",
        datetime(2026, 3, 8, 0, 0, tzinfo=NY),
        timedelta(minutes=40),
        datetime(2026, 3, 9, 2, 40),
        -4,
        id="ny-shortened-shift-runs-into-next-day",
    ),
    # --- Europe/Berlin office: Mon-Fri 08-12, 13-17 (8 h a day), Berlin holidays ---------
    pytest.param(
        # Thu 04-30 16-17 is 1 h; Fri 05-01 Labour Day; weekend; Mon 05-04 08-10: 10:00 CEST.
        "berlin-office",
        datetime(2026, 4, 30, 16, 0, tzinfo=BERLIN),
        h(3),
        datetime(2026, 5, 4, 10, 0),
        2,
        id="berlin-labour-day",
    ),
    pytest.param(
        # 12:15 is lunch: clock starts 13:00, +45 m = 13:45.
        "berlin-office",
        datetime(2026, 5, 4, 12, 15, tzinfo=BERLIN),
        timedelta(minutes=45),
        datetime(2026, 5, 4, 13, 45),
        2,
        id="berlin-during-lunch",
    ),
    pytest.param(
        # Mon 2028-02-28 17:00 (closed) + 8 h: Tue 02-29 (leap day) is a whole 8 h day, due at
        # its 17:00 closing, not at Wed 03-01 08:00.
        "berlin-office",
        datetime(2028, 2, 28, 17, 0, tzinfo=BERLIN),
        h(8),
        datetime(2028, 2, 29, 17, 0),
        1,
        id="berlin-leap-day",
    ),
    pytest.param(
        # Sat 03-28 10:00: the spring change is on Sunday 03-29; Mon 03-30 08:00 + 1 h in CEST.
        "berlin-office",
        datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN),
        h(1),
        datetime(2026, 3, 30, 9, 0),
        2,
        id="berlin-weekend-of-spring-change",
    ),
    pytest.param(
        # 03-29 01:00 CET (00:00Z), an hour before 02:00 -> 03:00. The shift ends 05:00 CEST
        # (03:00Z), 3 real hours. 2 h: 02:00Z = 04:00 CEST.
        "berlin-early",
        datetime(2026, 3, 29, 1, 0, tzinfo=BERLIN),
        h(2),
        datetime(2026, 3, 29, 4, 0),
        2,
        id="berlin-hour-before-spring-forward",
    ),
    pytest.param(
        # 10-25 02:00 CEST (first occurrence, 00:00Z), an hour before 03:00 -> 02:00. 2 h:
        # 02:00Z = 03:00 CET.
        "berlin-early",
        datetime(2026, 10, 25, 2, 0, tzinfo=BERLIN),
        h(2),
        datetime(2026, 10, 25, 3, 0),
        1,
        id="berlin-hour-before-fall-back",
    ),
    pytest.param(
        # The 10-25 shift is 01:00 CEST (23:00Z) to 05:00 CET (04:00Z): 5 h, so 5 h from its
        # start ends it, and 4 h ends at 03:00Z = 04:00 CET.
        "berlin-early",
        datetime(2026, 10, 25, 1, 0, tzinfo=BERLIN),
        h(4),
        datetime(2026, 10, 25, 4, 0),
        1,
        id="berlin-fall-back-shift-is-5h",
    ),
    # --- Australia/Sydney: Mon-Fri 09-17, NSW holidays; early shift 01-05 ----------------
    pytest.param(
        # Fri 01-23 16-17 is 1 h; Mon 01-26 Australia Day; Tue 01-27 09-10: 10:00 AEDT (+11).
        "sydney-office",
        datetime(2026, 1, 23, 16, 0, tzinfo=SYDNEY),
        h(2),
        datetime(2026, 1, 27, 10, 0),
        11,
        id="sydney-australia-day",
    ),
    pytest.param(
        # Thu 12-31 16-17 is 1 h; Fri 2027-01-01 New Year's Day; weekend; Mon 01-04 09-10.
        "sydney-office",
        datetime(2026, 12, 31, 16, 0, tzinfo=SYDNEY),
        h(2),
        datetime(2027, 1, 4, 10, 0),
        11,
        id="sydney-year-boundary",
    ),
    pytest.param(
        # Southern autumn: 04-05 03:00 AEDT -> 02:00 AEST. Start 02:00 AEDT (first occurrence,
        # 15:00Z), an hour before the change; 2 h: 17:00Z = 03:00 AEST (+10).
        "sydney-early",
        datetime(2026, 4, 5, 2, 0, tzinfo=SYDNEY),
        h(2),
        datetime(2026, 4, 5, 3, 0),
        10,
        id="sydney-hour-before-april-fall-back",
    ),
    pytest.param(
        # Southern spring: 10-04 02:00 AEST -> 03:00 AEDT. Start 01:00 AEST (15:00Z), an hour
        # before; 2 h: 17:00Z = 04:00 AEDT (+11). The shift ends 05:00 AEDT: 3 real hours.
        "sydney-early",
        datetime(2026, 10, 4, 1, 0, tzinfo=SYDNEY),
        h(2),
        datetime(2026, 10, 4, 4, 0),
        11,
        id="sydney-hour-before-october-spring-forward",
    ),
    pytest.param(
        # 3 h is all of the shortened 10-04 shift (01:00 AEST-05:00 AEDT): due 05:00 AEDT.
        "sydney-early",
        datetime(2026, 10, 4, 0, 0, tzinfo=SYDNEY),
        h(3),
        datetime(2026, 10, 4, 5, 0),
        11,
        id="sydney-october-shift-is-3h",
    ),
    # --- Asia/Kolkata: Mon-Sat 10-13, 14-18 (+05:30), Indian holidays; weeknight shift -----
    pytest.param(
        # Mon 2027-01-25 17-18 is 1 h; Tue 01-26 Republic Day; Wed 01-27 10-11: 11:00 IST.
        "kolkata-office",
        datetime(2027, 1, 25, 17, 0, tzinfo=KOLKATA),
        h(2),
        datetime(2027, 1, 27, 11, 0),
        5.5,
        id="kolkata-republic-day",
    ),
    pytest.param(
        # Saturday is a working day here: 12-13 is 1 h, lunch, 14-16 the rest: 16:00.
        "kolkata-office",
        datetime(2027, 1, 30, 12, 0, tzinfo=KOLKATA),
        h(3),
        datetime(2027, 1, 30, 16, 0),
        5.5,
        id="kolkata-saturday-open-with-lunch",
    ),
    pytest.param(
        # Sunday: closed; Mon 02-01 10:00 + 1 h.
        "kolkata-office",
        datetime(2027, 1, 31, 9, 0, tzinfo=KOLKATA),
        h(1),
        datetime(2027, 2, 1, 11, 0),
        5.5,
        id="kolkata-sunday",
    ),
    pytest.param(
        # Fri 23:00 to Sat 06:00 is 7 h (Friday's shift, across midnight); no shift starts on
        # Sat or Sun, and Mon 00:00-06:00 belongs to Sunday (none): Mon 22:00-23:00 is the 8th.
        "kolkata-night",
        datetime(2027, 1, 29, 23, 0, tzinfo=KOLKATA),
        h(8),
        datetime(2027, 2, 1, 23, 0),
        5.5,
        id="kolkata-friday-night-shift-into-saturday",
    ),
    pytest.param(
        # Mon 02:00 is not open (Sunday has no shift): Mon 22:00 + 30 m.
        "kolkata-night",
        datetime(2027, 2, 1, 2, 0, tzinfo=KOLKATA),
        timedelta(minutes=30),
        datetime(2027, 2, 1, 22, 30),
        5.5,
        id="kolkata-monday-small-hours-closed",
    ),
    # --- Pacific/Chatham: +12:45 / +13:45 ------------------------------------------------
    pytest.param(
        # Fri 11-27 16:30-17:00 is 30 m; Mon 11-30 Chatham Islands Anniversary Day; Tue 12-01
        # 09:00-09:30: 09:30 +13:45 (2026-11-30 19:45Z).
        "chatham-office",
        datetime(2026, 11, 27, 16, 30, tzinfo=CHATHAM),
        h(1),
        datetime(2026, 12, 1, 9, 30),
        13.75,
        id="chatham-anniversary-day",
    ),
    pytest.param(
        # 04-05 03:45 +13:45 -> 02:45 +12:45. Start 02:45 +13:45 (first occurrence, 13:00Z), an
        # hour before; 2 h: 15:00Z = 03:45 +12:45.
        "chatham-early",
        datetime(2026, 4, 5, 2, 45, tzinfo=CHATHAM),
        h(2),
        datetime(2026, 4, 5, 3, 45),
        12.75,
        id="chatham-hour-before-fall-back",
    ),
    pytest.param(
        # 09-27 02:45 +12:45 -> 03:45 +13:45. Start 01:45 +12:45 (13:00Z), an hour before;
        # 2 h: 15:00Z = 04:45 +13:45.
        "chatham-early",
        datetime(2026, 9, 27, 1, 45, tzinfo=CHATHAM),
        h(2),
        datetime(2026, 9, 27, 4, 45),
        13.75,
        id="chatham-hour-before-spring-forward",
    ),
    pytest.param(
        # The 04-05 shift is 01:00 +13:45 (11:15Z) to 05:00 +12:45 (16:15Z): 5 h.
        "chatham-early",
        datetime(2026, 4, 5, 0, 0, tzinfo=CHATHAM),
        h(5),
        datetime(2026, 4, 5, 5, 0),
        12.75,
        id="chatham-fall-back-shift-is-5h",
    ),
]


@pytest.mark.parametrize(("name", "start", "duration", "wall", "offset_hours"), CASES)
def test_worked_example(
    name: str, start: datetime, duration: timedelta, wall: datetime, offset_hours: float
) -> None:
    cal = calendar(name)
    due = cal.add(start, duration)
    # The exact local wall time and UTC offset, in the start's own zone.
    assert due.tzinfo is start.tzinfo
    assert due.utcoffset() == timedelta(hours=offset_hours)
    assert due.replace(tzinfo=None) == wall
    # elapsed agrees, and the due time is the earliest instant reaching the target.
    assert cal.elapsed(start, due) == duration
    before = due.astimezone(UTC) - MICRO
    assert cal.elapsed(start, before) == duration - MICRO
    assert cal.is_open(before)


ELAPSED_CASES = [
    # (calendar, start, end, business time between)
    pytest.param(
        # A whole week without holidays (06-08 to 06-15): 5 days x 7 h.
        "ny-office",
        datetime(2026, 6, 8, tzinfo=NY),
        datetime(2026, 6, 15, tzinfo=NY),
        h(35),
        id="ny-office-week",
    ),
    pytest.param(
        # The week of Juneteenth (Fri 2026-06-19, a federal holiday): 4 days x 7 h.
        "ny-office",
        datetime(2026, 6, 15, tzinfo=NY),
        datetime(2026, 6, 22, tzinfo=NY),
        h(28),
        id="ny-office-juneteenth-week",
    ),
    pytest.param(
        # Thanksgiving week: Mon-Wed 21 h, Thu holiday, Fri 7 h, Sat 11-28 extra day 6 h.
        "ny-office",
        datetime(2026, 11, 23, tzinfo=NY),
        datetime(2026, 11, 30, tzinfo=NY),
        h(34),
        id="ny-office-thanksgiving-week",
    ),
    pytest.param(
        # Christmas week 2026: Mon-Wed 21 h, Thu 12-24 4 h, Fri 12-25 holiday.
        "ny-office",
        datetime(2026, 12, 21, tzinfo=NY),
        datetime(2026, 12, 28, tzinfo=NY),
        h(25),
        id="ny-office-christmas-week",
    ),
    pytest.param(
        # The night of 03-07/08 is 7 real hours, the night of 10-31/11-01 is 9.
        "ny-night",
        datetime(2026, 3, 7, 12, 0, tzinfo=NY),
        datetime(2026, 3, 8, 12, 0, tzinfo=NY),
        h(7),
        id="ny-night-spring-forward-is-7h",
    ),
    pytest.param(
        "ny-night",
        datetime(2026, 10, 31, 12, 0, tzinfo=NY),
        datetime(2026, 11, 1, 12, 0, tzinfo=NY),
        h(9),
        id="ny-night-fall-back-is-9h",
    ),
    pytest.param(
        # Ends in different zones are fine: both are instants.
        "ny-night",
        datetime(2026, 6, 16, 2, 0, tzinfo=UTC),  # 22:00 EDT on 06-15
        datetime(2026, 6, 16, 7, 0, tzinfo=timezone(timedelta(hours=2))),  # 05:00Z = 01:00 EDT
        h(3),
        id="ny-night-mixed-zones",
    ),
    pytest.param(
        # 2028 is a leap year: Feb has 29 days, 21 weekdays; Berlin has no February holiday.
        "berlin-office",
        datetime(2028, 2, 1, tzinfo=BERLIN),
        datetime(2028, 3, 1, tzinfo=BERLIN),
        h(21 * 8),
        id="berlin-february-2028",
    ),
    pytest.param(
        # 03-29: 01:00 CET-05:00 CEST is 3 h. 10-25: 01:00 CEST-05:00 CET is 5 h.
        "berlin-early",
        datetime(2026, 3, 29, tzinfo=BERLIN),
        datetime(2026, 3, 30, tzinfo=BERLIN),
        h(3),
        id="berlin-early-spring-day-3h",
    ),
    pytest.param(
        "berlin-early",
        datetime(2026, 10, 25, tzinfo=BERLIN),
        datetime(2026, 10, 26, tzinfo=BERLIN),
        h(5),
        id="berlin-early-fall-day-5h",
    ),
    pytest.param(
        "sydney-early",
        datetime(2026, 4, 5, tzinfo=SYDNEY),
        datetime(2026, 4, 6, tzinfo=SYDNEY),
        h(5),
        id="sydney-early-april-day-5h",
    ),
    pytest.param(
        "chatham-early",
        datetime(2026, 9, 27, tzinfo=CHATHAM),
        datetime(2026, 9, 28, tzinfo=CHATHAM),
        h(3),
        id="chatham-early-september-day-3h",
    ),
    pytest.param(
        # 02:30-04:00 on spring-forward day is 03:30-04:00 EDT: 30 m.
        "ny-gap",
        datetime(2026, 3, 8, tzinfo=NY),
        datetime(2026, 3, 9, tzinfo=NY),
        timedelta(minutes=30),
        id="ny-gap-day-30m",
    ),
    pytest.param(
        # End before start: zero, never negative.
        "ny-office",
        datetime(2026, 6, 16, 15, 0, tzinfo=NY),
        datetime(2026, 6, 16, 10, 0, tzinfo=NY),
        timedelta(0),
        id="ny-end-before-start",
    ),
]


@pytest.mark.parametrize(("name", "start", "end", "expected"), ELAPSED_CASES)
def test_worked_elapsed(name: str, start: datetime, end: datetime, expected: timedelta) -> None:
    cal = calendar(name)
    assert cal.elapsed(start, end) == expected
    if expected > timedelta(0):
        # ...and add inverts it, landing at or before ``end`` (earliest instant).
        assert cal.add(start, expected).astimezone(UTC) <= end.astimezone(UTC)


NEXT_OPEN_CASES = [
    # (calendar, at, expected local wall time of next_open, expected UTC offset in hours)
    pytest.param(
        "ny-office",
        datetime(2026, 6, 13, 10, 0, tzinfo=NY),
        datetime(2026, 6, 15, 9, 0),
        -4,
        id="ny-saturday-to-monday-0900",
    ),
    pytest.param(
        "ny-office",
        datetime(2026, 6, 16, 12, 0, tzinfo=NY),
        datetime(2026, 6, 16, 13, 0),
        -4,
        id="ny-lunch-to-1300",
    ),
    pytest.param(
        # Open at 12:59:59.999999: next_open is the instant itself.
        "ny-office",
        datetime(2026, 6, 16, 11, 59, 59, 999_999, tzinfo=NY),
        datetime(2026, 6, 16, 11, 59, 59, 999_999),
        -4,
        id="ny-open-just-before-lunch",
    ),
    pytest.param(
        # Thanksgiving Wednesday evening: Thu is a holiday, Fri 09:00 EST.
        "ny-office",
        datetime(2026, 11, 25, 17, 0, tzinfo=NY),
        datetime(2026, 11, 27, 9, 0),
        -5,
        id="ny-over-thanksgiving",
    ),
    pytest.param(
        # Saturday 03-28 in Berlin: the next opening is Monday, after the spring change.
        "berlin-office",
        datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN),
        datetime(2026, 3, 30, 8, 0),
        2,
        id="berlin-across-spring-change",
    ),
    pytest.param(
        # Sunday 2027-01-31 in Kolkata (nothing starts on Sat/Sun): Monday 22:00.
        "kolkata-night",
        datetime(2027, 1, 31, 12, 0, tzinfo=KOLKATA),
        datetime(2027, 2, 1, 22, 0),
        5.5,
        id="kolkata-night-sunday-to-monday-2200",
    ),
]


@pytest.mark.parametrize(("name", "at", "wall", "offset_hours"), NEXT_OPEN_CASES)
def test_worked_next_open(name: str, at: datetime, wall: datetime, offset_hours: float) -> None:
    cal = calendar(name)
    opens = cal.next_open(at)
    assert opens.tzinfo is at.tzinfo
    assert opens.replace(tzinfo=None) == wall
    assert opens.utcoffset() == timedelta(hours=offset_hours)
    assert cal.is_open(opens)
    assert cal.is_open(at) == (opens.astimezone(UTC) == at.astimezone(UTC))


def test_add_zero_is_the_start_itself_even_when_closed() -> None:
    saturday = datetime(2026, 6, 13, 10, 0, tzinfo=NY)
    assert calendar("ny-office").add(saturday, timedelta(0)) == saturday
    assert calendar("ny-office").elapsed(saturday, saturday) == timedelta(0)


@pytest.mark.parametrize("method", ["add", "elapsed", "next_open", "is_open"])
def test_naive_datetimes_are_refused(method: str) -> None:
    cal = calendar("ny-office")
    naive = datetime(2026, 6, 16, 10, 0)
    aware = naive.replace(tzinfo=NY)
    calls = {
        "add": lambda: cal.add(naive, h(1)),
        "elapsed": lambda: cal.elapsed(aware, naive),
        "next_open": lambda: cal.next_open(naive),
        "is_open": lambda: cal.is_open(naive),
    }
    with pytest.raises(ValueError, match="no time zone"):
        calls[method]()


def test_always_open_add_counts_real_time_across_dst() -> None:
    # Regression (fixed in 39fc687): AlwaysOpen.add was ``start + d``, which for a start in a
    # ZoneInfo zone is wall-clock arithmetic. 01:00 EST (06:00Z) on spring-forward day + 2 real
    # hours is 08:00Z = 04:00 EDT; it returned 03:00 EDT (07:00Z), one real hour early.
    start = datetime(2026, 3, 8, 1, 0, tzinfo=NY)
    due = AlwaysOpen().add(start, h(2))
    assert due.astimezone(UTC) == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert due.astimezone(NY).replace(tzinfo=None) == datetime(2026, 3, 8, 4, 0)


def test_always_open_elapsed_counts_real_time_across_dst() -> None:
    # Regression (fixed in 39fc687): AlwaysOpen.elapsed was ``end - start``; with both ends in
    # the same ZoneInfo zone that is a wall-clock difference. 00:00 EDT to 03:00 EST on
    # fall-back day (04:00Z to 08:00Z) is 4 real hours; it returned 3 h.
    start = datetime(2026, 11, 1, 0, 0, tzinfo=NY)
    end = datetime(2026, 11, 1, 3, 0, tzinfo=NY)
    assert AlwaysOpen().elapsed(start.astimezone(UTC), end.astimezone(UTC)) == h(4)
    assert AlwaysOpen().elapsed(start, end) == h(4)


def test_always_open_is_always_open() -> None:
    start = datetime(2026, 3, 8, 1, 0, tzinfo=NY)
    assert AlwaysOpen().next_open(start) == start
    assert AlwaysOpen().add(start, timedelta(0)) == start
    assert AlwaysOpen().timezone == "UTC"
    with pytest.raises(ValueError, match="no time zone"):
        AlwaysOpen().add(datetime(2026, 3, 8), h(1))


def test_properties_name_the_zone() -> None:
    cal = calendar("chatham-office")
    assert cal.timezone == "Pacific/Chatham"
    assert str(cal.zone) == "Pacific/Chatham"  # from the pinned tzdata, not the host


def test_is_open_compares_instants_not_wall_times_in_a_repeated_hour() -> None:
    # Regression (fixed in 39fc687): is_open was ``next_open(at) == at``; both are in at's
    # zone, and Python compares two datetimes with the same tzinfo by wall time, ignoring fold.
    # 01:30 EDT on 2026-11-01 (05:30Z) is closed on a Kolkata 12:00-13:00 desk (it is 11:00
    # IST); the desk next opens at 06:30Z, in New York 01:30 EST (the repeated 01:30), so
    # is_open said True.
    desk = BusinessCalendar(timezone="Asia/Kolkata", hours={"daily": ["12:00-13:00"]})
    at = datetime(2026, 11, 1, 1, 30, tzinfo=NY)  # fold=0: the first 01:30, EDT
    assert at.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert not desk.is_open(at.astimezone(UTC))
    assert desk.next_open(at).astimezone(UTC) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert not desk.is_open(at)


def test_answers_do_not_depend_on_earlier_queries() -> None:
    # BUG (low severity): a timeline only ever widens, and refuses to span 400 years. After
    # one query from 1700 (a bogus ticket date, say), the calendar, which from_definition
    # shares between all tickets with its definition, raises "no open time within 400 years"
    # for any instant from 2100 on; a fresh calendar with the same hours answers.
    hours = {"mon-fri": ["09:00-17:00"]}
    fresh = BusinessCalendar(timezone="UTC", hours=hours)
    used = BusinessCalendar(timezone="UTC", hours=hours)
    used.elapsed(datetime(1700, 1, 1, tzinfo=UTC), datetime(2026, 6, 3, tzinfo=UTC))
    new_year_2101 = datetime(2101, 1, 1, tzinfo=UTC)  # a Saturday
    assert fresh.next_open(new_year_2101) == datetime(2101, 1, 3, 9, 0, tzinfo=UTC)
    assert used.next_open(new_year_2101) == datetime(2101, 1, 3, 9, 0, tzinfo=UTC)


NIGHT_DESK_NEW_YEAR = {
    "timezone": "UTC",
    "hours": {"daily": ["22:00-06:00"]},
    # New Year's Day has its own hours, both inside the New Year's Eve night shift.
    "open": {"01-01": ["01:00-02:00", "03:00-04:00"]},
}


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Dec 31 22:00 to Jan 1 06:00 is the only open time from Dec 31 noon to Jan 1 noon (Jan
        # 1's own hours lie inside it, and no shift starts on Jan 1): 8 h.
        pytest.param(
            datetime(2026, 12, 31, 12, 0, tzinfo=UTC),
            datetime(2027, 1, 1, 12, 0, tzinfo=UTC),
            h(8),
            id="whole-night",
        ),
        # 02:30 to 03:30 on Jan 1 is all open: 1 h (it returned 4 h, more than real time).
        pytest.param(
            datetime(2027, 1, 1, 2, 30, tzinfo=UTC),
            datetime(2027, 1, 1, 3, 30, tzinfo=UTC),
            h(1),
            id="one-hour-inside-the-night",
        ),
        # Jan 1 00:00 to 12:00: the night shift's last 6 h.
        pytest.param(
            datetime(2027, 1, 1, 0, 0, tzinfo=UTC),
            datetime(2027, 1, 1, 12, 0, tzinfo=UTC),
            h(6),
            id="new-year-morning",
        ),
    ],
)
def test_new_years_day_hours_inside_the_night_before_count_once(
    start: datetime, end: datetime, expected: timedelta
) -> None:
    # Regression (fixed in 39fc687): Timeline._grow joined year chunks by merging only the
    # *first* interval of the new year with the last one before it; the 03:00-04:00 interval
    # stayed in the list although the 22:00-06:00 night shift covers it, so its hour counted
    # twice (and elapsed could exceed the real time between its ends).
    cal = BusinessCalendar(**NIGHT_DESK_NEW_YEAR)
    assert cal.elapsed(start, end) == expected
    assert cal.add(start, expected) <= end
