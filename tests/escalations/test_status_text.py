"""What people read: the CLI's status text and the Web UI's current details."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from escalations.cli.status_text import describe_status
from policies.calendar import policy_calendars
from policies.loader import load_named_policy
from tests.workflows.tickets import ticket_fields
from workflows.ticket_details import current_details
from workflows.ticket_messages import TicketStatus, build_status
from workflows.ticket_state import TicketState

POLICY = load_named_policy(Path(__file__).parents[1] / "workflows" / "policies", "hours")
CALENDARS = policy_calendars(POLICY)
# Saturday 21 November 2026, 15:00 UTC: the New York office is closed until Monday 09:00.
SATURDAY = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)


def p3_status_with_held_notice() -> TicketStatus:
    fields = ticket_fields(
        "P3", ticket_id="T-9", title="Invoice <b>blank</b> | broken", team="billing"
    )
    state = TicketState.open(fields, POLICY, SATURDAY, notice_key="run")
    due = state.due_levels(SATURDAY + timedelta(days=30), CALENDARS)[0]
    release = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday 09:00 in Berlin
    state.record_fire(due, SATURDAY, [], "why", held={release: ["manager@example.com"]})
    return build_status(state, SATURDAY + timedelta(hours=1), CALENDARS)


def test_status_text_shows_due_times_in_the_calendar_zone() -> None:
    text = describe_status(p3_status_with_held_notice())
    # 4h of office hours from Saturday: Monday 09:00-12:00, then 13:00-14:00 (EST).
    assert (
        "first_response  due 2026-11-23 19:00:00 UTC = 2026-11-23 14:00:00 EST "
        "(America/New_York)" in text
    )
    assert "next_reply      due -" in text
    assert "not started" in text
    assert "held until 2026-11-23 08:00:00 UTC (quiet hours)" in text


def test_web_ui_details_show_local_due_times_and_held_notices() -> None:
    details = current_details(p3_status_with_held_notice())
    assert "2026-11-23 14:00 EST (America/New_York)" in details
    assert "next_reply" not in details  # not started: no row
    assert "Held for quiet hours: 1 notice(s), the next until 2026-11-23 08:00:00 UTC" in details
    assert "<b>" not in details


def test_the_plan_tags_and_attributes_show_when_a_ticket_has_them() -> None:
    plain = p3_status_with_held_notice()
    assert "SLA plan" not in describe_status(plain)
    assert "SLA plan" not in current_details(plain)
    gold = plain.model_copy(
        update={"plan": "gold", "tags": ["vip"], "attributes": {"customer_tier": "<gold>"}}
    )
    assert "  SLA plan gold · tags vip · customer_tier=<gold>" in describe_status(gold)
    details = current_details(gold.model_copy(update={"plan": "gold<script>"}))
    assert "SLA plan **gold&lt;script>**" in details
