"""A level that names an on-call rotation notifies the member on call when it fires, not when
the ticket opened: resolved from the policy recorded in the ticket at ``workflow.now()``.

The test server's clock starts at the real time, so the policy is written for that time: a
daily rotation in UTC whose hand-off falls about 35 minutes after the ticket opens, between its
15-minute and 60-minute levels, and an override that takes over an hour after the hand-off.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from tests.workflows.conftest import Harness
from tests.workflows.tickets import email_notices

ANA, BO, DEE = "ana@example.com", "bo@example.com", "dee@example.com"
LEAD = "lead@example.com"

POLICY = """\
name: oncall
version: 1
targets:
  P1: {{first_response: 1h, resolution: 4h}}
rotations:
  support-primary:
    members: [{ana}, {bo}]
    turn: daily
    handoff: "{handoff:%H:%M}"
    timezone: UTC
    start: {start}
    overrides:
      - {{from: "{override_from:%Y-%m-%dT%H:%M}", until: "{override_until:%Y-%m-%dT%H:%M}",
          member: {dee}}}
contacts:
  on_call: [support-primary, {lead}]
levels:
  - {{name: response-at-risk, when: {{clock: first_response, at: 25%}}, notify: [on_call]}}
  - {{name: response-breached, when: {{clock: first_response, at: 100%}}, notify: [on_call]}}
  - {{name: resolution-at-risk, when: {{clock: resolution, at: 50%}}, notify: [on_call]}}
"""


def policy_for(opened: datetime) -> str:
    """The policy of this module for a ticket opened at ``opened`` (server time)."""
    handoff = (opened + timedelta(minutes=35)).replace(second=0, microsecond=0)
    return POLICY.format(
        ana=ANA,
        bo=BO,
        dee=DEE,
        lead=LEAD,
        handoff=handoff,
        # Turn 0 (Ana's) began a day before the hand-off, so Bo's turn 1 begins at it.
        start=(handoff - timedelta(days=1)).date(),
        override_from=handoff + timedelta(hours=1),
        override_until=handoff + timedelta(hours=3),
    )


async def test_each_level_notifies_whoever_is_on_call_as_it_fires(
    harness: Harness, tmp_path: Path
) -> None:
    # The harness's worker reads policies from tmp_path / "policies".
    (tmp_path / "policies" / "oncall.yaml").write_text(policy_for(await harness.now()))
    handle = await harness.open(policy="oncall")
    status = await harness.status_after(handle, timedelta(hours=3))

    fired = {e.level: e.recipients for e in email_notices(status)}
    assert fired == {
        "response-at-risk": [ANA, LEAD],  # 15m: before the hand-off
        "response-breached": [BO, LEAD],  # 60m: Bo's turn began at the hand-off
        "resolution-at-risk": [DEE, LEAD],  # 2h: within the override
    }
    sent = harness.sendgrid.wait_for_accepted(3, timeout=10)
    assert [sorted(p["to"][0]["email"] for p in body["personalizations"]) for body in sent] == [
        sorted(recipients) for recipients in fired.values()
    ]
