"""What an escalation notice says: subject, plain text and HTML bodies, template data.

Pure functions of a ``NotificationRequest``; no I/O. Every ticket field arrives from outside
(customers type titles, integrations fill in names), so every field is treated as hostile:
control characters are removed, long values are cut with a visible marker, and the HTML body
escapes everything it did not write itself.
"""

from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from activities.models import ClockSnapshot, NotificationRequest
from policies.durations import format_duration, format_target
from policies.zones import zone

TRUNCATION_MARKER = "… [truncated]"
"""Appended to any value that was cut, so a reader knows text is missing."""

MAX_SUBJECT_LENGTH = 200
"""Longest subject written; mail clients show far less, and some servers reject long lines."""

MAX_FIELD_LENGTH = 2000
"""Longest single field in a body; keeps a hostile or runaway title from bloating the mail."""

# Short pieces of the subject are capped on their own, so the title cannot push the level
# (the part a reader acts on) out of a bounded subject.
_MAX_SUBJECT_PART = 40
_MISSING = "—"

# Line breaks and C0/C1 controls become spaces; invisible format characters (bidi overrides
# can make a title read backwards) are dropped; lone surrogates, which cannot be encoded as
# UTF-8 and would fail every retry, become the replacement character.
_REPLACEMENTS = {"Cc": " ", "Zl": " ", "Zp": " ", "Cf": "", "Cs": "\ufffd"}


@dataclass(frozen=True)
class RenderedEmail:
    """An escalation notice ready to hand to any transport.

    Attributes:
        subject: One line, no control characters, at most ``MAX_SUBJECT_LENGTH`` characters.
        text: The plain-text body.
        html: The HTML body; every value taken from the request is escaped.
    """

    subject: str
    text: str
    html: str


def truncate(value: str, limit: int) -> str:
    """Cut ``value`` to at most ``limit`` characters, ending with ``TRUNCATION_MARKER`` if cut."""
    if len(value) <= limit:
        return value
    if limit <= len(TRUNCATION_MARKER):
        return value[:limit]
    return value[: limit - len(TRUNCATION_MARKER)].rstrip() + TRUNCATION_MARKER


def single_line(value: str) -> str:
    """Turn text into one line: controls and line breaks become spaces, runs of space one.

    This is what makes header injection impossible (no CR or LF survives) and keeps a value
    from forging extra ``Label: value`` lines in a body.
    """
    return " ".join("".join(_REPLACEMENTS.get(unicodedata.category(c), c) for c in value).split())


def clean_field(value: str, limit: int = MAX_FIELD_LENGTH) -> str:
    """One hostile value made safe to show: single line, bounded length."""
    return truncate(single_line(value), limit)


def render_subject(request: NotificationRequest) -> str:
    """The subject line, e.g. ``[P1] T-1042 Checkout down: response-breached (repeat 2)``.

    The title gives way first when the subject would be too long.
    """
    ticket = request.ticket
    priority = clean_field(ticket.priority, _MAX_SUBJECT_PART)
    ticket_id = clean_field(ticket.ticket_id, _MAX_SUBJECT_PART)
    level = clean_field(request.level, _MAX_SUBJECT_PART)
    prefix = f"[{priority}] {ticket_id} "
    suffix = f": {level}" + (f" (repeat {request.repeat})" if request.repeat > 0 else "")
    room = MAX_SUBJECT_LENGTH - len(prefix) - len(suffix)
    title = clean_field(ticket.title, max(room, 0))
    return truncate(single_line(prefix + title + suffix), MAX_SUBJECT_LENGTH)


def format_moment(value: datetime | None) -> str:
    """A timestamp as people read it; aware times are shown in UTC, ``None`` as a dash."""
    if value is None:
        return _MISSING
    if value.tzinfo is not None:
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return value.isoformat(sep=" ", timespec="seconds")


def format_local(value: datetime | None, timezone: str) -> str:
    """A due time in the calendar's own zone, with UTC alongside for everyone else."""
    if value is None or timezone == "UTC" or value.tzinfo is None:
        return format_moment(value)
    local = value.astimezone(zone(timezone))
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({timezone}; {format_moment(value)})"


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def overview_rows(request: NotificationRequest) -> list[tuple[str, str]]:
    """The labelled facts of a notice, in reading order, already cleaned."""
    ticket = request.ticket
    rows = [
        ("Ticket", ticket.ticket_id),
        ("Title", ticket.title),
        ("Priority", ticket.priority),
        ("Team", ticket.team),
        ("Customer", ticket.customer),
        ("Requester", ticket.requester),
        ("Assignee", ticket.assignee or "unassigned"),
        ("Affected users", str(ticket.affected_users)),
        ("Critical service", _yes_no(ticket.critical_service)),
        ("State", ticket.state),
        ("Opened at", format_moment(ticket.opened_at)),
        ("Level", request.level),
        ("Repeat", str(request.repeat)),
        ("Reason", request.reason),
        ("Due at", format_moment(request.due_at)),
        ("Policy", f"{request.policy} (version {request.policy_version})"),
    ]
    return [(label, clean_field(value)) for label, value in rows]


def clock_row(clock: ClockSnapshot) -> dict[str, str]:
    return {
        "clock": clean_field(clock.clock),
        "target": format_target(clock.target),
        "elapsed": format_duration(clock.elapsed),
        "due_at": format_local(clock.due_at, clock.timezone),
        "breached": _yes_no(clock.breached),
        "stopped": _yes_no(clock.stopped),
    }


def render_text(request: NotificationRequest) -> str:
    """The plain-text body: one ``Label: value`` line per fact, then one line per clock."""
    lines = [f"{label}: {value}" for label, value in overview_rows(request)]
    if request.clocks:
        lines += ["", "SLA clocks:"]
        for row in map(clock_row, request.clocks):
            lines.append(
                f"- {row['clock']}: target {row['target']}, elapsed {row['elapsed']}, "
                f"due {row['due_at']}, breached {row['breached']}, stopped {row['stopped']}"
            )
    return "\n".join(lines) + "\n"


def render_html(request: NotificationRequest) -> str:
    """The HTML body: the same facts as the text body, every value escaped."""
    esc = html.escape
    heading = esc(render_subject(request))
    facts = "\n".join(
        f'<tr><th align="left">{esc(label)}</th><td>{esc(value)}</td></tr>'
        for label, value in overview_rows(request)
    )
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><title>' + heading + "</title></head><body>",
        f"<h1>{heading}</h1>",
        f"<table>\n{facts}\n</table>",
    ]
    if request.clocks:
        names = ("Clock", "Target", "Elapsed", "Due", "Breached", "Stopped")
        header = "".join(f"<th>{name}</th>" for name in names)
        rows = "\n".join(
            "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row.values()) + "</tr>"
            for row in map(clock_row, request.clocks)
        )
        parts.append(f"<h2>SLA clocks</h2>\n<table>\n<tr>{header}</tr>\n{rows}\n</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_email(request: NotificationRequest) -> RenderedEmail:
    """Render the subject and both bodies of one notice."""
    return RenderedEmail(
        subject=render_subject(request),
        text=render_text(request),
        html=render_html(request),
    )


def template_data(request: NotificationRequest) -> dict[str, Any]:
    """Data for a SendGrid dynamic template: plain JSON values, cleaned like the bodies.

    Strings are display-ready (durations as ``1h30m``, times in UTC) so a template needs no
    helpers; SendGrid's ``{{ }}`` escapes them in HTML.
    """
    ticket = request.ticket
    return {
        "subject": render_subject(request),
        "ticket": {
            "id": clean_field(ticket.ticket_id),
            "title": clean_field(ticket.title),
            "priority": clean_field(ticket.priority),
            "team": clean_field(ticket.team),
            "customer": clean_field(ticket.customer),
            "requester": clean_field(ticket.requester),
            "assignee": clean_field(ticket.assignee) if ticket.assignee else None,
            "affected_users": ticket.affected_users,
            "critical_service": ticket.critical_service,
            "state": clean_field(ticket.state),
            "opened_at": format_moment(ticket.opened_at),
        },
        "level": clean_field(request.level),
        "repeat": request.repeat,
        "reason": clean_field(request.reason),
        "due_at": format_moment(request.due_at),
        "policy": clean_field(request.policy),
        "policy_version": clean_field(request.policy_version),
        "clocks": [
            {**clock_row(clock), "breached": clock.breached, "stopped": clock.stopped}
            for clock in request.clocks
        ],
    }
