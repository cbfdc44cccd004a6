"""The escalation procedure as Markdown (CommonMark with GitHub tables), for docs and wikis.

Every string that comes from the policy passes through :func:`_text`, which backslash-escapes
the characters Markdown would read as markup (so ``<script>`` in a description stays text, and
``|`` cannot break a table) and replaces control characters.
"""

from __future__ import annotations

import re

from escalations.procedure.example_timeline import TimelineStep
from escalations.procedure.explain import ContactView, LevelView, PlanView, Procedure
from escalations.procedure.words import moment, moment_after, printable

# Characters Markdown may read as markup anywhere in a line; "_" only where it can open or
# close emphasis (not inside a word such as team_lead), and "#" only where a line starts.
_MARKUP = re.compile(r"[\\`*\[\]<>|&~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_BLOCK_MARKER = re.compile(r"^[-+=>#]")
_LIST_NUMBER = re.compile(r"^(\d+)([.)])")


def _text(value: str) -> str:
    """Policy text as one line of Markdown that reads as exactly that text."""
    return _MARKUP.sub(lambda match: "\\" + match[0], " ".join(printable(value).split()))


def _paragraphs(value: str) -> list[str]:
    """Free text (a description) as Markdown paragraphs, none of which can start a block."""
    found = []
    for chunk in re.split(r"\n\s*\n", printable(value)):
        line = _text(chunk)
        if line:
            line = _LIST_NUMBER.sub(r"\1\\\2", _BLOCK_MARKER.sub(r"\\\g<0>", line))
            found.append(line)
    return found


def render_markdown(procedure: Procedure) -> str:
    """The whole page, ending in a newline."""
    lines = [
        f"# Escalation procedure: {_text(procedure.name)} (version {_text(procedure.version)})"
    ]
    lines += [""]
    for paragraph in _paragraphs(procedure.description):
        lines += [paragraph, ""]
    if procedure.team is not None:
        lines += [
            f"Contacts as team **{_text(procedure.team)}** sees them: its own contacts replace "
            "the policy's where it has them.",
            "",
        ]
    lines += _targets(procedure)
    lines += _levels(procedure)
    lines += ["## When you are notified", ""]
    lines += [f"{i}. {step}" for i, step in enumerate(procedure.checklist, 1)] + [""]
    if procedure.rotations:
        lines += ["## On-call rotations", ""]
        lines += [f"- **{_text(r.name)}**: {_text(r.words)}" for r in procedure.rotations] + [""]
    if procedure.quiet_hours:
        lines += ["## Quiet hours", ""]
        lines += [f"- {_text(line)}" for line in procedure.quiet_hours] + [""]
    if procedure.team_overrides:
        lines += ["## Team overrides", ""]
        lines += [f"- {_text(line)}" for line in procedure.team_overrides] + [""]
    lines += _timelines(procedure)
    lines += ["## After resolution", "", _text(procedure.feedback), ""]
    if procedure.objectives:
        lines += ["## Service-level objectives", ""]
        lines += [f"- {_text(line)}" for line in procedure.objectives] + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _plan(plan: PlanView) -> list[str]:
    lines = [f"### Plan {_text(plan.name)}", ""]
    if plan.description:
        lines += [_text(plan.description), ""]
    lines += [f"{_text(plan.applies_to)}.", ""]
    lines += [
        "| Priority | First response | Resolution | Next reply | Counted on |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {_text(r.priority)} | {_text(r.first_response)} | {_text(r.resolution)} | "
        f"{_text(r.next_reply)} | {_text(r.calendar)} |"
        for r in plan.rows
    ]
    return [*lines, ""]


def _targets(procedure: Procedure) -> list[str]:
    lines = ["## Targets", ""]
    if len(procedure.plans) > 1:
        lines += [
            "A ticket takes the first plan below that matches it when it opens; the default plan "
            "takes the rest. Targets count business time on the calendar named beside them.",
            "",
        ]
    else:
        lines += ["Targets count business time on the calendar named beside them.", ""]
    for plan in procedure.plans:
        lines += _plan(plan)
    lines += ["### Calendars", ""]
    lines += [f"- **{_text(c.name)}**: {_text(c.words)}." for c in procedure.calendars]
    return [*lines, ""]


def _contact(contact: ContactView) -> str:
    line = f"{_text(contact.role)}: {_text(contact.address)} ({_text(contact.how)})"
    if contact.override is not None:
        line += f", the {_text(contact.override)} team's own contact"
    if contact.quiet is not None:
        line += f"; quiet hours: {_text(contact.quiet)}"
    return line


def _level(number: int, level: LevelView) -> list[str]:
    lines = [
        f"### {number}. {_text(level.name)}",
        "",
        f"- **When:** {_text(level.trigger)}.",
        f"- **For:** {_text(level.priorities)}.",
        "- **Who is contacted:**",
    ]
    lines += [f"  - {_contact(contact)}" for contact in level.contacts]
    if level.repeat is not None:
        lines.append(f"- **Repeats:** {_text(level.repeat)}")
    lines += [f"- **Also:** {_text(action)}" for action in level.actions]
    return [*lines, ""]


def _levels(procedure: Procedure) -> list[str]:
    lines = [
        "## Escalation levels",
        "",
        "Each level fires once when its trigger becomes true (then repeats, if it says so); "
        "levels due at the same moment fire in this order. Nothing escalates while a ticket is "
        "paused, and escalation ends when it is resolved.",
        "",
    ]
    for number, level in enumerate(procedure.levels, 1):
        lines += _level(number, level)
    return lines


def _step(step: TimelineStep, previous: TimelineStep | None) -> str:
    when = moment(step.at) if previous is None else moment_after(step.at, previous.at)
    line = f"- {when}: " + (f"**{_text(step.event)}**" if step.level else _text(step.event))
    if step.why:
        line += f" ({_text(step.why)})"
    if step.level:
        who = [", ".join(_text(n) for n in step.notifies)] if step.notifies else []
        if step.held:
            who.append(f"held for quiet hours: {', '.join(_text(h) for h in step.held)}")
        line += f": {'; '.join(who) or 'nobody to notify'}"
    if step.actions:
        line += f"; also: {', '.join(_text(a) for a in step.actions)}"
    return line


def _timelines(procedure: Procedure) -> list[str]:
    examples = procedure.examples
    if not examples.timelines and not examples.missing:
        return []
    lines = ["## Example timelines", "", _text(examples.intro), ""]
    lines += [line for note in examples.missing for line in (_text(note) + ".", "")]
    for timeline in examples.timelines:
        lines += [f"### {_text(timeline.priority)} (plan {_text(timeline.plan)})", ""]
        lines += [
            _step(step, timeline.steps[i - 1] if i else None)
            for i, step in enumerate(timeline.steps)
        ]
        lines += ["", _text(timeline.ending), ""]
    return lines
