"""The report as one self-contained HTML page (``--format html``; the weekly report email).

Inline CSS and inline SVG only: no script, font, image or stylesheet from elsewhere, so the page
renders the same from a file, in an email client, and offline, and it reveals nothing to a third
party when opened. Every piece of ticket text (group names, customers, teams, pause reasons) goes
through :func:`html.escape`: a customer name is not trusted markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from reports.render_text import duration, number, percent
from reports.report_model import (
    Bottleneck,
    GroupFigures,
    Histogram,
    PauseExample,
    Report,
    TimelinePoint,
)

GOOD, BAD, NEUTRAL, LINE = "#2e7d32", "#c62828", "#546e7a", "#1565c0"
CLOCK_COLOURS = {"first_response": "#ef6c00", "resolution": "#c62828", "next_reply": "#6a1b9a"}
BAR_ROWS = 15
"""Bars per bar chart (the highest); the tables below them list every row."""

CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:14px;margin:12px 0 4px}.muted{color:#666}
table{border-collapse:collapse;margin:6px 0 12px}th,td{padding:3px 8px;border-bottom:1px solid #eee}
th{text-align:left;background:#f5f5f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.total td{font-weight:600;border-top:2px solid #999}.bad{color:#c62828}.good{color:#2e7d32}
.charts{display:flex;flex-wrap:wrap;gap:16px}.chart{border:1px solid #eee;padding:8px}
svg text{font:11px system-ui,sans-serif;fill:#333}
"""


def _cell(value: str, numeric: bool = True, cls: str = "") -> str:
    classes = " ".join(c for c in ("n" if numeric else "", cls) if c)
    attr = f' class="{classes}"' if classes else ""
    return f"<td{attr}>{escape(value)}</td>"


def _table(header: Sequence[str], rows: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _group_row(group: GroupFigures, total: bool = False) -> str:
    b = group.breaches
    cells = [
        _cell(group.group, numeric=False),
        *(_cell(str(v)) for v in (group.opened, group.resolved, group.reopened)),
        *(
            _cell(duration(getattr(d, f)))
            for d in (group.first_response, group.resolution)
            for f in ("mean", "p50", "p90", "p99")
        ),
        *(_cell(str(b[c])) for c in ("first_response", "resolution", "next_reply")),
        _cell(str(sum(group.escalations.values()))),
        _cell(duration(group.paused.total_seconds)),
        _cell(duration(group.paused.mean_seconds)),
        _cell(number(group.csat.mean)),
        _cell(percent(group.csat.response_rate, 0)),
    ]
    return f"<tr{' class=total' if total else ''}>{''.join(cells)}</tr>"


def _attainment_rows(groups: Sequence[GroupFigures]) -> list[str]:
    rows = []
    for group in groups:
        for a in group.attainment:
            ok = a.attainment is not None and a.attainment * 100 >= a.objective
            budget = a.error_budget_left
            rows.append(
                "<tr>"
                + _cell(group.group, numeric=False)
                + _cell(f"{a.policy}:{a.key}", numeric=False)
                + _cell(f"{a.met}/{a.measured}")
                + _cell(percent(a.attainment, 2), cls="good" if ok else "bad")
                + _cell(f"{a.objective:g}%")
                + _cell(percent(budget), cls="bad" if budget is not None and budget < 0 else "")
                + "</tr>"
            )
    return rows


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def timeline_chart(points: Sequence[TimelinePoint], unit: str) -> str:
    """Attainment per day or week of one objective (a line) against the objective (dashed)."""
    width, height, left, bottom, top = 360, 190, 40, 30, 24
    objective = points[0].objective
    lowest = min([objective, *(p.attainment * 100 for p in points if p.attainment is not None)])
    floor = max(0.0, (lowest - 5) // 10 * 10)
    plot_w, plot_h = width - left - 10, height - bottom - top

    def y(value: float) -> float:
        return top + plot_h * (1 - (value - floor) / (100 - floor))

    def x(i: int) -> float:
        return left + (plot_w * i / (len(points) - 1) if len(points) > 1 else plot_w / 2)

    body = [f'<text x="{left}" y="14">{escape(points[0].policy)}:{escape(points[0].key)}</text>']
    for tick in (floor, (floor + 100) / 2, 100.0):
        body.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="#eee"/><text x="{left - 4}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:g}%</text>'
        )
    body.append(
        f'<line x1="{left}" x2="{width - 10}" y1="{y(objective):.1f}" y2="{y(objective):.1f}" '
        f'stroke="{BAD}" stroke-dasharray="4 3"/>'
        f'<text x="{width - 10}" y="{y(objective) - 3:.1f}" text-anchor="end" '
        f'fill="{BAD}">objective {objective:g}%</text>'
    )
    coords = [
        (x(i), y(p.attainment * 100), p) for i, p in enumerate(points) if p.attainment is not None
    ]
    body.append(
        f'<polyline fill="none" stroke="{LINE}" stroke-width="1.5" points="'
        + " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _ in coords)
        + '"/>'
    )
    for cx, cy, p in coords:
        colour = GOOD if (p.attainment or 0) * 100 >= p.objective else BAD
        body.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.5" fill="{colour}"><title>'
            f"{p.start.isoformat()}: {p.met}/{p.measured} = {percent(p.attainment, 2)}"
            "</title></circle>"
        )
    body.append(
        f'<text x="{left}" y="{height - 8}">{points[0].start.isoformat()}</text>'
        f'<text x="{width - 10}" y="{height - 8}" text-anchor="end">'
        f"{points[-1].start.isoformat()} (per {unit})</text>"
    )
    return _svg(width, height, "".join(body), f"attainment of {points[0].key} per {unit}")


def histogram_chart(histogram: Histogram) -> str:
    """First-response times as a share of target: green within target, red beyond it."""
    width, height, left, bottom, top = 360, 190, 36, 34, 24
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max(histogram.counts) or 1
    bar_w = plot_w / len(histogram.counts)
    target = f" (target {duration(histogram.target_seconds)})" if histogram.target_seconds else ""
    body = [f'<text x="{left}" y="14">{escape(histogram.priority)} first response{target}</text>']
    for i, count in enumerate(histogram.counts):
        h = plot_h * count / peak
        colour = GOOD if histogram.edges[i] < 100 else BAD
        upper = f"{histogram.edges[i + 1]}%" if i + 1 < len(histogram.edges) else "+"
        body.append(
            f'<rect x="{left + i * bar_w + 1:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{bar_w - 2:.1f}" height="{h:.1f}" fill="{colour}"><title>'
            f"{histogram.edges[i]}%-{upper} of target: {count}</title></rect>"
        )
    target_x = left + bar_w * (100 // (histogram.edges[1] - histogram.edges[0]))
    body.append(
        f'<line x1="{target_x:.1f}" x2="{target_x:.1f}" y1="{top - 4}" y2="{top + plot_h}" '
        f'stroke="#222" stroke-dasharray="4 3"/><text x="{target_x + 3:.1f}" y="{top + 6}">'
        "target</text>"
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{peak}</text>'
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>'
    )
    for edge in (0, 50, 100, 150, 200):
        ex = left + bar_w * edge / (histogram.edges[1] - histogram.edges[0])
        body.append(f'<text x="{ex:.1f}" y="{height - 18}" text-anchor="middle">{edge}%</text>')
    body.append(f'<text x="{left}" y="{height - 4}">business time, % of target</text>')
    return _svg(width, height, "".join(body), f"{histogram.priority} first-response times")


def bar_chart(
    title: str, rows: Sequence[tuple[str, Sequence[tuple[str, int, str]]]], note: str = ""
) -> str:
    """Horizontal stacked bars: each row a label and its (series, value, colour) parts."""
    rows = list(rows)[:BAR_ROWS]
    label_w, bar_max, row_h = 130, 300, 18
    height = 30 + row_h * max(len(rows), 1) + (16 if note else 0)
    width = label_w + bar_max + 50
    peak = max((sum(v for _, v, _ in parts) for _, parts in rows), default=0) or 1
    body = [f'<text x="0" y="14">{escape(title)}</text>']
    for i, (label, parts) in enumerate(rows):
        y = 24 + i * row_h
        body.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{escape(label[:20])}</text>'
        )
        x = float(label_w)
        for series, value, colour in parts:
            w = bar_max * value / peak
            if w > 0:
                body.append(
                    f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 4}" '
                    f'fill="{colour}"><title>{escape(label)} {escape(series)}: {value}</title>'
                    "</rect>"
                )
            x += w
        total = sum(v for _, v, _ in parts)
        body.append(f'<text x="{x + 4:.1f}" y="{y + 12}">{total}</text>')
    if note:
        body.append(f'<text x="0" y="{height - 4}" class="muted">{escape(note)}</text>')
    return _svg(width, height, "".join(body), title)


def _breach_parts(row: Bottleneck) -> list[tuple[str, int, str]]:
    return [(c, row.breaches_by_clock.get(c, 0), colour) for c, colour in CLOCK_COLOURS.items()]


def _bottleneck_table(kind: str, rows: Sequence[Bottleneck]) -> str:
    body = [
        "<tr>"
        + _cell(r.name, numeric=False)
        + "".join(
            _cell(v)
            for v in (
                str(r.tickets),
                str(r.breaches),
                *(str(r.breaches_by_clock.get(c, 0)) for c in CLOCK_COLOURS),
                str(r.breached_tickets),
                percent(r.breach_rate),
                str(r.escalations),
            )
        )
        + "</tr>"
        for r in rows
    ]
    header = [kind, "tickets", "breaches", "first resp.", "resolution", "next reply"]
    return _table([*header, "breached tickets", "breach rate", "escalations"], body)


def _pause_table(examples: Sequence[PauseExample]) -> str:
    rows = [
        "<tr>"
        + "".join(
            _cell(v, numeric=False)
            for v in (e.ticket_id, e.team, e.priority, e.start.isoformat(timespec="minutes"))
        )
        + _cell(duration(e.seconds))
        + _cell(e.reason, numeric=False)
        + "</tr>"
        for e in examples
    ]
    return _table(["ticket", "team", "priority", "paused at", "for", "reason"], rows)


def _charts(report: Report) -> list[str]:
    out = ["<h2>Attainment over time</h2>"]
    series: dict[tuple[str, str], list[TimelinePoint]] = {}
    for point in report.timeline:
        series.setdefault((point.policy, point.key), []).append(point)
    out.append(
        '<div class="charts">'
        + "".join(
            f'<div class="chart">{timeline_chart(p, report.timeline_unit)}</div>'
            for p in series.values()
        )
        + "</div>"
        if series
        else '<p class="muted">No objective measured in this range.</p>'
    )
    out.append("<h2>First-response times against the target</h2>")
    out.append(
        '<div class="charts">'
        + "".join(f'<div class="chart">{histogram_chart(h)}</div>' for h in report.histograms)
        + "</div>"
    )
    b = report.bottlenecks
    by_team_escalations = sorted(b.teams, key=lambda r: (-r.escalations, r.name))
    out.append("<h2>Breaches and escalations by team and level</h2><div class=charts>")
    legend = "orange first response, red resolution, purple next reply"
    for chart in (
        bar_chart("Breaches by team", [(r.name, _breach_parts(r)) for r in b.teams], legend),
        bar_chart(
            "Escalations by team",
            [(r.name, [("escalations", r.escalations, NEUTRAL)]) for r in by_team_escalations],
        ),
        bar_chart(
            "Escalations by level (firings)",
            [(r.name, [("firings", r.escalations, NEUTRAL)]) for r in b.levels],
        ),
        bar_chart(
            "Breaches on tickets each level fired on",
            [(r.name, _breach_parts(r)) for r in b.levels],
            legend,
        ),
    ):
        out.append(f'<div class="chart">{chart}</div>')
    out.append("</div>")
    return out


def render_html(report: Report) -> str:
    """The report as a complete HTML document (UTF-8), safe to email or open from a file."""
    groups = report.groups
    header = [report.group_by, "opened", "resolved", "reopened"]
    header += [f"resp. {f}" for f in ("mean", "p50", "p90", "p99")]
    header += [f"resol. {f}" for f in ("mean", "p50", "p90", "p99")]
    header += ["breached resp.", "breached resol.", "late replies", "escalations"]
    header += ["paused total", "paused mean", "CSAT", "CSAT rate"]
    b = report.bottlenecks
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Ticket report {report.range_from.date()} to {report.range_to.date()}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>Ticket report</h1>",
        f'<p class="muted">Tickets opened from {escape(report.range_from.isoformat())} to '
        f"{escape(report.range_to.isoformat())}, grouped by {escape(report.group_by)}. "
        f"Generated {escape(report.generated_at.isoformat(timespec='seconds'))}. Times are "
        "business time; percentiles are nearest rank.</p>",
        "<h2>Figures per group</h2>",
        _table(header, [*(_group_row(g) for g in groups), _group_row(report.total, True)]),
        "<h2>SLO attainment and error budget</h2>",
        _table(
            [report.group_by, "objective", "met", "attained", "objective", "budget left"],
            _attainment_rows([*groups, report.total]),
        ),
        *_charts(report),
        "<h2>Bottlenecks</h2><h3>Teams</h3>",
        _bottleneck_table("team", b.teams),
        "<h3>Priorities</h3>",
        _bottleneck_table("priority", b.priorities),
        "<h3>Levels (tickets each level fired on)</h3>",
        _bottleneck_table("level", b.levels),
        "<h2>Pause patterns</h2>",
        f"<p>{b.paused_after_customer_reply} pauses began within 5 minutes after a customer "
        f"reply; {b.long_pauses} lasted {escape(duration(b.long_pause_seconds))} or more.</p>",
    ]
    if b.after_customer_reply_examples:
        parts += ["<h3>Paused right after a customer reply (longest first)</h3>"]
        parts.append(_pause_table(b.after_customer_reply_examples))
    if b.long_pause_examples:
        parts += ["<h3>Long pauses (longest first)</h3>", _pause_table(b.long_pause_examples)]
    if report.unknown_policies:
        names = ", ".join(escape(p) for p in report.unknown_policies)
        parts.append(f"<p class=bad>Not in SLO figures (policy file not found): {names}</p>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
