"""Random ladder scripts: a policy and a sequence of updates per seed, for
:mod:`tests.workflows.test_ladder_generated`.

A policy has levels on the three clocks (at shares of the target, before or after the breach),
on impact fields and the priority, ``any``/``all`` mixes of those, repeats with small ``every``
and ``times``, ``set_priority`` actions and ``priorities`` restrictions; every priority runs
24x7. The updates are those a helpdesk reports as they happen (no ``at``), each valid where the
ticket stands when it arrives.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from tests.workflows.ladder_reference import (
    AllOf,
    AnyOf,
    Clock,
    ClockPart,
    Condition,
    Event,
    EventKind,
    Facts,
    FieldPart,
    LevelRule,
    PolicyRules,
    Targets,
)

PRIORITIES = ("P1", "P2", "P3")


def _seconds(*values: int) -> list[timedelta]:
    return [timedelta(seconds=v) for v in values]


# Targets are multiples of 20 s, so every share below is a whole number of seconds.
FIRST_RESPONSE = _seconds(120, 180, 240, 300, 400)
RESOLUTION = _seconds(480, 720, 960, 1500)
NEXT_REPLY = _seconds(120, 180, 240, 300)
SHARES = (25, 50, 75, 100, 150, 200)
# Some longer than a target: the threshold is then the clock's start.
BEFORE_BREACH = _seconds(30, 60, 180, 300)
AFTER_BREACH = _seconds(30, 60, 180)
EVERY = _seconds(30, 60, 90, 120)


@dataclass(frozen=True)
class Step:
    """One update, sent ``gap`` after the previous one (or the opening)."""

    gap: timedelta
    event: Event  # its ``at`` is filled in once the workflow has applied it


@dataclass(frozen=True)
class Script:
    """One ticket: its policy, the facts it opens with, its updates, and how long it runs
    after the last one."""

    seed: int
    policy: PolicyRules
    facts: Facts
    steps: list[Step]
    tail: timedelta


# -- generation --------------------------------------------------------------------------------


def _clock_part(rng: random.Random) -> ClockPart:
    clock: Clock = rng.choice(["first_response", "resolution", "next_reply"])
    kind = rng.choices(["at", "before", "after"], weights=[4, 1, 1])[0]
    if kind == "at":
        return ClockPart(clock, percent=rng.choice(SHARES))
    if kind == "before":
        return ClockPart(clock, before_breach=rng.choice(BEFORE_BREACH))
    return ClockPart(clock, after_breach=rng.choice(AFTER_BREACH))


def _field_part(rng: random.Random) -> FieldPart:
    roll = rng.random()
    if roll < 0.3:
        return FieldPart("critical_service", "eq", rng.random() < 0.8)
    if roll < 0.45:
        if rng.random() < 0.5:
            return FieldPart("priority", "eq", rng.choice(PRIORITIES))
        return FieldPart("priority", "in", tuple(sorted(rng.sample(PRIORITIES, 2))))
    return FieldPart(
        "affected_users", rng.choice(["gte", "gt", "lte", "lt"]), rng.choice([10, 500])
    )


def _condition(rng: random.Random, depth: int = 0) -> Condition:
    roll = rng.random()
    if roll < (0.4, 0.15, 0.0)[depth]:
        parts = tuple(_condition(rng, depth + 1) for _ in range(rng.randint(2, 3)))
        return AnyOf(parts) if rng.random() < 0.5 else AllOf(parts)
    return _clock_part(rng) if rng.random() < 0.65 else _field_part(rng)


def _level(rng: random.Random, index: int) -> LevelRule:
    repeat = rng.random() < 0.6
    return LevelRule(
        name=f"level-{index}",
        when=_condition(rng),
        every=rng.choice(EVERY) if repeat else None,
        times=rng.randint(1, 3) if repeat else 0,
        set_priority=rng.choice(PRIORITIES) if rng.random() < 0.2 else None,
        priorities=tuple(sorted(rng.sample(PRIORITIES, rng.randint(1, 2))))
        if rng.random() < 0.25
        else None,
    )


def _impact(rng: random.Random, at: datetime) -> Event:
    users = rng.choice([1, 10, 11, 499, 500, 800])
    critical = rng.random() < 0.5
    which = rng.randint(0, 2)
    return Event(
        at,
        "update_impact",
        affected_users=users if which != 1 else None,
        critical_service=critical if which != 0 else None,
    )


_WEIGHTS: dict[str, dict[EventKind, int]] = {
    "live": {
        "pause": 2,
        "change_priority": 2,
        "update_impact": 2,
        "acknowledge": 1,
        "customer_replied": 3,
        "agent_replied": 3,
        "resolve": 1,
    },
    "paused": {
        "resume": 3,
        "change_priority": 1,
        "update_impact": 1,
        "acknowledge": 1,
        "customer_replied": 2,
        "agent_replied": 1,
        "resolve": 1,
    },
}


def generate(seed: int) -> Script:
    """The policy and updates of one ticket; the same for the same seed."""
    rng = random.Random(seed)
    targets = {
        p: Targets(rng.choice(FIRST_RESPONSE), rng.choice(RESOLUTION), rng.choice(NEXT_REPLY))
        for p in PRIORITIES
    }
    levels = tuple(_level(rng, i) for i in range(rng.randint(2, 5)))
    policy = PolicyRules(f"ladder-gen-{seed}", targets, levels)
    facts = Facts(rng.choice(PRIORITIES), rng.choice([1, 1, 600]), rng.random() < 0.2)
    unset = datetime.min.replace(tzinfo=UTC)
    steps: list[Step] = []
    state = "live"
    for _ in range(rng.randint(4, 10)):
        gap = timedelta(seconds=rng.choice([rng.randint(3, 20), rng.randint(20, 300)]))
        gap += timedelta(milliseconds=rng.randint(0, 999))
        if state == "resolved":
            kind: EventKind = "reopen"
        else:
            weights = _WEIGHTS[state]
            kind = rng.choices(list(weights), weights=list(weights.values()))[0]
        if kind == "change_priority":
            event = Event(unset, kind, priority=rng.choice(PRIORITIES))
        elif kind == "update_impact":
            event = _impact(rng, unset)
        else:
            event = Event(unset, kind)
        steps.append(Step(gap, event))
        state = {"pause": "paused", "resolve": "resolved"}.get(
            kind, "live" if kind in ("resume", "customer_replied", "reopen") else state
        )
    return Script(seed, policy, facts, steps, timedelta(seconds=rng.randint(300, 1200)))


def _duration(value: timedelta) -> str:
    return f"{int(value.total_seconds())}s"


def _condition_document(condition: Condition) -> dict[str, Any]:
    if isinstance(condition, ClockPart):
        if condition.percent is not None:
            return {"clock": condition.clock, "at": f"{condition.percent}%"}
        if condition.before_breach is not None:
            return {"clock": condition.clock, "before_breach": _duration(condition.before_breach)}
        assert condition.after_breach is not None
        return {"clock": condition.clock, "after_breach": _duration(condition.after_breach)}
    if isinstance(condition, FieldPart):
        value = condition.value
        return {
            "field": condition.field,
            condition.op: list(value) if isinstance(value, tuple) else value,
        }
    key = "any" if isinstance(condition, AnyOf) else "all"
    return {key: [_condition_document(c) for c in condition.parts]}


def policy_document(policy: PolicyRules) -> str:
    """The policy file (YAML) the workflow loads for ``policy``."""
    levels: list[dict[str, Any]] = []
    for level in policy.levels:
        document: dict[str, Any] = {
            "name": level.name,
            "when": _condition_document(level.when),
            "notify": ["assignee"],
        }
        if level.every is not None:
            document["repeat"] = {"every": _duration(level.every), "times": level.times}
        if level.set_priority is not None:
            document["set_priority"] = level.set_priority
        if level.priorities is not None:
            document["priorities"] = list(level.priorities)
        levels.append(document)
    targets = {
        p: {
            "first_response": _duration(t.first_response),
            "resolution": _duration(t.resolution),
            "next_reply": _duration(t.next_reply),
        }
        for p, t in policy.targets.items()
    }
    return yaml.safe_dump(
        {"name": policy.name, "version": 1, "targets": targets, "levels": levels}, sort_keys=False
    )
