"""``migrate_policy``: an open ticket moves onto a newer version of its policy only when asked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import WorkflowUpdateFailedError

from policies.loader import default_policy_dir, read_policy_file
from tests.workflows.conftest import Harness
from tests.workflows.tickets import email_notices
from workflows.ticket_escalation import TicketEscalation
from workflows.ticket_messages import MigratePolicyRequest, ResolveRequest

SHIPPED = int(read_policy_file(default_policy_dir() / "default.yaml").version)
NEXT, LATER = SHIPPED + 1, SHIPPED + 2


def _publish_version(policy_dir: Path, version: int, p1: str, calendar: str | None = None) -> None:
    """Rewrite the default policy file as ``version`` with new P1 targets."""
    path = policy_dir / "default.yaml"
    text = path.read_text()
    text = text.replace(f"version: {SHIPPED}\n", f"version: {version}\n", 1)
    text = text.replace("  P1: {first_response: 15m, resolution: 4h, next_reply: 30m}", p1, 1)
    if calendar is not None:
        text = text.replace("support-hours:", f"{calendar}:")
        text = text.replace("calendar: support-hours", f"calendar: {calendar}")
    assert f"version: {version}" in text
    path.write_text(text)


def _request(version: str) -> MigratePolicyRequest:
    return MigratePolicyRequest(to_version=version, by="ops@example.com", reason="change 4711")


async def test_open_tickets_keep_their_version_until_migrated(
    harness: Harness, tmp_path: Path
) -> None:
    old = await harness.open()
    await harness.env.sleep(timedelta(minutes=5))
    _publish_version(
        tmp_path / "policies", NEXT, "  P1: {first_response: 30m, resolution: 6h, next_reply: 30m}"
    )
    new = await harness.open()

    kept = await harness.refresh(old)
    assert kept.policy_version == str(SHIPPED)
    assert kept.clocks["first_response"].target == timedelta(minutes=15)
    opened = await harness.refresh(new)
    assert opened.policy_version == str(NEXT)
    assert opened.clocks["first_response"].target == timedelta(minutes=30)

    migrated = await old.execute_update(TicketEscalation.migrate_policy, _request(str(NEXT)))
    assert migrated.policy_version == str(NEXT)
    response = migrated.clocks["first_response"]
    assert response.target == timedelta(minutes=30)
    # The five minutes already counted stay counted: due 30 minutes after opening, not after
    # the migration.
    assert response.due_at == migrated.opened_at + timedelta(minutes=30)
    assert migrated.clocks["resolution"].due_at == migrated.opened_at + timedelta(hours=6)
    [migration] = migrated.policy_migrations
    assert (migration.from_version, migration.to_version) == (str(SHIPPED), str(NEXT))
    assert (migration.by, migration.reason) == ("ops@example.com", "change 4711")

    # Escalations follow the new targets: at-risk at 75% of 30 minutes, not of 15.
    status = await harness.status_after(old, timedelta(minutes=16))
    assert status.escalations == []
    status = await harness.status_after(old, timedelta(minutes=7))
    assert [e.level for e in email_notices(status)] == ["response-at-risk"]
    assert status.escalations[0].due_at == migrated.opened_at + timedelta(minutes=22, seconds=30)


async def test_a_level_already_fired_does_not_fire_again_after_migration(
    harness: Harness, tmp_path: Path
) -> None:
    handle = await harness.open()
    fired = await harness.status_after(handle, timedelta(minutes=12))
    assert [e.level for e in email_notices(fired)] == ["response-at-risk"]
    _publish_version(
        tmp_path / "policies", NEXT, "  P1: {first_response: 20m, resolution: 4h, next_reply: 30m}"
    )
    await handle.execute_update(TicketEscalation.migrate_policy, _request(str(NEXT)))
    status = await harness.status_after(handle, timedelta(minutes=9))
    assert [e.level for e in email_notices(status)] == ["response-at-risk", "response-breached"]
    assert email_notices(status)[1].due_at == status.opened_at + timedelta(minutes=20)


async def test_a_migration_to_the_version_the_ticket_runs_is_refused(harness: Harness) -> None:
    handle = await harness.open()
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(TicketEscalation.migrate_policy, _request(str(SHIPPED)))
    assert f"already runs policy 'default' v{SHIPPED}" in str(caught.value.cause)


async def test_a_migration_to_a_version_the_worker_does_not_have_is_refused(
    harness: Harness, tmp_path: Path
) -> None:
    handle = await harness.open()
    _publish_version(
        tmp_path / "policies", NEXT, "  P1: {first_response: 30m, resolution: 6h, next_reply: 30m}"
    )
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(TicketEscalation.migrate_policy, _request(str(LATER)))
    assert f"is at version {NEXT} on the worker, not {LATER}" in str(caught.value.cause)
    status = await harness.refresh(handle)
    assert status.policy_version == str(SHIPPED)
    assert status.policy_migrations == []


async def test_a_version_that_drops_a_calendar_the_clocks_counted_on_is_refused(
    harness: Harness, tmp_path: Path
) -> None:
    handle = await harness.open(priority="P3")  # counts on support-hours
    _publish_version(
        tmp_path / "policies",
        NEXT,
        "  P1: {first_response: 15m, resolution: 4h, next_reply: 30m}",
        calendar="office-hours",
    )
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(TicketEscalation.migrate_policy, _request(str(NEXT)))
    assert "no longer defines calendar(s) support-hours" in str(caught.value.cause)


async def test_a_resolved_ticket_is_not_migrated(harness: Harness, tmp_path: Path) -> None:
    handle = await harness.open()
    await handle.execute_update(TicketEscalation.resolve, ResolveRequest(by="agent@example.com"))
    _publish_version(
        tmp_path / "policies", NEXT, "  P1: {first_response: 30m, resolution: 6h, next_reply: 30m}"
    )
    with pytest.raises(WorkflowUpdateFailedError) as caught:
        await handle.execute_update(TicketEscalation.migrate_policy, _request(str(NEXT)))
    assert "is already resolved" in str(caught.value.cause)
