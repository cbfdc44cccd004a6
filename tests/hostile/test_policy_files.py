"""Hostile policy files: the shipped default policy mutated at random paths, broken YAML,
alias bombs, deep nesting and undecodable bytes.

The loader either returns a policy or raises ``PolicyError`` naming the file and each problem's
field path. Nothing else may escape it: ``escalations policy check`` would print a traceback,
and the ``load_policy`` activity would retry what no retry can fix.
"""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from policies.loader import (
    MAX_POLICY_BYTES,
    PolicyError,
    default_policy_dir,
    parse_policy,
    read_policy_file,
)
from tests.hostile.strategies import hostile_settings, json_values

SOURCE = "hostile.yaml"
DEFAULT_TEXT = (default_policy_dir() / "default.yaml").read_text(encoding="utf-8")
DEFAULT_DATA: dict[str, Any] = yaml.safe_load(DEFAULT_TEXT)

# "levels.2.when.at: ...", "levels.0 (response-at-risk).notify: ...", "calendars.x.hours: ..."
_FIELD_PROBLEM = re.compile(r"^.+?: \S")
_FILE_PROBLEMS = ("not valid YAML", "a policy is a mapping", "the policy is ", "cannot read")


def problems_of(text: str) -> list[str] | None:
    """None for a valid policy, else the problems ``PolicyError`` lists (each checked)."""
    error: PolicyError | None = None
    try:
        parse_policy(text, SOURCE)
    except PolicyError as err:
        error = err
    if error is None:
        return None
    assert str(error).startswith(f"{SOURCE}: ")
    assert error.problems
    for problem in error.problems:
        assert problem.startswith(_FILE_PROBLEMS) or _FIELD_PROBLEM.match(problem), problem
    return error.problems


# -- mutations of the default policy's data -------------------------------------------------------


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


def _at(path: tuple[Any, ...]) -> Any:
    value: Any = DEFAULT_DATA
    for part in path:
        value = value[part]
    return value


PATHS = _paths(DEFAULT_DATA)
MAPPINGS = [(), *(path for path in PATHS if isinstance(_at(path), dict))]
_yaml_values = st.one_of(
    json_values,
    st.sampled_from(
        ["15 minutes", "0s", "-5m", "99999999999w", "PT0S", "1h30", "75", "75%%", "-10%", "1e9%"]
    ),
    st.sampled_from(["Mars/Olympus", "UTC", "mon-fry", "25:00-26:00", "09:00-09:00", "02-30"]),
    st.sampled_from([{"country": "XX"}, {"country": "US", "subdivision": "ZZ"}, {"any": []}]),
    st.sampled_from([{"clock": "first_response"}, {"field": "title", "gte": 5}, [{"all": [1]}]]),
)
_new_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,10}", fullmatch=True) | st.sampled_from(
    ["notfy", "clock", "any", "in", "<<", "24x7"]
)


@st.composite
def mutated_policies(draw: st.DrawFn) -> tuple[str, tuple[Any, ...], str]:
    """The default policy with one path replaced, dropped or given an unknown key."""
    data = copy.deepcopy(DEFAULT_DATA)
    action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
    path = draw(st.sampled_from(MAPPINGS if action == "add" else PATHS))
    parent = data
    for part in path[:-1] if action != "add" else path:
        parent = parent[part]
    if action == "replace":
        parent[path[-1]] = draw(_yaml_values)
    elif action == "drop":
        del parent[path[-1]]
    else:
        key = draw(_new_keys)
        parent[key] = draw(_yaml_values)
        path = (*path, key)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False), path, action


@hostile_settings(400)
@given(mutation=mutated_policies())
def test_a_mutated_default_policy_loads_or_names_the_field(
    mutation: tuple[str, tuple[Any, ...], str],
) -> None:
    text, path, action = mutation
    problems = problems_of(text)
    if problems is None or action == "drop":
        return
    # A broken value or unknown key is reported under its own section (cross-references that
    # break as a consequence may add problems elsewhere).
    assert any(problem.startswith(str(path[0])) for problem in problems), (path, problems)


# -- broken YAML text ------------------------------------------------------------------------------


def billion_laughs(width: int, depth: int, where: str) -> str:
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, depth + 1):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(lines) + f"\n{where}: *a{depth}\n" + DEFAULT_TEXT.split("\nname:")[0]


_bombs = st.builds(
    billion_laughs,
    st.integers(min_value=2, max_value=10),
    st.integers(min_value=2, max_value=12),
    st.sampled_from(["description", "levels", "contacts", "name", "teams"]),
)


def conditions_bomb(depth: int) -> str:
    """A level whose condition is ``any`` of three of ``any`` of three ... ``depth`` deep."""
    anchors = "x0: &w0 {clock: first_response, at: 75%}\n" + "".join(
        f"x{i}: &w{i} {{any: [*w{i - 1}, *w{i - 1}, *w{i - 1}]}}\n" for i in range(1, depth)
    )
    level = f"  - name: bomb\n    when: *w{depth - 1}\n    notify: [manager]\n"
    return anchors + DEFAULT_TEXT + level


_conditions_bomb = st.integers(min_value=2, max_value=14).map(conditions_bomb)
# PyYAML gives up on nesting by exhausting the stack, which takes a while: mostly shallow.
_nested = st.tuples(
    st.integers(min_value=1, max_value=300) | st.just(2_000), st.sampled_from(["[", "{a: "])
).map(
    lambda n_open: f"name: {n_open[1] * n_open[0]}1{(']' if n_open[1] == '[' else '}') * n_open[0]}"
)
_tags = st.sampled_from(
    [
        "name: !!python/object/apply:os.system [echo]",
        "name: !!binary '@@@'",
        "name: !!timestamp 2026-02-30",
        "name: !!int abc",
        "name: !!float x",
        "name: !!set {a, b}",
        "name: !!omap [a: 1]",
        "version: !!int 0x" + "f" * 4000,
        "version: " + "9" * 5000,
        "<<: 5",
        "name: &a [*a]",
        "? [a, b]\n: c",
        "name: *nowhere",
        "name: '\\ud800'",
        "%YAML 9.9\n---\nname: x",
        "--- a\n--- b",
        "\x00",
        "\ufeffname: default",
    ]
)


@st.composite
def spliced(draw: st.DrawFn) -> str:
    """The default policy's text with a random piece cut out or pasted in."""
    start = draw(st.integers(min_value=0, max_value=len(DEFAULT_TEXT)))
    end = draw(st.integers(min_value=start, max_value=min(len(DEFAULT_TEXT), start + 40)))
    piece = draw(st.text(max_size=12) | st.sampled_from(["\t", ": ", "- ", "&x ", "*x", "{", "]"]))
    return DEFAULT_TEXT[:start] + piece + DEFAULT_TEXT[end:]


@hostile_settings(400)
@given(text=st.one_of(_bombs, _conditions_bomb, _nested, _tags, spliced()))
def test_broken_yaml_is_a_policy_error_never_a_hang_or_another_exception(text: str) -> None:
    problems_of(text)


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    problems = problems_of(billion_laughs(10, 9, "description"))
    assert problems is not None
    assert "once its aliases (*name) are expanded" in problems[0]


def test_aliases_within_reason_still_work() -> None:
    # Anchors are a fair way to share contacts between teams.
    shared = "team_lead: [support-lead@example.com, slack-support]"
    override = "team_lead: [payments-lead@example.com]"
    assert shared in DEFAULT_TEXT
    assert override in DEFAULT_TEXT
    text = DEFAULT_TEXT.replace(shared, shared.replace(": [", ": &leads [")).replace(
        override, "team_lead: *leads"
    )
    assert problems_of(text) is None


def test_a_policy_too_large_for_a_ticket_history_is_refused() -> None:
    many = ", ".join(f"person{i}@example.com" for i in range(12_000))
    executive = "executive: [vp-support@example.com, pagerduty-support]"
    assert executive in DEFAULT_TEXT
    text = DEFAULT_TEXT.replace(executive, f"executive: [{many}]")
    assert len(text.encode()) < MAX_POLICY_BYTES
    problems = problems_of(text)
    assert problems is not None
    assert problems[0].startswith("the policy is ")


# -- files -----------------------------------------------------------------------------------------


@hostile_settings(40)
@given(
    content=st.one_of(
        st.binary(max_size=64),
        st.sampled_from([b"\xff\xfe\x00n", b"name: \xc3\x28", DEFAULT_TEXT.encode("utf-16")]),
        st.binary(max_size=16).map(lambda junk: DEFAULT_TEXT.encode() + junk),
    )
)
def test_any_bytes_in_a_file_are_a_policy_error_naming_the_file(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "default.yaml"
        path.write_bytes(content)
        error: PolicyError | None = None
        try:
            read_policy_file(path)
        except PolicyError as err:
            error = err
        assert error is None or str(error).startswith(f"{path}: ")


@pytest.mark.parametrize("size", [MAX_POLICY_BYTES + 1])
def test_an_oversized_file_is_refused_unread(size: int, tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * size)
    with pytest.raises(PolicyError, match="a policy is at most 1 MB"):
        read_policy_file(path)
