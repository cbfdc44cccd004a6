"""The report as plain-text tables for a terminal (``--format table``, the default)."""

from __future__ import annotations

from collections.abc import Sequence

from reports.report_model import Bottleneck, GroupFigures, PauseExample, Report

TOP = 5
"""Bottleneck rows shown per kind; the JSON, CSV and HTML outputs have all of them."""


def duration(seconds: float | None) -> str:
    """``3d 4h``, ``2h 05m``, ``4m 10s``, ``12s``: two units, enough to compare at a glance."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def percent(share: float | None, digits: int = 1) -> str:
    """``97.5%`` (``-`` for no value)."""
    return "-" if share is None else f"{share * 100:.{digits}f}%"


def number(value: float | None, digits: int = 2) -> str:
    """A value with ``digits`` decimals (``-`` for no value)."""
    return "-" if value is None else f"{value:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell; numbers (all but the first column) right-aligned."""
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _group_row(group: GroupFigures) -> list[str]:
    b = group.breaches
    return [
        group.group,
        str(group.opened),
        str(group.resolved),
        str(group.reopened),
        duration(group.first_response.p50),
        duration(group.first_response.p90),
        duration(group.first_response.p99),
        duration(group.resolution.p50),
        duration(group.resolution.p90),
        duration(group.resolution.p99),
        f"{b['first_response']}/{b['resolution']}/{b['next_reply']}",
        str(sum(group.escalations.values())),
        duration(group.paused.mean_seconds),
        number(group.csat.mean),
        percent(group.csat.response_rate, 0),
    ]


def _bottleneck_rows(rows: Sequence[Bottleneck]) -> list[list[str]]:
    return [
        [r.name, str(r.tickets), str(r.breaches), percent(r.breach_rate), str(r.escalations)]
        for r in rows[:TOP]
    ]


def _pause_rows(examples: Sequence[PauseExample]) -> list[list[str]]:
    return [
        [
            e.ticket_id,
            e.team,
            e.priority,
            e.start.strftime("%Y-%m-%d %H:%M"),
            duration(e.seconds),
            # One line per pause whatever the reason holds (it is ticket text).
            e.reason.replace("\n", " ")[:40],
        ]
        for e in examples[:TOP]
    ]


def render_text(report: Report) -> str:
    """The report as text: figures per group, SLO attainment, bottlenecks, pause patterns."""
    out = [
        f"Ticket report: opened {report.range_from.isoformat()} to {report.range_to.isoformat()}"
        f", by {report.group_by} (generated {report.generated_at.isoformat(timespec='seconds')})",
        "Times are business time: p50/p90/p99 nearest rank. Breaches: first response/"
        "resolution/next reply.",
        "",
    ]
    header = [
        report.group_by,
        "opened",
        "resolved",
        "reopened",
        "resp p50",
        "resp p90",
        "resp p99",
        "resol p50",
        "resol p90",
        "resol p99",
        "breaches",
        "escal.",
        "paused avg",
        "CSAT",
        "CSAT rate",
    ]
    rows = [_group_row(g) for g in report.groups]
    out += table(header, [*rows, _group_row(report.total)])
    out += ["", "SLO attainment (tickets whose clock stopped)", ""]
    attainment = [
        [
            group.group,
            f"{a.policy}:{a.key}",
            f"{a.met}/{a.measured}",
            percent(a.attainment, 2),
            f"{a.objective:g}%",
            percent(a.error_budget_left),
        ]
        for group in [*report.groups, report.total]
        for a in group.attainment
    ]
    out += table(
        [report.group_by, "objective", "met", "attained", "objective", "budget left"], attainment
    )
    levels = report.total.escalations
    if levels:
        out += ["", "Escalations per level: " + ", ".join(f"{k} {v}" for k, v in levels.items())]
    bottlenecks = report.bottlenecks
    for title, rows_of in (
        ("teams", bottlenecks.teams),
        ("priorities", bottlenecks.priorities),
        ("levels", bottlenecks.levels),
    ):
        if rows_of:
            out += ["", f"Bottlenecks: {title} by breaches", ""]
            out += table(
                [
                    title[:-1] if title != "priorities" else "priority",
                    "tickets",
                    "breaches",
                    "breached",
                    "escal.",
                ],
                _bottleneck_rows(rows_of),
            )
    out += [
        "",
        f"Pauses: {bottlenecks.paused_after_customer_reply} began right after a customer "
        f"reply; {bottlenecks.long_pauses} lasted {duration(bottlenecks.long_pause_seconds)} "
        "or more.",
    ]
    pause_header = ["ticket", "team", "priority", "paused at", "for", "reason"]
    if bottlenecks.after_customer_reply_examples:
        out += ["", "Paused right after a customer reply (longest first)", ""]
        out += table(pause_header, _pause_rows(bottlenecks.after_customer_reply_examples))
    if bottlenecks.long_pause_examples:
        out += ["", "Long pauses (longest first)", ""]
        out += table(pause_header, _pause_rows(bottlenecks.long_pause_examples))
    if report.unknown_policies:
        out += [
            "",
            "Not in SLO figures (policy file not found): " + ", ".join(report.unknown_policies),
        ]
    return "\n".join(out) + "\n"
