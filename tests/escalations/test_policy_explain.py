"""``escalations policy explain``: the procedure page, its committed example, and hostile text."""

from __future__ import annotations

import difflib
import re
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from escalations.cli.main import main
from escalations.procedure.explain import explain
from escalations.procedure.scenario import Scenario
from escalations.procedure.simulation import simulate
from escalations.procedure.words import (
    calendar_words,
    condition_words,
    printable,
    target_words,
)
from policies.calendar_definition import CalendarDefinition
from policies.durations import WorkingDays
from policies.loader import default_policy_dir, parse_policy, read_policy_file

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "default-policy-procedure.md"
OPENED = "2026-12-01T10:00:00-05:00"
REGENERATE = (
    f".venv/bin/escalations policy explain default --opened {OPENED} "
    "--output docs/examples/default-policy-procedure.md"
)
DEFAULT = default_policy_dir() / "default.yaml"

HOSTILE = """\
name: hostile
version: "1 <b>bold</b>"
description: "<script>alert(1)</script> \\e[31mred\\e[0m \\u202eevil & 'q' \\"dq\\" \\0 end"
targets:
  P1: {first_response: 15m, resolution: 4h}
channels:
  hook: {webhook: {url: "https://itsm.example/hooks?a=1&b=<x>", secret_env: HOOK_SECRET}}
contacts:
  team_lead: ["o'neil&co{x}|y@example.com", hook]
teams:
  ops:
    team_lead: ["ops+{lead}&x@example.com"]
plans:
  - name: gold
    description: "</style><script>steal()</script>"
    when: {customer_tier: ["<img src=x onerror=alert(1)>"]}
    targets:
      P1: {first_response: 5m, resolution: 1h}
levels:
  - name: response-breached
    when: {clock: first_response, at: 100%}
    notify: [team_lead]
"""

PAGE_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "br", "strong",
    "table", "tr", "th", "td", "ul", "ol", "li", "section", "span",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]


def _explain(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["policy", "explain", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- the committed example -----------------------------------------------------------------


def test_the_committed_example_is_what_the_shipped_policy_gives(tmp_path: Path) -> None:
    written = tmp_path / "procedure.md"
    assert main(["policy", "explain", "default", "--opened", OPENED, "--output", str(written)]) == 0
    fresh, committed = written.read_text(), EXAMPLE.read_text()
    diff = "".join(
        list(difflib.unified_diff(committed.splitlines(True), fresh.splitlines(True)))[:40]
    )
    assert fresh == committed, (
        f"{EXAMPLE.relative_to(ROOT)} no longer matches policies/default.yaml; regenerate it "
        f"with\n  {REGENERATE}\nand review the change:\n{diff}"
    )


# -- every level and every contact, in both formats -----------------------------------------


@pytest.mark.parametrize("page_format", ["md", "html"])
def test_the_page_names_every_level_and_every_contact(
    capsys: pytest.CaptureFixture[str], page_format: str
) -> None:
    code, page, _ = _explain(capsys, "default", "--opened", OPENED, "--format", page_format)
    assert code == 0
    policy = read_policy_file(DEFAULT)
    for level in policy.levels:
        assert level.name in page
    for entries in policy.contacts.values():
        for entry in entries:
            assert entry in page
    for team in policy.teams.values():
        for entries in team.values():
            for entry in entries:
                assert entry in page
    assert "Slack #support-escalations" in page.replace("\\#", "#")
    assert "PagerDuty service pagerduty-support" in page


def test_the_html_page_is_self_contained(capsys: pytest.CaptureFixture[str]) -> None:
    code, page, _ = _explain(capsys, "default", "--opened", OPENED, "--format", "html")
    assert code == 0
    parser = _Tags()
    parser.feed(page)
    assert set(parser.tags) <= PAGE_TAGS
    assert not {"src", "href", "onload", "onerror"} & set(parser.attributes)


# -- words ------------------------------------------------------------------------------------


def test_a_calendar_reads_as_a_sentence() -> None:
    policy = read_policy_file(DEFAULT)
    assert calendar_words("support-hours", policy.calendars["support-hours"]) == (
        "Weekdays 08:00-12:00 and 13:00-18:00 New York time (America/New_York); US public "
        "holidays off; every 24 December 08:00-13:00 only; closed every 31 December"
    )
    assert calendar_words("24x7", None).startswith("Around the clock")


def test_a_night_shift_and_a_weekend_read_as_such() -> None:
    policy = parse_policy(
        """\
name: nights
version: 1
calendars:
  nights:
    timezone: Europe/London
    hours: {mon-thu: ["22:00-06:00"], sat: ["00:00-24:00"]}
    closed: [2026-12-25]
targets:
  P1: {first_response: 15m, resolution: 4h, calendar: nights}
levels:
  - {name: late, when: {clock: resolution, before_breach: 30m}, notify: [assignee]}
""",
        "nights.yaml",
    )
    assert calendar_words("nights", policy.calendars["nights"]) == (
        "Mon-Thu 22:00-06:00 (into the next day), Sat all day, London time (Europe/London); "
        "closed Fri 25 December 2026"
    )
    assert condition_words(policy.levels[0].when) == (
        "30m before the resolution target is breached and the ticket is still unresolved"
    )


def test_holidays_by_region_and_from_a_feed_are_named() -> None:
    definition = CalendarDefinition.model_validate(
        {
            "timezone": "Europe/Berlin",
            "hours": {"mon-fri": ["09:00-17:00"], "sat": ["10:00-14:00"]},
            "holidays": {"country": "DE", "subdivision": "BE", "ical": "company.ics"},
        }
    )
    assert calendar_words("berlin", definition) == (
        "Weekdays 09:00-17:00, Sat 10:00-14:00, Berlin time (Europe/Berlin); DE (BE) public "
        "holidays off; the holidays listed in company.ics off"
    )


def test_a_trigger_reads_as_a_sentence() -> None:
    policy = read_policy_file(DEFAULT)
    triggers = {level.name: condition_words(level.when) for level in policy.levels}
    assert triggers["response-at-risk"] == (
        "75% of the first response target has passed and the ticket still has no first response"
    )
    assert triggers["major-incident"] == (
        "any of: 2h past the resolution target and the ticket is still unresolved; or the "
        "number of affected users is 500 or more; or a critical business service is affected"
    )


def test_working_day_and_missing_targets_read_as_words() -> None:
    assert target_words(WorkingDays(days=2)) == "2 working days"
    assert target_words(WorkingDays(days=0, end_of_day=True)) == "end of the working day"
    assert target_words(WorkingDays(days=2, end_of_day=True)) == (
        "end of the 2nd working day after the start day"
    )
    assert target_words(None) == "none (response only)"
    assert target_words(timedelta(hours=40)) == "40h"


def test_working_day_and_response_only_targets_are_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "days.yaml"
    path.write_text(
        """\
name: days
version: 1
calendars:
  office: {timezone: Europe/London, hours: {mon-fri: ["09:00-17:00"]}}
targets:
  P1: {first_response: eod, calendar: office}
  P2: {first_response: 2bd, resolution: 2bd eod, calendar: office}
contacts:
  lead: [lead@example.com]
levels:
  - {name: at-risk, when: {clock: first_response, at: 50%}, notify: [lead]}
  - {name: late, when: {clock: resolution, at: 100%}, notify: [lead]}
"""
    )
    code, page, err = _explain(capsys, str(path), "--opened", "2026-12-01T10:00:00Z")
    assert code == 0, err
    assert (
        "| P1 | end of the working day | none (response only) | end of the working day | office |"
    ) in page
    assert (
        "- Tue 13:30: **at-risk** (50% of the first response target: end of the working day): "
        "lead@example.com"
    ) in page
    p1 = page.split("### P1 (plan default)")[1].split("###")[0]
    assert "**late**" not in p1  # a response-only ticket never breaches its resolution
    assert "- Thu 17:00: **late** (100% of the resolution target: end of the 2nd working day" in (
        page
    )


def test_control_characters_and_bidi_overrides_are_replaced() -> None:
    assert printable("a\x1b[31mb\u202ec\x00d\te\nf") == "a\ufffd[31mb\ufffdc\ufffdd\te\nf"


# -- the example timeline is the workflow's own -----------------------------------------------


def test_the_timeline_is_the_simulations_firings() -> None:
    policy = read_policy_file(DEFAULT)
    opened = datetime.fromisoformat(OPENED)
    procedure = explain(policy, opened)
    for timeline in procedure.examples.timelines:
        simulation = simulate(policy, Scenario(priority=timeline.priority, opened_at=opened))
        shown = [(step.event, step.at) for step in timeline.steps if step.level]
        assert shown == [(f.level, f.at) for f in simulation.firings if f.part == 0]


def test_a_notice_held_for_quiet_hours_says_until_when(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The policy reference's example: a P3 ticket opened Monday 16 November 2026 at 11:00 in New
    # York breaches its resolution target on Wednesday at 18:00, as manager hours close.
    code, page, _ = _explain(capsys, "default", "--opened", "2026-11-16T11:00:00-05:00")
    assert code == 0
    p3 = page.split("### P3 (plan default)")[1].split("###")[0]
    assert (
        "Wed 18:00: **resolution-breached** (100% of the 24h resolution target): held for "
        "quiet hours: support-manager@example.com until Thu 19 Nov 09:00"
    ) in p3


# -- teams, plans and rotations ---------------------------------------------------------------


def test_team_overrides_replace_the_policy_contacts(capsys: pytest.CaptureFixture[str]) -> None:
    code, page, _ = _explain(capsys, "default", "--opened", OPENED, "--team", "payments")
    assert code == 0
    assert "team **payments**" in page
    assert "team\\_lead: payments-lead@example.com (email), the payments team's own contact" in (
        page.replace("team_lead", "team\\_lead")
    )
    assert "payments-manager@example.com" in page
    # The team's team lead and manager replace the policy's everywhere, timelines included.
    assert "support-lead@example.com" not in page
    assert "support-manager@example.com" not in page
    assert "vp-support@example.com" in page  # no override for executive


def test_without_a_team_every_teams_overrides_are_listed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, page, _ = _explain(capsys, "default", "--opened", OPENED)
    assert code == 0
    overrides = page.split("## Team overrides")[1].split("##")[0]
    assert "Team payments: team_lead is payments-lead@example.com" in overrides.replace("\\", "")
    assert "support-lead@example.com" in page


def test_plans_and_rotations_are_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "rota.yaml"
    path.write_text(
        """\
name: rota
version: 2
targets:
  P1: {first_response: 15m, resolution: 4h}
plans:
  - name: gold
    when: {customer_tier: [gold], tags: [vip]}
    valid_from: 2026-01-01
    targets:
      P1: {first_response: 5m, resolution: 1h}
  - name: legacy
    when: {tags: [old-contract]}
    valid_until: 2025-12-31
    targets:
      P1: {first_response: 10m, resolution: 2h}
rotations:
  primary:
    members: [ana@example.com, bo@example.com]
    turn: weekly
    handoff: "09:00"
    timezone: America/New_York
    start: 2026-11-02
contacts:
  on_call: [primary]
levels:
  - name: response-breached
    when: {clock: first_response, at: 100%}
    notify: [on_call]
    set_priority: P1
    reassign: {team: incident}
"""
    )
    code, page, _ = _explain(capsys, str(path), "--opened", OPENED)
    assert code == 0, page
    page = page.replace("\\", "")
    assert "Tickets where customer tier is gold; and a tag is vip; and opened on or after" in page
    assert "### P1 (plan gold)" in page
    assert "### P1 (plan default)" in page
    assert "### P1 (plan legacy)" not in page
    assert (
        "No example for plan legacy: a ticket that meets its conditions, opened then, takes "
        "plan default (it is valid until 2025-12-31)."
    ) in page
    assert (
        "Weekly turns handed over at Mon 09:00 New York time (America/New_York), starting "
        "Mon 2 November 2026, in this order: ana@example.com and bo@example.com"
    ) in page
    # Tue 1 December 2026 falls in the fifth weekly turn (turn 4): ana's.
    assert "On call at Tue 1 Dec 10:00 (the examples' opening): ana@example.com." in page
    assert "ana@example.com (on call in primary)" in page
    assert "Sets the ticket's priority to P1" in page
    assert "Reassigns the ticket to team incident." in page


# -- hostile policy text ------------------------------------------------------------------------


def test_hostile_policy_text_is_escaped_in_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE)
    code, page, err = _explain(capsys, str(path), "--opened", OPENED, "--format", "html")
    assert code == 0, err
    parser = _Tags()
    parser.feed(page)
    assert set(parser.tags) <= PAGE_TAGS
    assert not {"src", "onerror"} & set(parser.attributes)
    assert page.count("<style>") == page.count("</style>") == 1
    for raw in ("\x1b", "\u202e", "\x00", "<script", "<img", "<b>", "<x>", "&x@"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;/style&gt;&lt;script&gt;steal()&lt;/script&gt;" in page
    assert "ops+{lead}&amp;x@example.com" in page
    assert "a=1&amp;b=&lt;x&gt;" in page


def test_hostile_policy_text_is_escaped_in_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE)
    code, page, err = _explain(capsys, str(path), "--opened", OPENED)
    assert code == 0, err
    for raw in ("\x1b", "\u202e", "\x00"):
        assert raw not in page
    assert not re.search(r"(?<!\\)[<>]", page), "an unescaped < or > in the Markdown"
    assert "\\<script\\>alert(1)\\</script\\>" in page
    assert "o'neil\\&co{x}\\|y@example.com" in page
    # No table row gains a cell from a "|" in a contact.
    for line in page.splitlines():
        if line.startswith("| P1 "):
            assert line.count("|") - line.count("\\|") == 6


# -- errors -----------------------------------------------------------------------------------


def test_an_unknown_team_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _explain(capsys, "default", "--team", "nope")
    assert code == 2
    assert not out
    assert "--team: policy default has no overrides for team 'nope'" in err
    assert "payments" in err


def test_an_unknown_policy_is_an_error_naming_the_known_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = _explain(capsys, "nope")
    assert code == 1
    assert not out
    assert "no policy named 'nope'" in err
    assert "default" in err


def test_a_missing_or_invalid_file_is_an_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _explain(capsys, str(tmp_path / "missing.yaml"))
    assert code == 1
    assert "missing.yaml" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text(HOSTILE.replace("at: 100%", "at: lots"))
    code, _, err = _explain(capsys, str(broken))
    assert code == 1
    assert "broken.yaml" in err
    assert "levels.0.when.at" in err


def test_an_opening_without_a_zone_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _explain(capsys, "default", "--opened", "2026-12-01T10:00")
    assert code == 2
    assert "has no timezone" in err


def test_the_output_file_is_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    written = tmp_path / "procedure.html"
    code, out, _ = _explain(
        capsys, "default", "--opened", OPENED, "--format", "html", "--output", str(written)
    )
    assert code == 0
    assert written.read_text().startswith("<!DOCTYPE html>")
    assert f"policy default v{read_policy_file(DEFAULT).version}" in out
    code, _, err = _explain(capsys, "default", "--output", str(tmp_path / "no" / "such.md"))
    assert code == 2
    assert "--output: cannot write" in err
