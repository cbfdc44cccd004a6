"""The report as JSON (``--format json``): every figure, for scripts and dashboards.

The document is :class:`~reports.figures.Report` as pydantic dumps it: times RFC 3339,
durations in seconds (floats), shares as fractions in [0, 1] (objectives in percent, as policies
state them).
"""

from __future__ import annotations

from reports.report_model import Report


def render_json(report: Report) -> str:
    """The report as an indented JSON document, ending with a newline."""
    return report.model_dump_json(indent=2) + "\n"
