"""Hostile command lines for ``escalations ticket ...`` and ``escalations policy check``.

Valid command lines are mutated: values replaced with hostile text, flags dropped, added or
repeated. A bad argument exits 2 with one error line naming it, before any connection; a
command line that is valid reaches for the server, finds nothing listening on the loopback
port ``TEMPORAL_ADDRESS`` names, and exits 1 with one line saying so. Never a traceback.
"""

from __future__ import annotations

import re
import socket

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from escalations.cli.main import main
from policies.loader import default_policy_dir
from tests.hostile.strategies import hostile_settings

DEFAULT_POLICY = str(default_policy_dir() / "default.yaml")

VALID: dict[str, list[str]] = {
    "open": [
        *["ticket", "open", "--id", "T-1042", "--title", "Checkout", "--priority", "P1"],
        *["--team", "payments", "--customer", "Acme", "--requester", "buyer@example.com"],
    ],
    "ack": ["ticket", "ack", "T-1042", "--by", "Ann"],
    "customer-replied": ["ticket", "customer-replied", "T-1042"],
    "agent-replied": ["ticket", "agent-replied", "T-1042", "--by", "Ann"],
    "resolve": ["ticket", "resolve", "T-1042", "--by", "Ann", "--note", "Fixed"],
    "pause": ["ticket", "pause", "T-1042", "--reason", "waiting for logs"],
    "resume": ["ticket", "resume", "T-1042"],
    "priority": ["ticket", "priority", "T-1042", "P2"],
    "impact": ["ticket", "impact", "T-1042", "--affected-users", "5"],
    "reassign": ["ticket", "reassign", "T-1042", "--team", "platform"],
    "status": ["ticket", "status", "T-1042", "--json"],
    "policy": ["policy", "check", DEFAULT_POLICY],
}
FLAGS = [
    *["--id", "--title", "--priority", "--team", "--customer", "--requester", "--assignee"],
    *["--affected-users", "--critical-service", "--policy", "--opened-at", "--by", "--at"],
    *["--note", "--reason", "--json", "--nope", "-x", "--"],
]

_values = st.one_of(
    st.text(max_size=12),
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6),
    st.sampled_from(["x" * 70_000, "é" * 501, "T-1\n", "a\nb", "\r\n", "\x1b[2J", "\u2028"]),
    st.sampled_from(["P0", "p1", "P1\n", "urgent!", "P10000000000000000", "-1", "1e9", "NaN"]),
    st.sampled_from(["2024-02-30T00:00:00Z", "2024-05-01T09:30", "yesterday", "0001-01-01T00:00Z"]),
    st.sampled_from(["9999-12-31T23:59:59-23:59", "2024-05-01T09:30:00+25:00", "-5", "10" * 30]),
    st.sampled_from(["bob", "a@b.c\n", "a@b.c\r\nBcc: x@y.z", "true", "maybe", "", " "]),
    st.sampled_from(["/nonexistent.yaml", "/", ".", "x" * 5000, "a\x00b", DEFAULT_POLICY]),
)


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """A valid command line with up to three mutations."""
    argv = list(VALID[draw(st.sampled_from(sorted(VALID)))])
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        action = draw(st.sampled_from(["value", "value", "drop", "flag", "token"]))
        # Never touch "ticket"/"policy" and the subcommand: they pick what is under test.
        if action == "value" and len(argv) > 2:
            argv[draw(st.integers(min_value=2, max_value=len(argv) - 1))] = draw(_values)
        elif action == "drop" and len(argv) > 2:
            del argv[draw(st.integers(min_value=2, max_value=len(argv) - 1))]
        elif action == "flag":
            position = draw(st.integers(min_value=2, max_value=len(argv)))
            argv[position:position] = [draw(st.sampled_from(FLAGS)), draw(_values)]
        else:
            argv.insert(draw(st.integers(min_value=2, max_value=len(argv))), draw(_values))
    return argv


@pytest.fixture
def nothing_listening(monkeypatch: pytest.MonkeyPatch) -> str:
    """TEMPORAL_ADDRESS pointing at a loopback port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("TEMPORAL_ADDRESS", address)
    return address


_ERROR_LINE = re.compile(r"^escalations( [a-z-]+)*: error: ")
_NAMES_ARGUMENT = re.compile(r"--[a-z]|\bID\b|\bPRIORITY\b|\bFILE\b|\bCOMMAND\b|\barguments?\b")


@settings(hostile_settings(400), suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_a_hostile_command_line_exits_cleanly_naming_the_argument(
    argv: list[str], nothing_listening: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()  # one capture per example
    code = main(argv)
    event(f"{argv[0]} exit {code}")
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.splitlines()
    if code == 2:
        assert captured.out == ""
        errors = [line for line in lines if ": error: " in line]
        assert len(errors) == 1, captured.err
        assert errors[0] == lines[-1]
        assert _ERROR_LINE.match(errors[0]), errors[0]
        assert _NAMES_ARGUMENT.search(errors[0]), errors[0]
    elif code == 1 and argv[0] == "ticket":
        assert lines == [line for line in lines if line.startswith("escalations: ")]
        assert len(lines) == 1, captured.err
        assert f"cannot reach Temporal at {nothing_listening}" in lines[0]
    elif code == 1:
        assert ": invalid policy:" in captured.err or "policy not found" in captured.err
    else:
        # A valid policy check, or --help reached through an abbreviation such as --he.
        assert code == 0, (code, captured.err)
        assert captured.out
        assert captured.err == ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(
            [*VALID["open"][:5], "a\nb", *VALID["open"][6:]],
            "--title: must be a single line without control characters",
            id="newline-title",
        ),
        pytest.param(
            [*VALID["open"][:3], "T-1\n", *VALID["open"][4:]],
            "--id: 'T-1\\n' must be 1-64 letters",
            id="newline-id",
        ),
        pytest.param(
            [*VALID["open"], "--title", "é" * 501],
            "--title: String should have at most 500 characters",
            id="huge-title",
        ),
        pytest.param(
            ["ticket", "reassign", "T-1", "--assignee", "bob", "--team", "Bad Team"],
            "--assignee: 'bob' is not an email address such as lead@example.com; --team: ",
            id="two-problems-one-line",
        ),
    ],
)
def test_known_hostile_arguments(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert len(err.splitlines()) == 1
