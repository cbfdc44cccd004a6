"""The suggested-targets diff: only target values and the version change, nothing else."""

from __future__ import annotations

import difflib
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.loader import PolicyError, default_policy_dir, parse_policy
from policies.model import ClockName
from reports.policy_diff import (
    PolicyDiffError,
    bump_version,
    changes_from,
    rewrite_policy,
    unified_diff,
)
from reports.suggest import Suggestion

DEFAULT_TEXT = (default_policy_dir() / "default.yaml").read_text(encoding="utf-8")
FR, RES, NR = ClockName.FIRST_RESPONSE, ClockName.RESOLUTION, ClockName.NEXT_REPLY
LEVELS = """\
levels:
  - name: breached
    when: {clock: first_response, at: 100%}
    notify: [assignee]
"""
BLOCK = (
    """\
name: block
version: "2024.7"   # bumped by hand until now
targets:
  # The urgent one.
  P1:
    first_response: 15m   # agreed with the customer board
    resolution: 4h
  P2:
    first_response: 1h
    resolution: 8h
    calendar: 24x7
"""
    + LEVELS
)


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line.rstrip("\n")
        for line in difflib.ndiff(before.splitlines(True), after.splitlines(True))
        if line[:2] in ("- ", "+ ")
    ]


def test_flow_style_targets_change_in_place_and_the_version_goes_up() -> None:
    changes = {"P1": {FR: timedelta(minutes=20)}, "P3": {RES: timedelta(hours=30)}}
    after = rewrite_policy(DEFAULT_TEXT, "policies/default.yaml", changes)
    assert changed_lines(DEFAULT_TEXT, after) == [
        "- version: 4",
        "+ version: 5",
        "-   P1: {first_response: 15m, resolution: 4h, next_reply: 30m}",
        "+   P1: {first_response: 20m, resolution: 4h, next_reply: 30m}",
        "-   P3: {first_response: 4h, resolution: 24h, next_reply: 8h, calendar: support-hours}",
        "+   P3: {first_response: 4h, resolution: 30h, next_reply: 8h, calendar: support-hours}",
    ]
    policy = parse_policy(after, "after")
    assert policy.version == "5"
    assert policy.targets["P3"].resolution == timedelta(hours=30)


def test_block_style_keeps_comments_and_pins_an_inherited_next_reply() -> None:
    # P1 had no next_reply (it inherits first_response's 15m): the change must not move it.
    after = rewrite_policy(BLOCK, "block.yaml", {"P1": {FR: timedelta(minutes=25)}})
    assert changed_lines(BLOCK, after) == [
        '- version: "2024.7"   # bumped by hand until now',
        '+ version: "2024.8"   # bumped by hand until now',
        "-     first_response: 15m   # agreed with the customer board",
        "+     first_response: 25m   # agreed with the customer board",
        "+     next_reply: 15m",
    ]
    policy = parse_policy(after, "after")
    assert policy.targets["P1"].for_clock(NR) == timedelta(minutes=15)


def test_a_missing_next_reply_is_added_in_the_mappings_own_style() -> None:
    flow = BLOCK.replace(
        "  P2:\n    first_response: 1h\n    resolution: 8h\n    calendar: 24x7\n",
        "  P2: {first_response: 1h, resolution: 8h}  # standard\n",
    )
    after = rewrite_policy(flow, "flow.yaml", {"P2": {NR: timedelta(hours=3)}})
    assert changed_lines(flow, after)[2:] == [
        "-   P2: {first_response: 1h, resolution: 8h}  # standard",
        "+   P2: {first_response: 1h, resolution: 8h, next_reply: 3h}  # standard",
    ]
    after = rewrite_policy(BLOCK, "block.yaml", {"P2": {NR: timedelta(hours=3)}})
    assert changed_lines(BLOCK, after)[2:] == ["+     next_reply: 3h"]
    assert after.splitlines()[10:12] == ["    calendar: 24x7", "    next_reply: 3h"]


def test_an_alias_shared_by_two_priorities_is_refused() -> None:
    shared = (
        "name: shared\nversion: 1\ntargets:\n"
        "  P1: {first_response: &fast 15m, resolution: 4h}\n"
        "  P2: {first_response: *fast, resolution: 8h}\n" + LEVELS
    )
    with pytest.raises(PolicyDiffError, match=r"targets\.P1\.first_response: written as '&fast"):
        rewrite_policy(shared, "shared.yaml", {"P1": {FR: timedelta(minutes=20)}})
    # An alias is the anchored node itself to the composer: refused the same way.
    with pytest.raises(PolicyDiffError, match=r"targets\.P2\.first_response: written as '&fast"):
        rewrite_policy(shared, "shared.yaml", {"P2": {FR: timedelta(minutes=20)}})
    merged = (
        "name: merged\nversion: 1\ntargets:\n"
        "  P1: &base {first_response: 15m, resolution: 4h}\n"
        "  P2: {<<: *base, resolution: 8h}\n" + LEVELS
    )
    with pytest.raises(PolicyDiffError, match=r"targets\.P2\.first_response reads 20m, not 15m"):
        rewrite_policy(merged, "merged.yaml", {"P1": {FR: timedelta(minutes=20)}})


def test_unknown_priorities_and_broken_files_are_refused() -> None:
    with pytest.raises(PolicyDiffError, match="no targets for P9"):
        rewrite_policy(DEFAULT_TEXT, "default.yaml", {"P9": {FR: timedelta(minutes=5)}})
    with pytest.raises(PolicyError):
        rewrite_policy("name: x\n", "x.yaml", {})


def test_versions_bump_their_last_number() -> None:
    assert bump_version("3") == "4"
    assert bump_version("2024.7") == "2024.8"
    assert bump_version("v2-rc9") == "v2-rc10"
    assert bump_version("beta") == "beta.1"


def test_only_changed_suggestions_become_changes() -> None:
    def suggestion(priority: str, clock: ClockName, current: float, suggested: int | None):
        return Suggestion(
            priority=priority,
            clock=clock,
            objective=95,
            objective_source="policy",
            sample=20,
            current_target_seconds=current,
            current_attainment=0.9,
            suggested_target_seconds=suggested,
        )

    rows = [
        suggestion("P1", FR, 900, 1200),
        suggestion("P1", RES, 14_400, 14_400),  # the same: no change
        suggestion("P2", FR, 3600, None),  # too few clocks
        suggestion("P2", RES, 28_800, 25_200),
    ]
    assert changes_from(rows) == {
        "P1": {FR: timedelta(minutes=20)},
        "P2": {RES: timedelta(hours=7)},
    }


def test_the_diff_is_a_git_style_unified_diff() -> None:
    after = rewrite_policy(DEFAULT_TEXT, "x", {"P2": {FR: timedelta(minutes=45)}})
    diff = unified_diff(DEFAULT_TEXT, after, "policies/default.yaml")
    lines = diff.splitlines()
    assert lines[:2] == ["--- a/policies/default.yaml", "+++ b/policies/default.yaml"]
    assert "-  P2: {first_response: 1h, resolution: 8h, next_reply: 2h}" in lines
    assert "+  P2: {first_response: 45m, resolution: 8h, next_reply: 2h}" in lines
    assert unified_diff(DEFAULT_TEXT, DEFAULT_TEXT, "p") == ""


minutes = st.integers(min_value=1, max_value=200 * 60)


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["P1", "P2", "P3", "P4"]),
        st.dictionaries(st.sampled_from(list(ClockName)), minutes, min_size=1),
        min_size=1,
    )
)
def test_any_change_reads_back_exactly_and_touches_nothing_else(
    wanted: dict[str, dict[ClockName, int]],
) -> None:
    changes = {
        p: {c: timedelta(minutes=m) for c, m in clocks.items()} for p, clocks in wanted.items()
    }
    after = rewrite_policy(DEFAULT_TEXT, "default.yaml", changes)
    before_policy, after_policy = parse_policy(DEFAULT_TEXT, "b"), parse_policy(after, "a")
    for priority, targets in before_policy.targets.items():
        for clock in ClockName:
            expected = changes.get(priority, {}).get(clock, targets.for_clock(clock))
            assert after_policy.targets[priority].for_clock(clock) == expected
    # Everything but the version and the changed priorities' lines is byte for byte the same.
    touched = {f"  {p}: " for p in changes} | {"version: "}
    for line in changed_lines(DEFAULT_TEXT, after):
        assert any(line[2:].startswith(prefix) for prefix in touched), line
    assert after_policy.model_dump(exclude={"version", "targets"}) == before_policy.model_dump(
        exclude={"version", "targets"}
    )
