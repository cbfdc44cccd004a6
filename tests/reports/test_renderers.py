"""The report's text, JSON, CSV and HTML forms, and ``escalations report``'s argument errors."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from escalations.cli.main import main
from reports.figures import build_report
from reports.render_csv import render_csv
from reports.render_html import render_html
from reports.render_json import render_json
from reports.render_text import duration, render_text
from tests.reports.outcomes import RANGE, outcome, pause, policy
from tests.reports.test_figures import NOW, report, tickets


def test_json_is_the_whole_report() -> None:
    result = report()
    document = json.loads(render_json(result))
    assert document["total"]["opened"] == 5
    assert document["groups"][0]["attainment"][0]["attainment"] == 2 / 3
    assert type(result).model_validate(document) == result


def test_csv_has_a_row_per_group_and_a_total() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(report()))))
    assert [r["group"] for r in rows] == ["P1", "P2", "total"]
    assert rows[0]["first_response_p90_seconds"] == "3600.0"
    assert rows[0]["slo standard:P1-first_response met"] == "2"
    assert rows[1]["slo standard:P1-first_response met"] == ""  # not measured: empty, not 0
    assert rows[2]["escalations resolution-breached"] == "2"


def test_csv_keeps_a_formula_like_customer_as_text() -> None:
    items = [outcome("X", customer="=HYPERLINK(1)", first=5)]
    result = build_report(items, group_by="customer", policies={}, now=NOW, range=RANGE)
    row, _total = csv.DictReader(io.StringIO(render_csv(result)))
    assert row["group"] == "'=HYPERLINK(1)"


def test_text_table_lines_up() -> None:
    text = render_text(report())
    assert "SLO attainment" in text
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("priority"))
    assert lines[header + 2].startswith("P1 ")
    assert lines[header + 4].startswith("total")
    assert "standard:P1-first_response" in text
    assert "Pauses: 1 began right after a customer reply; 1 lasted 1d 0h or more." in text


def test_durations_read_at_a_glance() -> None:
    assert [duration(s) for s in (None, 12, 250, 7500, 90000)] == [
        "-",
        "12s",
        "4m 10s",
        "2h 05m",
        "1d 1h",
    ]


def test_html_is_self_contained_and_escapes_ticket_text() -> None:
    items = [
        *tickets(),
        outcome(
            "Y",
            customer='<script>alert("x")</script>',
            first=10,
            pauses=[pause(40, reason="<img src=x onerror=alert(1)>")],
            paused_seconds=144000,
        ),
    ]
    page = render_html(
        build_report(
            items, group_by="customer", policies={"standard": policy()}, now=NOW, range=RANGE
        )
    )
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;" in page
    # Nothing loaded from elsewhere: no src/href attributes, no @import or url().
    assert not re.search(r"<[^>]*\b(src|href)=", page)
    assert "url(" not in page
    assert "@import" not in page
    assert page.count("<svg") >= 4  # timeline, histograms and the bar charts


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--from", "yesterday"], "--from"),
        (["--to", "2025-05-01T10:00"], "--to"),
        (["--from", "2025-05-02", "--to", "2025-05-01"], "--from"),
        (["--group-by", "assignee"], "--group-by"),
        (["--format", "pdf"], "--format"),
        (["--long-pause", "soon"], "--long-pause"),
        (["--customer", "O'Brien"], "--customer"),
    ],
)
def test_bad_arguments_exit_2_naming_the_flag(
    argv: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    last = captured.err.splitlines()[-1]
    assert last.startswith("escalations report: error:")
    assert flag in last


def test_unreachable_server_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:1")
    assert main(["report"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("escalations report: cannot reach Temporal at 127.0.0.1:1")
    assert len(err.splitlines()) == 1
