"""Figures of one benchmark run: percentiles, costs, ratios to the floor, the table and the JSON."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from typing import Any

from escalations.bench.cost import HistoryCost
from reports.stats import nearest_rank


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` 0.99 for p99) of ``values``; NaN if empty."""
    return nearest_rank(values, share * 100) if values else math.nan


@dataclass
class Lateness:
    """Seconds from a threshold falling due to its notification activity starting.

    ``max`` is when the last threshold to fire did, after its due instant; ``missing`` never
    fired before the bench stopped waiting.
    """

    count: int
    p50: float
    p99: float
    max: float
    missing: int = 0

    @classmethod
    def of(cls, seconds: list[float], expected: int) -> Lateness:
        """Summarise ``seconds``; ``expected - len(seconds)`` never started."""
        return cls(
            count=len(seconds),
            p50=percentile(seconds, 0.50),
            p99=percentile(seconds, 0.99),
            max=max(seconds) if seconds else math.nan,
            missing=expected - len(seconds),
        )


@dataclass
class Side:
    """One system's figures in one scenario: ``TicketEscalation`` or the floor."""

    lateness: Lateness | None = None
    per_second: float | None = None
    worker_cpu_seconds: float | None = None
    server_cpu_seconds: float | None = None


@dataclass
class Scenario:
    """A scenario run on both systems."""

    name: str
    description: str
    ours: Side
    floor: Side


@dataclass
class CostSide:
    """What one workflow of a cost scenario spent, counted from its history."""

    history_events: int
    workflow_tasks: int
    billable_actions: int
    attribute_bytes: int
    payload_bytes: int
    commands: dict[str, int]
    actions: dict[str, int]

    @classmethod
    def of(cls, cost: HistoryCost) -> CostSide:
        """The figures of ``cost``."""
        return cls(
            history_events=cost.total_events,
            workflow_tasks=cost.workflow_tasks,
            billable_actions=cost.total_actions,
            attribute_bytes=cost.attribute_bytes,
            payload_bytes=cost.total_payload_bytes,
            commands=dict(cost.commands),
            actions=dict(cost.actions),
        )


@dataclass
class TicketCost:
    """One fixed ticket on ``TicketEscalation`` and on the floor ticket."""

    name: str
    description: str
    ours: CostSide
    floor: CostSide


@dataclass
class BenchResult:
    """Everything one run measured."""

    config: dict[str, Any]
    scenarios: list[Scenario] = field(default_factory=list)
    costs: list[TicketCost] = field(default_factory=list)
    worker_rss_mb: dict[str, float] = field(default_factory=dict)
    worker_peak_rss_mb: float | None = None
    machine: dict[str, Any] = field(
        default_factory=lambda: {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        }
    )

    def to_json(self) -> str:
        """The result as a JSON document (NaN written as null)."""
        return json.dumps(_clean(asdict(self)), indent=2)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def ratio(ours: float | None, floor: float | None) -> str:
    """``ours / floor`` as ``1.07x``; a dash when either is missing or the floor is zero."""
    if ours is None or floor is None or math.isnan(ours) or math.isnan(floor) or floor <= 0:
        return "-"
    return f"{ours / floor:.2f}x"


def _num(value: float | None, unit: str = "") -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.3f}{unit}" if abs(value) < 10 else f"{value:.1f}{unit}"


_FIGURES = (
    ("lateness p50 s", "p50"),
    ("lateness p99 s", "p99"),
    ("lateness max s", "max"),
    ("per second", "per_second"),
    ("worker CPU s", "worker_cpu_seconds"),
    ("server CPU s", "server_cpu_seconds"),
)


def _figure(side: Side, key: str) -> float | None:
    if key in {"p50", "p99", "max"}:
        return getattr(side.lateness, key) if side.lateness else None
    value: float | None = getattr(side, key)
    return value


def _last_fired(lateness: Lateness | None) -> str:
    if lateness is None or not lateness.count:
        return "-"
    return f"+{lateness.max:.1f} s"


def _align(rows: list[tuple[str, str, str, str, str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(
            cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        )
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


_COSTS = (
    ("history events", "history_events"),
    ("billable actions", "billable_actions"),
    ("workflow tasks", "workflow_tasks"),
    ("attribute bytes", "attribute_bytes"),
    ("payload bytes", "payload_bytes"),
)


def _cost_rows(cost: TicketCost) -> list[tuple[str, str, str, str, str]]:
    rows: list[tuple[str, str, str, str, str]] = []

    def add(label: str, ours: int, floor: int) -> None:
        rows.append((cost.name, label, str(ours), str(floor), ratio(ours, floor)))

    for label, key in _COSTS:
        add(label, getattr(cost.ours, key), getattr(cost.floor, key))
    for kind in sorted(set(cost.ours.commands) | set(cost.floor.commands)):
        add(f"  {kind}", cost.ours.commands.get(kind, 0), cost.floor.commands.get(kind, 0))
    for rule in sorted(set(cost.ours.actions) | set(cost.floor.actions)):
        add(f"  action: {rule}", cost.ours.actions.get(rule, 0), cost.floor.actions.get(rule, 0))
    return rows


def render_table(result: BenchResult) -> str:
    """Plain-text tables: each figure for ours, the floor, and the ratio; then each cost."""
    rows = [("scenario", "figure", "TicketEscalation", "floor", "ratio")]
    for s in result.scenarios:
        for label, key in _FIGURES:
            ours, floor = _figure(s.ours, key), _figure(s.floor, key)
            if ours is None and floor is None:
                continue
            rows.append((s.name, label, _num(ours), _num(floor), ratio(ours, floor)))
        if s.ours.lateness or s.floor.lateness:
            last = (_last_fired(s.ours.lateness), _last_fired(s.floor.lateness))
            rows.append((s.name, "last fired at", *last, ""))
        for side_name, side in (("ours", s.ours), ("floor", s.floor)):
            if side.lateness and side.lateness.missing:
                rows.append(
                    (s.name, f"never fired ({side_name})", str(side.lateness.missing), "", "")
                )
    lines = _align(rows)
    if result.costs:
        costs = [("ticket", "cost (from its history)", "TicketEscalation", "floor", "ratio")]
        for cost in result.costs:
            costs += _cost_rows(cost)
        lines += ["", *_align(costs)]
    extra = [
        "worker RSS (MB): " + ", ".join(f"{k}: {v:.0f}" for k, v in result.worker_rss_mb.items()),
        f"worker peak RSS: {_num(result.worker_peak_rss_mb, ' MB')}",
    ]
    return "\n".join([*lines, "", *extra])
