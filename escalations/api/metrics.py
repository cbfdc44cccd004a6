"""The API's request metrics, in Prometheus' text format at ``GET /metrics``.

``escalations_api_requests_total{route, source, status}`` counts requests and
``escalations_api_request_seconds{route}`` is their latency histogram. ``route`` is the route's
template (``/v1/tickets/{ticket_id}``), never the path a client sent, so ticket ids and
attackers' paths cannot grow the label set; ``source`` is the helpdesk of a webhook (else
empty). Kept in memory by the process; a scrape reads it under a lock.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable

from starlette.routing import BaseRoute, Match, Route
from starlette.types import Scope

from escalations.intake.events import SOURCES

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED = "unmatched"


class RequestMetrics:
    """Counters and a latency histogram per route."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)

    def observe(self, route: str, source: str, status: int, seconds: float) -> None:
        """Count one request."""
        with self._lock:
            self._counts[(route, source, status)] += 1
            buckets = self._buckets.setdefault(route, [0] * (len(BUCKETS) + 1))
            buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sums[route] += seconds

    def exposition(self) -> str:
        """Everything counted, in the Prometheus text format (version 0.0.4)."""
        lines = [
            "# HELP escalations_api_requests_total HTTP requests answered, by route, source, "
            "status.",
            "# TYPE escalations_api_requests_total counter",
        ]
        with self._lock:
            for (route, source, status), count in sorted(self._counts.items()):
                labels = f'route="{route}",source="{source}",status="{status}"'
                lines.append(f"escalations_api_requests_total{{{labels}}} {count}")
            lines += [
                "# HELP escalations_api_request_seconds Time to answer a request, by route.",
                "# TYPE escalations_api_request_seconds histogram",
            ]
            for route, buckets in sorted(self._buckets.items()):
                running = 0
                for bound, count in zip([*BUCKETS, float("inf")], buckets, strict=True):
                    running += count
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    lines.append(
                        f'escalations_api_request_seconds_bucket{{route="{route}",le="{le}"}} '
                        f"{running}"
                    )
                lines.append(
                    f'escalations_api_request_seconds_sum{{route="{route}"}} {self._sums[route]}'
                )
                lines.append(f'escalations_api_request_seconds_count{{route="{route}"}} {running}')
        return "\n".join(lines) + "\n"


def route_observer(
    metrics: RequestMetrics, routes: list[BaseRoute]
) -> Callable[[Scope, int, float], None]:
    """What :class:`~escalations.codec.serving.AccessLog` calls after each request: counts it
    under the template of the route it matched (``unmatched`` for none)."""

    def observe(scope: Scope, status: int, seconds: float) -> None:
        template, source = UNMATCHED, ""
        for route in routes:
            match, child = route.matches(scope)
            if match is Match.FULL and isinstance(route, Route):
                template = route.path
                given = child.get("path_params", {}).get("source", "")
                source = given if given in SOURCES else ""
                break
        metrics.observe(template, source, status, seconds)

    return observe
