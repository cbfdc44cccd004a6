"""``escalations policy simulate``: parsing scenarios, the timeline of the shipped default policy
(worked out by hand from docs/policy-reference.md), refusals, ``--compare`` and the command.

That the timeline is the workflow's own is shown by tests/workflows/test_simulate_agrees.py.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escalations.cli.main import main
from escalations.procedure.compare import compare
from escalations.procedure.scenario import (
    EVENT_FORMS,
    Scenario,
    ScenarioError,
    parse_attributes,
    parse_event,
    parse_when,
)
from escalations.procedure.simulation import Simulation, simulate
from escalations.procedure.timeline_text import moment, render_comparison, render_simulation
from policies.loader import default_policy_dir, load_named_policy, parse_policy

# Monday 16 November 2026, 11:00 in New York: no US holiday that week until Thanksgiving.
OPENED = datetime(2026, 11, 16, 16, 0, tzinfo=UTC)
DEFAULT_YAML = (default_policy_dir() / "default.yaml").read_text(encoding="utf-8")
POLICY = load_named_policy(default_policy_dir(), "default")
SIMULATE = ["policy", "simulate", "default", "--opened", "2026-11-16T11:00-05:00"]

PLANS_YAML = """\
name: plans
version: 1
targets:
  P1: {first_response: 1h, resolution: 8h}
plans:
  - name: gold
    when: {customer_tier: [gold]}
    targets:
      P1: {first_response: 15m, resolution: 4h}
contacts:
  team_lead: [lead@example.com]
levels:
  - name: response-breached
    when: {clock: first_response, at: 100%}
    notify: [team_lead]
"""


def run(priority: str, *events: str, until: str | None = None, **fields: object) -> Simulation:
    scenario = Scenario(
        priority=priority,
        opened_at=OPENED,
        events=[parse_event(text, OPENED) for text in events],
        until=parse_when(until, OPENED) if until else None,
        **fields,
    )
    return simulate(POLICY, scenario)


def timeline(sim: Simulation) -> list[tuple[timedelta, str, int]]:
    return [(f.at - OPENED, f.level, f.repeat) for f in sim.firings]


# -- scenarios ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "after", "value"),
    [
        ("ack at +3h", "ack", timedelta(hours=3), None),
        ("acknowledge at +45m", "ack", timedelta(minutes=45), None),
        ("resolve at +1d2h", "resolve", timedelta(days=1, hours=2), None),
        ("pause at +1h", "pause", timedelta(hours=1), None),
        ("resume at +5h", "resume", timedelta(hours=5), None),
        ("priority P1 at +2h", "priority", timedelta(hours=2), "P1"),
        ("customer-reply at +2h", "customer-reply", timedelta(hours=2), None),
        ("agent-reply at +2h30m", "agent-reply", timedelta(hours=2, minutes=30), None),
        ("impact 600 at +1h", "impact", timedelta(hours=1), 600),
        ("critical-service at +1h", "critical-service", timedelta(hours=1), None),
        ("attributes customer_tier=gold at +1h", "attributes", timedelta(hours=1), None),
        ("reassign payments at +1h", "reassign", timedelta(hours=1), "payments"),
        ("assign bob@example.com at +1h", "assign", timedelta(hours=1), "bob@example.com"),
        ("ACK AT 2026-11-16T14:00-05:00", "ack", timedelta(hours=3), None),
        ("resolve at 2026-11-17T16:00Z", "resolve", timedelta(days=1), None),
    ],
)
def test_event_forms(text: str, kind: str, after: timedelta, value: object) -> None:
    event = parse_event(text, OPENED)
    assert event.kind == kind
    assert event.at == OPENED + after
    assert event.at.utcoffset() == timedelta(0)
    assert event.text == text
    assert value in (None, event.priority, event.affected_users, event.team, event.assignee)


def test_attribute_events_carry_every_pair() -> None:
    event = parse_event("attributes customer_tier=gold,channel=phone at +1h", OPENED)
    assert event.attributes == {"customer_tier": "gold", "channel": "phone"}
    assert event.describe() == "attributes customer_tier=gold,channel=phone"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ack", "write WHAT at WHEN"),
        ("ack at", "write WHAT at WHEN"),
        ("snooze at +1h", "unknown event 'snooze'"),
        ("ack now at +1h", "ack takes no value (got 'now')"),
        ("priority at +1h", "priority needs a value, such as 'priority P1 at +2h'"),
        ("impact many at +1h", "'many' is not a number of affected users"),
        ("impact -3 at +1h", "'-3' is not a number of affected users"),
        ("ack at tomorrow", "'tomorrow' is neither +DURATION after opening"),
        ("ack at +3x", "'+3x' is not +DURATION"),
        ("ack at 2026-11-16T14:00", "has no zone"),
        ("attributes tier at +1h", "'tier' is not NAME=VALUE"),
        ("attributes Tier=gold at +1h", "'Tier' must be 1-64 lowercase letters"),
        ("assign bob at +1h", "assignee"),
        ("reassign Pay-Ments at +1h", "team"),
    ],
)
def test_a_bad_event_is_quoted_with_the_forms(text: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_event(text, OPENED)
    message = str(caught.value)
    assert message.startswith(f"event {text!r}: ")
    assert problem in message
    assert message.endswith(EVENT_FORMS)


def test_attributes_are_checked_as_a_tickets_are() -> None:
    assert parse_attributes("customer_tier=gold, channel = phone") == {
        "customer_tier": "gold",
        "channel": "phone",
    }
    with pytest.raises(ValueError, match="'=gold' is not NAME=VALUE"):
        parse_attributes("=gold")


# -- the timeline --------------------------------------------------------------------------------


def test_default_p2_climbs_the_whole_ladder() -> None:
    sim = run("P2")
    # 24x7: first response 1h (at risk at 75%), resolution 8h (at risk at 80%), the major
    # incident 2h after the breach and three repeats 30 minutes apart.
    assert timeline(sim) == [
        (timedelta(minutes=45), "response-at-risk", 0),
        (timedelta(hours=1), "response-breached", 0),
        (timedelta(hours=6, minutes=24), "resolution-at-risk", 0),
        (timedelta(hours=8), "resolution-breached", 0),
        (timedelta(hours=10), "major-incident", 0),
        (timedelta(hours=10, minutes=30), "major-incident", 1),
        (timedelta(hours=11), "major-incident", 2),
        (timedelta(hours=11, minutes=30), "major-incident", 3),
    ]
    at_risk = sim.firings[0]
    assert [(n.role, n.address, n.channel) for n in at_risk.recipients] == [
        ("assignee", "assignee@example.com", "email"),
        ("team_lead", "support-lead@example.com", "email"),
        ("team_lead", "slack-support", "slack-support"),
    ]
    assert all(f.delivery == "sent" and f.held_until is None for f in sim.firings)
    assert [(b.clock, b.at - OPENED) for b in sim.breaches] == [
        ("first_response", timedelta(hours=1)),
        ("resolution", timedelta(hours=8)),
    ]
    assert sim.clocks["resolution"].due_at == OPENED + timedelta(hours=8)
    assert sim.stopped == "idle"
    assert sim.zone == "America/New_York"  # the policy's calendars', though P2 runs 24x7


def test_team_overrides_and_no_assignee() -> None:
    at_risk = run("P2", team="payments", assignee=None).firings[0]
    assert [(n.role, n.address) for n in at_risk.recipients] == [
        ("team_lead", "payments-lead@example.com")
    ]


def test_quiet_hours_hold_the_managers_notice_until_morning() -> None:
    # The example of docs/policy-reference.md (Quiet hours): resolution breaches Wednesday
    # 18:00 in New York as the manager's hours close; the notice waits until Thursday 09:00.
    wednesday_18 = datetime(2026, 11, 18, 23, 0, tzinfo=UTC)
    thursday_09 = datetime(2026, 11, 19, 14, 0, tzinfo=UTC)
    sim = run("P3", until="+3d")
    (breach,) = [f for f in sim.firings if f.level == "resolution-breached"]
    assert (breach.at, breach.held_until, breach.part) == (wednesday_18, thursday_09, 1)
    assert [(n.role, n.address) for n in breach.recipients] == [
        ("manager", "support-manager@example.com")
    ]
    assert breach.delivery == "sent"  # released on Thursday morning
    assert run("P3", until="+2d9h").firings[-1].delivery == "held"
    resolved = run("P3", "resolve at +2d10h", until="+3d").firings[-1]
    assert (resolved.delivery, resolved.detail) == (
        "cancelled",
        "resolved before quiet hours ended",
    )
    assert "held for quiet hours until Thu 2026-11-19 09:00 EST (14:00Z)" in render_simulation(sim)


def test_events_move_the_clocks_as_updates_do() -> None:
    # Acknowledged in time: no response levels. Paused 2h to 5h: resolution counts 8h by +11h.
    sim = run("P2", "ack at +30m", "pause at +2h", "resume at +5h", until="+12h")
    assert timeline(sim) == [
        (timedelta(hours=9, minutes=24), "resolution-at-risk", 0),
        (timedelta(hours=11), "resolution-breached", 0),
    ]
    assert [e.outcome for e in sim.events] == ["applied"] * 3
    assert sim.clocks["first_response"].stopped_at == OPENED + timedelta(minutes=30)


def test_an_update_the_ticket_would_refuse_is_reported_not_applied() -> None:
    sim = run("P2", "resume at +1h", "resolve at +2h", "ack at +3h", "pause at +1d", until="+20h")
    assert [(e.outcome, e.detail) for e in sim.events] == [
        ("refused", "resume: the ticket is not paused (it is open)"),
        ("applied", None),
        ("refused", "acknowledge: ticket SIM-1 is already resolved"),
        ("not reached", None),
    ]
    assert sim.stopped == "resolved"
    assert sim.final_state == "resolved"


def test_impact_and_priority_events() -> None:
    sim = run("P3", "impact 600 at +10m", "priority P1 at +20m", until="+1h")
    # The major incident applies to P1 and P2 only: the impact counts once the ticket is P1.
    # The retarget keeps the 20 minutes of support hours already counted, past P1's 15-minute
    # response target, so both response levels fire at once too.
    assert timeline(sim)[:2] == [
        (timedelta(minutes=20), "response-at-risk", 0),
        (timedelta(minutes=20), "response-breached", 0),
    ]
    incident = [f for f in sim.firings if f.level == "major-incident"]
    assert [(f.at - OPENED, f.repeat) for f in incident] == [
        (timedelta(minutes=20), 0),
        (timedelta(minutes=50), 1),
    ]
    assert sim.final_priority == "P1"


def test_a_level_that_raises_the_priority_shows_its_action() -> None:
    demo = load_named_policy(default_policy_dir(), "demo")
    sim = simulate(demo, Scenario(priority="P2", opened_at=OPENED))
    (breach,) = [f for f in sim.firings if f.level == "resolution-breached"]
    assert breach.actions == ["priority P2 -> P1"]
    assert sim.final_priority == "P1"


def test_attributes_choose_the_plan_at_opening_and_later() -> None:
    policy = parse_policy(PLANS_YAML, "plans.yaml")
    gold = simulate(
        policy,
        Scenario(priority="P1", opened_at=OPENED, attributes={"customer_tier": "gold"}),
    )
    assert (gold.plan, [f.at - OPENED for f in gold.firings]) == (
        "gold",
        [timedelta(minutes=15)],
    )
    moved = simulate(
        policy,
        Scenario(
            priority="P1",
            opened_at=OPENED,
            events=[parse_event("attributes customer_tier=gold at +10m", OPENED)],
        ),
    )
    assert moved.plan == "default"
    assert moved.final_plan == "gold"
    assert moved.events[0].detail == "now on SLA plan gold"
    # The 10 minutes already counted stay counted against gold's 15.
    assert [f.at - OPENED for f in moved.firings] == [timedelta(minutes=15)]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"priority": "P9"}, "priority: 'P9' is not defined by policy 'default' v4"),
        ({"team": "Pay Ments"}, "team: 'Pay Ments' must be"),
        ({"assignee": "bob"}, "assignee: "),
        ({"until": OPENED}, "until: 2026-11-16T16:00:00+00:00 is not after the opening"),
        (
            {"events": [parse_event("ack at 2026-11-16T15:00Z", OPENED)]},
            "events: 'ack at 2026-11-16T15:00Z' at 2026-11-16T15:00:00+00:00 is before",
        ),
    ],
)
def test_a_scenario_the_ticket_could_not_open_with(
    changes: dict[str, object], problem: str
) -> None:
    scenario = Scenario.model_validate({"priority": "P2", "opened_at": OPENED} | changes)
    with pytest.raises(ScenarioError, match="^" + re.escape(problem)):
        simulate(POLICY, scenario)


def test_moments_show_wall_time_and_utc() -> None:
    assert moment(OPENED, "America/New_York") == "Mon 2026-11-16 11:00 EST (16:00Z)"
    late = OPENED + timedelta(hours=9, seconds=5)
    assert moment(late, "America/New_York") == "Mon 2026-11-16 20:00:05 EST (Tue 01:00:05Z)"
    assert moment(OPENED, "UTC") == "Mon 2026-11-16 16:00 UTC"


# -- compare -------------------------------------------------------------------------------------


def changed_policy() -> str:
    """The default policy with a tighter P2 response, a second manager, one repeat fewer and
    a new level at half the resolution target."""
    text = DEFAULT_YAML.replace("version: 4", "version: 5")
    text = text.replace("P2: {first_response: 1h,", "P2: {first_response: 30m,")
    text = text.replace(
        "  manager: [support-manager@example.com]",
        "  manager: [support-manager@example.com, boss@example.com]",
    )
    text = text.replace("repeat: {every: 30m, times: 3}", "repeat: {every: 30m, times: 2}")
    return text.replace(
        "  - name: resolution-at-risk\n",
        "  - name: resolution-half\n    when: {clock: resolution, at: 50%}\n"
        "    notify: [team_lead]\n  - name: resolution-at-risk\n",
    )


def test_compare_names_what_the_change_alters() -> None:
    scenario = Scenario(priority="P2", opened_at=OPENED)
    before = simulate(POLICY, scenario)
    after = simulate(parse_policy(changed_policy(), "candidate.yaml"), scenario)
    comparison = compare(before, after)
    assert [(c.level, c.repeat, c.kind) for c in comparison.firings] == [
        ("response-at-risk", 0, "earlier"),
        ("response-breached", 0, "earlier"),
        ("resolution-half", 0, "added"),
        ("resolution-breached", 0, "recipients"),
        ("major-incident", 0, "recipients"),
        ("major-incident", 1, "recipients"),
        ("major-incident", 2, "recipients"),
        ("major-incident", 3, "removed"),
    ]
    breached = comparison.firings[3]
    assert [(n.role, n.address) for n in breached.added] == [("manager", "boss@example.com")]
    assert breached.removed == []
    assert comparison.firings[0].after == OPENED + timedelta(minutes=22, seconds=30)
    assert [c.clock for c in comparison.clocks] == ["first_response"]
    text = render_comparison(comparison, "candidate.yaml")
    assert "response-at-risk (first notice): 22m30s earlier, +22m30s" in text
    assert "resolution-half (first notice): newly fires +4h" in text
    assert "added: manager boss@example.com" in text
    assert "major-incident (repeat 3): no longer fires" in text


def test_compare_with_itself_changes_nothing() -> None:
    scenario = Scenario(priority="P3", opened_at=OPENED, events=[parse_event("ack at +1h", OPENED)])
    comparison = compare(simulate(POLICY, scenario), simulate(POLICY, scenario))
    assert comparison.unchanged
    assert "no change" in render_comparison(comparison, "default")


def test_compare_shows_an_event_one_policy_refuses() -> None:
    scenario = Scenario(
        priority="P2", opened_at=OPENED, events=[parse_event("priority P4 at +1h", OPENED)]
    )
    three = DEFAULT_YAML.replace("  P4: {first_response: 8h, resolution: 40h,", "  #")
    three = three.replace("    - {priority: P4, clock: first_response, objective: 90%}\n", "")
    comparison = compare(simulate(POLICY, scenario), simulate(parse_policy(three, "x"), scenario))
    (event,) = comparison.events
    assert (event.before, event.after) == (
        "applied",
        "change_priority.priority: 'P4' is not defined by policy 'default'; defined: P1, P2, P3",
    )


# -- the command ---------------------------------------------------------------------------------


def test_command_prints_the_timeline(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*SIMULATE, "--priority", "P3", "--event", "ack at +1h", "--until", "+3d"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("Policy default v4: a P3 ticket of team support, SLA plan default")
    assert "      +1h  Mon 2026-11-16 12:00 EST (17:00Z)  event 'ack at +1h': applied" in out
    assert "    +2d7h  Wed 2026-11-18 18:00 EST (23:00Z)  resolution-breached (first notice)" in out
    assert "  first_response  4h on support-hours: stopped +1h Mon 2026-11-16 12:00 EST" in out
    assert "  resolution      24h on support-hours: due +2d7h" in out


def test_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*SIMULATE, "--priority", "P2", "--format", "json", "--until", "+2h"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [f["level"] for f in data["firings"]] == ["response-at-risk", "response-breached"]
    assert data["firings"][0]["recipients"][0] == {
        "role": "assignee",
        "address": "assignee@example.com",
        "channel": "email",
        "rotation": None,
    }
    assert data["stopped"] == "until"


def test_command_compare_with_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    candidate = tmp_path / "default.yaml"
    candidate.write_text(changed_policy(), encoding="utf-8")
    argv = [*SIMULATE, "--priority", "P2", "--compare", str(candidate)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"Compared with policy default v5 ({candidate}):" in out
    assert main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["after"]["policy_version"] == "5"
    assert data["firings"][0]["kind"] == "earlier"


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--priority", "P9"], 2, "--priority: 'P9' is not defined by policy 'default'"),
        (["--priority", "P1", "--event", "snooze at +1h"], 2, "--event 'snooze at +1h': unknown"),
        (["--priority", "P1", "--team", "Pay Ments"], 2, "--team: 'Pay Ments' must be"),
        (["--priority", "P1", "--attribute", "tier"], 2, "--attribute: 'tier' is not NAME=VALUE"),
        (["--priority", "P1", "--until", "+0s"], 2, "--until: 2026-11-16T16:00:00+00:00 is not"),
        (["--priority", "P1", "--until", "soon"], 2, "--until: 'soon' is neither +DURATION"),
        (["--priority", "P1", "--zone", "Mars/Base"], 2, "--zone: 'Mars/Base' is not an IANA"),
        (["--priority", "P1", "--affected-users", "-1"], 2, "--affected-users: "),
        (["--priority", "P1", "--compare", "nope"], 1, "no policy named 'nope'"),
    ],
)
def test_command_refuses_with_the_flag_at_fault(
    argv: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*SIMULATE, *argv]) == code
    err = capsys.readouterr().err
    assert err.startswith("escalations policy simulate: ")
    assert message in err


def test_command_compare_with_a_policy_that_lacks_the_priority(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    three = tmp_path / "three.yaml"
    three.write_text(
        DEFAULT_YAML.replace("  P4: {first_response: 8h, resolution: 40h,", "  #").replace(
            "    - {priority: P4, clock: first_response, objective: 90%}\n", ""
        ),
        encoding="utf-8",
    )
    assert main([*SIMULATE, "--priority", "P4", "--compare", str(three)]) == 1
    assert f"--compare {three}: --priority: 'P4' is not defined" in capsys.readouterr().err


def test_help_lists_the_event_forms(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "simulate", "--help"]) == 0
    assert "impact 600 at WHEN" in capsys.readouterr().out


# -- the operator guide's examples ------------------------------------------------------------

GUIDE = Path(__file__).parents[2] / "docs" / "operator-guide.md"


def guide_examples() -> list[tuple[list[str], str]]:
    """Each console example of the guide's simulation section: its arguments and its output."""
    section = GUIDE.read_text(encoding="utf-8").split("## Simulating a policy change", 1)[1]
    section = section.split("\n## ", 1)[0]
    examples = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.DOTALL):
        command, _, output = block.partition("\n    ")
        rest, _, output = output.partition("\n")
        argv = shlex.split(command.removeprefix("$ ").removesuffix("\\") + rest)
        examples.append((argv[1:], output))
    return examples


def test_the_guides_examples_are_what_the_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # The candidate the guide describes: P3's first response 3h, and P3 pages the manager.
    review = tmp_path / "review"
    review.mkdir()
    candidate = DEFAULT_YAML.replace("version: 4", "version: 5")
    candidate = candidate.replace("P3: {first_response: 4h,", "P3: {first_response: 3h,")
    candidate = candidate.replace("page_any_time: [P1, P2]}", "page_any_time: [P1, P2, P3]}")
    (review / "default.yaml").write_text(candidate, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    (plain, shown), (compared, shown_compared) = guide_examples()
    assert main(plain) == 0
    assert capsys.readouterr().out == shown
    assert main(compared) == 0
    out = capsys.readouterr().out
    assert shown_compared.startswith("...\n")
    assert out.endswith(shown_compared.removeprefix("...\n"))
