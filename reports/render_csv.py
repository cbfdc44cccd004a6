"""The report as CSV (``--format csv``): one row per group and a ``total`` row, for spreadsheets.

Fixed columns come first; then one column set per objective (``slo <policy>:<key> ...``) and one
column per escalation level, over the union of what the groups have (empty where a group has
none). Durations are seconds, shares fractions in [0, 1].
"""

from __future__ import annotations

import csv
import io
from typing import Any

from reports.report_model import GroupFigures, Report

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    # A customer named "=HYPERLINK(...)" would run as a formula in a spreadsheet: quote it so
    # it stays text (OWASP's CSV injection advice). Only names get this; numbers never do.
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _row(group: GroupFigures, objectives: list[str], levels: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "group": _text(group.group),
        "opened": group.opened,
        "resolved": group.resolved,
        "reopened": group.reopened,
    }
    for name, dist in (("first_response", group.first_response), ("resolution", group.resolution)):
        row[f"{name}_count"] = dist.count
        for figure in ("mean", "p50", "p90", "p99"):
            row[f"{name}_{figure}_seconds"] = getattr(dist, figure)
    for clock, count in group.breaches.items():
        row[f"breaches_{clock}"] = count
    row["escalations"] = sum(group.escalations.values())
    row["paused_tickets"] = group.paused.tickets
    row["paused_total_seconds"] = group.paused.total_seconds
    row["paused_mean_seconds"] = group.paused.mean_seconds
    row["csat_responses"] = group.csat.responses
    row["csat_mean"] = group.csat.mean
    row["csat_response_rate"] = group.csat.response_rate
    by_key = {f"{a.policy}:{a.key}": a for a in group.attainment}
    for key in objectives:
        found = by_key.get(key)
        row[f"slo {key} objective"] = found.objective if found else None
        row[f"slo {key} measured"] = found.measured if found else None
        row[f"slo {key} met"] = found.met if found else None
        row[f"slo {key} attainment"] = found.attainment if found else None
        row[f"slo {key} error_budget_left"] = found.error_budget_left if found else None
    for level in levels:
        row[f"escalations {level}"] = group.escalations.get(level, 0)
    return row


def render_csv(report: Report) -> str:
    """The report's groups and total as CSV text (header row first, ``\\r\\n`` line ends)."""
    groups = [*report.groups, report.total]
    objectives = sorted({f"{a.policy}:{a.key}" for g in groups for a in g.attainment})
    levels = sorted({level for g in groups for level in g.escalations})
    rows = [_row(g, objectives, levels) for g in groups]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    # None is written as an empty cell: "no value", distinct from a measured 0.
    writer.writerows(rows)
    return buffer.getvalue()
