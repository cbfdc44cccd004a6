"""Hand-built ticket outcomes and a policy with objectives, for the report's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from policies.loader import parse_policy
from policies.model import ClockName, Policy
from workflows.ticket_outcome import ClockOutcome, Pause, Reopen, TicketOutcome

START = datetime(2025, 5, 5, tzinfo=UTC)
"""A Monday: the report range starts here."""
RANGE = (START, START + timedelta(days=7))

POLICY_YAML = """
name: standard
version: 1
targets:
  P1: {first_response: 1h, resolution: 4h}
  P2: {first_response: 2h, resolution: 8h}
contacts:
  team_lead: [lead@example.com]
levels:
  - name: response-breached
    when: {clock: first_response, at: 100%}
    notify: [team_lead]
service_levels:
  objectives:
    - {priority: P1, clock: first_response, objective: 90%}
    - {priority: P1, clock: resolution, objective: 80%}
    - {priority: P2, clock: first_response, objective: 95%}
"""


def policy() -> Policy:
    """The ``standard`` policy: P1 objectives on both clocks, P2 on first response."""
    return parse_policy(POLICY_YAML, "standard.yaml")


def clock(target: float, seconds: float, stopped: bool = True) -> ClockOutcome:
    """A clock that counted ``seconds`` of business time against ``target``."""
    return ClockOutcome(
        target_seconds=target,
        business_seconds=seconds,
        stopped_at=START + timedelta(days=1) if stopped else None,
        breached=seconds >= target,
        calendar="24x7",
    )


def outcome(
    ticket_id: str,
    *,
    priority: str = "P1",
    team: str = "payments",
    customer: str = "Acme",
    policy: str = "standard",
    opened_day: int = 0,
    first: float | None = None,
    resolution: float | None = None,
    resolved: bool = False,
    **extra: object,
) -> TicketOutcome:
    """A ticket; ``first``/``resolution`` are stopped business seconds (None: still running)."""
    targets = {"P1": (3600.0, 14400.0), "P2": (7200.0, 28800.0)}[priority]
    clocks = {
        ClockName.FIRST_RESPONSE: clock(targets[0], first or 0.0, stopped=first is not None),
        ClockName.RESOLUTION: clock(targets[1], resolution or 0.0, stopped=resolution is not None),
    }
    opened = START + timedelta(days=opened_day, hours=1)
    return TicketOutcome.model_validate(
        {
            "as_of": START + timedelta(days=8),
            "ticket_id": ticket_id,
            "priority": priority,
            "team": team,
            "customer": customer,
            "policy": policy,
            "policy_version": "1",
            "state": "resolved" if resolved else "acknowledged",
            "opened_at": opened,
            "resolved_at": START + timedelta(days=2) if resolved else None,
            "clocks": clocks,
            **extra,
        }
    )


def pause(hours: float, after_customer_reply: bool = False, reason: str = "waiting") -> Pause:
    """A closed pause of ``hours``."""
    return Pause(
        start=START + timedelta(hours=2),
        end=START + timedelta(hours=2 + hours),
        reason=reason,
        after_customer_reply=after_customer_reply,
    )


def reopen() -> Reopen:
    """One reopening."""
    return Reopen(
        at=START + timedelta(days=3),
        by="c@example.com",
        reason="again",
        resolved_at=START + timedelta(days=2),
    )
