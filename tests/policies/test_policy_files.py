"""Policy files: the shipped ones load, broken ones fail with file, field path and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.loader import PolicyError, default_policy_dir, load_named_policy, parse_policy

VALID = """
name: test
version: 3
targets:
  P1: {first_response: 15m, resolution: 4h}
  P2: {first_response: 1h, resolution: 1d}
contacts:
  manager: [m@example.com]
levels:
  - name: breached
    when: {clock: resolution, at: 100%}
    notify: [manager]
"""


@pytest.mark.parametrize("name", ["default", "demo"])
def test_shipped_policies_load(name: str) -> None:
    policy = load_named_policy(default_policy_dir(), name)
    assert policy.name == name
    assert policy.levels


def test_round_trip_through_json_is_lossless() -> None:
    policy = parse_policy(VALID, "t.yaml")
    assert type(policy).model_validate_json(policy.model_dump_json()) == policy
    assert policy.version == "3"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("15m", "15 minutes"), "targets.P1.first_response: '15 minutes' is not a duration"),
        (("15m", "0s"), "targets.P1.first_response: must be longer than zero"),
        (("at: 100%", "at: 100"), None),
        (("at: 100%", "at: lots"), "levels.0.when.at: 'lots' must be a share of the target"),
        (("clock: resolution", "clock: reply"), "levels.0.when.clock: Input should be"),
        (("[manager]", "[boss]"), "levels.0 (breached).notify: unknown role 'boss'"),
        (
            ("resolution: 4h}", "resolution: 4h, calendar: office}"),
            "targets.P1.calendar: unknown calendar 'office'; defined: 24x7",
        ),
        (("notify:", "notfy:"), "levels.0.notfy: Extra inputs are not permitted"),
        (
            ("m@example.com", "m@@example"),
            "contacts.manager.0: 'm@@example' is neither an email address",
        ),
        (("name: test", "name: Bad Name"), "name: 'Bad Name' must be 1-64 lowercase"),
        (
            ("at: 100%", "at: 100%, after_breach: 1h"),
            "levels.0.when: a clock condition needs exactly one of",
        ),
    ],
)
def test_errors_name_the_file_field_and_problem(
    change: tuple[str, str], expected: str | None
) -> None:
    text = VALID.replace(*change, 1)
    if expected is None:
        parse_policy(text, "policies/test.yaml")
        return
    with pytest.raises(PolicyError) as failure:
        parse_policy(text, "policies/test.yaml")
    message = str(failure.value)
    assert message.startswith("policies/test.yaml: invalid policy:")
    assert expected in message, message


def test_composite_conditions_report_their_inner_path() -> None:
    text = VALID.replace(
        "when: {clock: resolution, at: 100%}",
        "when: {any: [{clock: resolution, at: 100%}, {field: affected_users, gte: many}]}",
    )
    with pytest.raises(PolicyError, match=r"levels\.0\.when\.any\.1\.gte"):
        parse_policy(text, "p.yaml")


def test_field_conditions_are_type_checked() -> None:
    text = VALID.replace("when: {clock: resolution, at: 100%}", "when: {field: team, gte: 3}")
    with pytest.raises(PolicyError, match="gte compares numbers; team is not a number"):
        parse_policy(text, "p.yaml")


def test_levels_may_not_name_undefined_priorities() -> None:
    text = VALID.replace("notify: [manager]", "notify: [manager]\n    priorities: [P7]")
    with pytest.raises(PolicyError, match="priority 'P7' has no targets; defined: P1, P2"):
        parse_policy(text, "p.yaml")


def test_yaml_syntax_errors_give_line_and_column() -> None:
    with pytest.raises(PolicyError, match="not valid YAML at line 2, column"):
        parse_policy("name: x\n  bad: [", "p.yaml")


def test_file_name_must_match_policy_name(tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text(VALID)
    with pytest.raises(PolicyError, match="the file declares 'test', not 'other'"):
        load_named_policy(tmp_path, "other")


def test_missing_policy_lists_what_exists(tmp_path: Path) -> None:
    (tmp_path / "test.yaml").write_text(VALID)
    with pytest.raises(PolicyError, match=r"no policy named 'nope'.*found: test"):
        load_named_policy(tmp_path, "nope")


def test_durations_longer_than_a_year_are_refused_with_their_field() -> None:
    from policies.durations import parse_duration

    with pytest.raises(ValueError, match="longest allowed duration"):
        parse_duration("99999999999w")


def test_service_levels_and_feedback_window_have_defaults() -> None:
    policy = parse_policy(VALID, "p.yaml")
    assert policy.feedback_window.days == 7
    assert policy.service_levels.objectives == []
    assert policy.slo_alert_roles() == ["manager"]  # manager and executive, those declared
    assert [a.burn_rate for a in policy.service_levels.alerts] == [14.4, 6.0]


@pytest.mark.parametrize(
    ("service_levels", "message"),
    [
        (
            "{objectives: [{priority: P9, clock: resolution, objective: 95%}]}",
            r"service_levels\.objectives\.0\.priority: 'P9' has no targets; defined: P1, P2",
        ),
        (
            "{objectives: [{priority: P1, clock: resolution, objective: 100%}]}",
            r"service_levels\.objectives\.0\.objective",
        ),
        (
            "{objectives: [{priority: P1, clock: uptime, objective: 95%}]}",
            r"service_levels\.objectives\.0\.clock",
        ),
        (
            "{objectives: [{priority: P1, clock: resolution, objective: 95%},"
            " {priority: P1, clock: resolution, objective: 90%}]}",
            r"service_levels\.objectives\.1: a second objective for P1-resolution",
        ),
        ("{notify: [cfo]}", r"service_levels\.notify: unknown role 'cfo'"),
        (
            "{alerts: [{long_window: 5m, short_window: 1h, burn_rate: 2}]}",
            r"short_window must be shorter than long_window",
        ),
    ],
)
def test_service_level_errors_name_the_field(service_levels: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(VALID + f"service_levels: {service_levels}\n", "p.yaml")


def test_feedback_window_must_be_positive() -> None:
    with pytest.raises(PolicyError, match="feedback_window"):
        parse_policy(VALID + "feedback_window: 0s\n", "p.yaml")
