"""The escalation procedure as one self-contained HTML page: inline CSS, no scripts, no links
out, so it can be mailed, printed or put on an intranet as it is.

Policy text is untrusted (a description, a contact, a plan's values): every such string passes
through :func:`_e`, which escapes it with :func:`html.escape` and replaces control characters.
"""

from __future__ import annotations

import html

from escalations.procedure.example_timeline import ExampleTimeline, TimelineStep
from escalations.procedure.explain import ContactView, LevelView, PlanView, Procedure
from escalations.procedure.words import moment, moment_after, printable

_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
  max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .25rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem;
  margin-top: 2rem; }
h3 { font-size: 1.05rem; margin-bottom: .3rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; }
.level { border: 1px solid #d0d7de; border-radius: 6px; padding: .2rem 1rem .6rem;
  margin: .8rem 0; }
.muted { color: #59636e; }
.when { white-space: nowrap; }
ol.checklist li { margin: .3rem 0; }
@media print { body { margin: 0; } .level { break-inside: avoid; } }
"""


def _e(value: str) -> str:
    """Policy text, escaped for HTML and free of control characters."""
    return html.escape(printable(value), quote=True)


def render_html(procedure: Procedure) -> str:
    """The whole page, ending in a newline."""
    title = f"Escalation procedure: {_e(procedure.name)} (version {_e(procedure.version)})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No scripts, styles only from this page: a hostile policy string that escaped the
        # escaping would still run nothing.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'\">",
        f"<title>{title}</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
    ]
    parts += [
        f"<p>{_e(chunk)}</p>" for chunk in procedure.description.split("\n\n") if chunk.strip()
    ]
    if procedure.team is not None:
        parts.append(
            f"<p>Contacts as team <strong>{_e(procedure.team)}</strong> sees them: its own "
            "contacts replace the policy's where it has them.</p>"
        )
    parts += _targets(procedure)
    parts += _levels(procedure)
    parts += ["<h2>When you are notified</h2>", '<ol class="checklist">']
    parts += [f"<li>{_e(step)}</li>" for step in procedure.checklist] + ["</ol>"]
    if procedure.rotations:
        parts += ["<h2>On-call rotations</h2>", "<ul>"]
        parts += [
            f"<li><strong>{_e(r.name)}</strong>: {_e(r.words)}</li>" for r in procedure.rotations
        ]
        parts.append("</ul>")
    for heading, lines in (
        ("Quiet hours", procedure.quiet_hours),
        ("Team overrides", procedure.team_overrides),
    ):
        if lines:
            parts += [f"<h2>{heading}</h2>", "<ul>"]
            parts += [f"<li>{_e(line)}</li>" for line in lines] + ["</ul>"]
    parts += _timelines(procedure)
    parts += ["<h2>After resolution</h2>", f"<p>{_e(procedure.feedback)}</p>"]
    if procedure.objectives:
        parts += ["<h2>Service-level objectives</h2>", "<ul>"]
        parts += [f"<li>{_e(line)}</li>" for line in procedure.objectives] + ["</ul>"]
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _plan(plan: PlanView) -> list[str]:
    parts = [f"<h3>Plan {_e(plan.name)}</h3>"]
    if plan.description:
        parts.append(f"<p>{_e(plan.description)}</p>")
    parts += [
        f'<p class="muted">{_e(plan.applies_to)}.</p>',
        "<table>",
        "<tr><th>Priority</th><th>First response</th><th>Resolution</th><th>Next reply</th>"
        "<th>Counted on</th></tr>",
    ]
    parts += [
        f"<tr><td>{_e(r.priority)}</td><td>{_e(r.first_response)}</td><td>{_e(r.resolution)}"
        f"</td><td>{_e(r.next_reply)}</td><td>{_e(r.calendar)}</td></tr>"
        for r in plan.rows
    ]
    return [*parts, "</table>"]


def _targets(procedure: Procedure) -> list[str]:
    parts = ["<h2>Targets</h2>"]
    if len(procedure.plans) > 1:
        parts.append(
            "<p>A ticket takes the first plan below that matches it when it opens; the default "
            "plan takes the rest. Targets count business time on the calendar named beside "
            "them.</p>"
        )
    else:
        parts.append("<p>Targets count business time on the calendar named beside them.</p>")
    for plan in procedure.plans:
        parts += _plan(plan)
    parts += ["<h3>Calendars</h3>", "<ul>"]
    parts += [
        f"<li><strong>{_e(c.name)}</strong>: {_e(c.words)}.</li>" for c in procedure.calendars
    ]
    return [*parts, "</ul>"]


def _contact(contact: ContactView) -> str:
    notes = []
    if contact.override is not None:
        notes.append(f"the {_e(contact.override)} team's own contact")
    if contact.quiet is not None:
        notes.append(f"quiet hours: {_e(contact.quiet)}")
    return (
        f"<tr><td>{_e(contact.role)}</td><td>{_e(contact.address)}</td>"
        f"<td>{_e(contact.how)}</td><td>{'; '.join(notes)}</td></tr>"
    )


def _level(number: int, level: LevelView) -> list[str]:
    parts = [
        '<section class="level">',
        f"<h3>{number}. {_e(level.name)}</h3>",
        f"<p><strong>When:</strong> {_e(level.trigger)}.<br>",
        f"<strong>For:</strong> {_e(level.priorities)}.</p>",
        "<table>",
        "<tr><th>Role</th><th>Contact</th><th>Through</th><th>Notes</th></tr>",
    ]
    parts += [_contact(contact) for contact in level.contacts]
    parts.append("</table>")
    if level.repeat is not None:
        parts.append(f"<p><strong>Repeats:</strong> {_e(level.repeat)}</p>")
    parts += [f"<p><strong>Also:</strong> {_e(action)}</p>" for action in level.actions]
    return [*parts, "</section>"]


def _levels(procedure: Procedure) -> list[str]:
    parts = [
        "<h2>Escalation levels</h2>",
        "<p>Each level fires once when its trigger becomes true (then repeats, if it says so); "
        "levels due at the same moment fire in this order. Nothing escalates while a ticket is "
        "paused, and escalation ends when it is resolved.</p>",
    ]
    for number, level in enumerate(procedure.levels, 1):
        parts += _level(number, level)
    return parts


def _step(step: TimelineStep, previous: TimelineStep | None) -> str:
    when = moment(step.at) if previous is None else moment_after(step.at, previous.at)
    what = f"<strong>{_e(step.event)}</strong>" if step.level else _e(step.event)
    parts = [", ".join(_e(n) for n in step.notifies)] if step.notifies else []
    if step.held:
        parts.append(f"held for quiet hours: {', '.join(_e(h) for h in step.held)}")
    who = "; ".join(parts)
    if step.level and not who:
        who = '<span class="muted">nobody to notify</span>'
    why = _e(step.why)
    if step.actions:
        why += f"; also: {', '.join(_e(a) for a in step.actions)}"
    return f'<tr><td class="when">{_e(when)}</td><td>{what}</td><td>{why}</td><td>{who}</td></tr>'


def _timeline(timeline: ExampleTimeline) -> list[str]:
    parts = [
        f"<h3>{_e(timeline.priority)} (plan {_e(timeline.plan)})</h3>",
        "<table>",
        "<tr><th>When</th><th>What</th><th>Why</th><th>Notified</th></tr>",
    ]
    parts += [
        _step(step, timeline.steps[i - 1] if i else None) for i, step in enumerate(timeline.steps)
    ]
    return [*parts, "</table>", f'<p class="muted">{_e(timeline.ending)}</p>']


def _timelines(procedure: Procedure) -> list[str]:
    examples = procedure.examples
    if not examples.timelines and not examples.missing:
        return []
    parts = ["<h2>Example timelines</h2>", f"<p>{_e(examples.intro)}</p>"]
    parts += [f"<p>{_e(note)}.</p>" for note in examples.missing]
    for timeline in examples.timelines:
        parts += _timeline(timeline)
    return parts
