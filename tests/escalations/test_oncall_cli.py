"""``escalations oncall who``: who a role reaches at an instant, read from the policy directory
the worker uses (``ESCALATIONS_POLICY_DIR``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from escalations.cli.main import main

POLICY = """\
name: oncall
version: 2
targets: {P1: {first_response: 1h, resolution: 4h}}
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
  berlin-nights:
    members: [slack-support, night@example.com]
    turn: daily
    handoff: "20:00"
    timezone: Europe/Berlin
    start: 2026-01-01
contacts:
  team_lead: [support-primary, lead@example.com]
  manager: []
teams:
  payments: {team_lead: [berlin-nights]}
levels:
  - {name: breached, when: {clock: first_response, at: 100%}, notify: [team_lead]}
"""


@pytest.fixture
def policy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "oncall.yaml").write_text(POLICY)
    monkeypatch.setenv("ESCALATIONS_POLICY_DIR", str(tmp_path))
    return tmp_path


def who(*args: str) -> list[str]:
    return ["oncall", "who", "--policy", "oncall", *args]


def test_a_role_resolves_its_rotation_to_the_member_on_call(
    policy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(who("--role", "team_lead", "--at", "2026-03-09T14:00:00Z")) == 0
    assert capsys.readouterr().out.splitlines() == [
        # Week 9 of the rotation (from 5 January): the first member's again.
        "ana@example.com\trotation support-primary: weekly turn Mon 2026-03-09 09:00 EDT to "
        "Mon 2026-03-16 09:00 EDT",
        "lead@example.com\tcontacts.team_lead",
    ]


def test_the_hand_off_is_at_nine_on_the_wall_clock_after_the_dst_change(
    policy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 09:00 EDT is 13:00 UTC: one minute before it, the previous week's member still holds.
    assert main(who("--role", "support-primary", "--at", "2026-03-09T08:59:00-04:00")) == 0
    assert capsys.readouterr().out == (
        "cy@example.com\trotation support-primary: weekly turn Mon 2026-03-02 09:00 EST to "
        "Mon 2026-03-09 09:00 EDT\n"
    )


def test_an_override_and_a_team_are_named(
    policy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(who("--role", "team_lead", "--at", "2026-12-25T12:00:00-05:00")) == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "dee@example.com\trotation support-primary: overrides.0 Thu 2026-12-24 09:00 EST to "
        "Sun 2026-12-27 09:00 EST"
    )
    at = "2026-01-02T21:00:00+01:00"  # Berlin's turn 1 began at 20:00
    assert main(who("--role", "team_lead", "--team", "payments", "--at", at)) == 0
    assert capsys.readouterr().out == (
        "night@example.com\trotation berlin-nights: daily turn Fri 2026-01-02 20:00 CET to "
        "Sat 2026-01-03 20:00 CET\n"
    )


def test_before_the_start_the_first_member_covers(
    policy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(who("--role", "support-primary", "--at", "2025-12-01T00:00:00Z")) == 0
    assert capsys.readouterr().out == (
        "ana@example.com\trotation support-primary: before its first turn at "
        "Mon 2026-01-05 09:00 EST, the first member covers\n"
    )


def test_without_at_it_answers_for_now(
    policy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(who("--role", "team_lead")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].split("\t")[0] in {"ana@example.com", "bo@example.com", "cy@example.com"}


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        pytest.param(
            ["--role", "boss"],
            2,
            "--role: 'boss' is neither a role under contacts nor a rotation of policy oncall; "
            "it has: team_lead, manager, support-primary, berlin-nights",
            id="unknown-role",
        ),
        pytest.param(
            ["--role", "assignee"], 2, "--role: assignee is each ticket's own", id="assignee"
        ),
        pytest.param(
            ["--role", "team_lead", "--at", "2026-03-09T14:00"], 2, "has no timezone", id="naive"
        ),
        pytest.param(
            ["--role", "team_lead", "--at", "9999-12-31T23:00:00Z"],
            2,
            "--at: 9999-12-31T23:00:00+00:00 is too close to the ends of the calendar",
            id="end-of-time",
        ),
        pytest.param(
            ["--role", "manager"], 1, "role manager of policy oncall reaches nobody", id="nobody"
        ),
    ],
)
def test_bad_requests_say_what_is_wrong(
    policy_dir: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    code: int,
    expected: str,
) -> None:
    assert main(who(*args)) == code
    captured = capsys.readouterr()
    assert expected in captured.err
    assert captured.out == ""


def test_a_broken_or_missing_policy_exits_1_naming_the_file(
    policy_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (policy_dir / "broken.yaml").write_text(
        POLICY.replace("name: oncall", "name: broken").replace('"20:00"', "20:00")
    )
    assert main(["oncall", "who", "--policy", "broken", "--role", "team_lead"]) == 1
    err = capsys.readouterr().err
    assert "broken.yaml: invalid policy:" in err
    assert "rotations.berlin-nights.handoff: 1200 is not a time of day" in err
    assert main(["oncall", "who", "--policy", "nope", "--role", "team_lead"]) == 1
    assert "no policy named 'nope'" in capsys.readouterr().err
