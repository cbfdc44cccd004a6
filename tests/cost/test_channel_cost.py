"""A channel costs its activities and nothing else.

The budget's scenarios run again with a Slack channel beside every level's address
(:data:`tests.cost.channels.WITH_SLACK`): each level's notice gets a channel twin, and the
acknowledge, pause, resume and resolve each tell the channel once. What that may add is exact:
one activity (three history events, one billable action) per channel notice and per message
about a state change, and the workflow tasks their results wake (three events each). No timer,
search-attribute upsert, marker or signal more.
"""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.cost.channels import WITH_SLACK, figures
from tests.cost.measure import measure

# Per scenario, how many state changes (acknowledge, pause, resume, resolve) reach the
# channel: only those after a notice reached it. The full ladder is resolved after its last
# level (one); the paused ticket pauses and resumes before its one level fires, then is
# acknowledged and resolved (two); the typical ticket is acknowledged and resolved before any
# level fires, so the channel never hears of it.
TOLD = {"full ladder": 1, "paused": 2, "typical": 0}


async def test_a_channel_adds_one_activity_per_notice_and_per_state_change_told(
    time_skipping_env: WorkflowEnvironment,
) -> None:
    plain = await measure(time_skipping_env, floor=False)
    slack = await measure(time_skipping_env, floor=False, policy=WITH_SLACK)
    assert set(plain) == set(TOLD)
    for name in plain:
        before, after = figures(plain[name].ours), figures(slack[name].ours)
        notices = before["activities"]  # each email notice gets its channel twin
        added = after["activities"] - notices
        assert added == notices + TOLD[name], (name, before, after)
        assert after["billable_actions"] - before["billable_actions"] == added, (name, after)
        woken = after["workflow_tasks"] - before["workflow_tasks"]
        assert 0 <= woken <= added, (name, before, after)
        assert after["history_events"] - before["history_events"] == 3 * added + 3 * woken, (
            name,
            before,
            after,
        )
