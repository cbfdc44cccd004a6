"""``escalations drill``: real HTTP through the worker's senders to the loopback fakes of
SendGrid, Slack, PagerDuty, Teams and a webhook receiver; the report names who was not reached,
the exit code says whether anyone was, and no secret reaches the output or the outbox."""

from __future__ import annotations

import base64
import json
import secrets as random
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activities.drill import Drill, DrillMailer, DrillRetry
from activities.drill_contacts import points_of_contact
from activities.outbox import OutboxWriter
from activities.sendgrid_email import SendGridSender
from escalations.cli.main import main
from escalations.runtime.config import load_settings
from escalations.runtime.worker import build_channel_activities
from escalations.testing.fake_sendgrid import FakeSendGrid, sendgrid_error
from policies.loader import parse_policy
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.teams import FakeTeams
from tests.fakes.webhook_receiver import FakeWebhookReceiver

POLICY = """\
name: drill
version: 7
targets:
  P1: {first_response: 1h, resolution: 8h}
  P3: {first_response: 8h, resolution: 40h}
channels:
  slack-ops: {slack: {channel: "#ops-escalations"}}
  slack-gone: {slack: {channel: "#no-such-channel"}}
  pd-ops: {pagerduty: {routing_key_env: DRILL_PD_ROUTING_KEY}}
  teams-ops: {teams: {webhook_url_env: DRILL_TEAMS_WEBHOOK_URL}}
  itsm: {webhook: {url_env: DRILL_WEBHOOK_URL, secret_env: DRILL_WEBHOOK_SECRET}}
contacts:
  team_lead: [lead@example.com, slack-ops, teams-ops, itsm]
  executive: [cto@example.com, pd-ops, LEAD@example.com]
teams:
  payments:
    team_lead: [pay-lead@example.com, bad@example.com, slack-gone]
levels:
  - name: response-at-risk
    when: {clock: first_response, at: 75%}
    notify: [team_lead, assignee]
  - name: response-breached
    when: {clock: first_response, at: 100%}
    notify: [executive]
"""

ROTATION_POLICY = """\
name: oncall
version: 1
targets:
  P1: {first_response: 1h, resolution: 8h}
rotations:
  primary:
    members: [ana@example.com, bo@example.com]
    turn: weekly
    handoff: "09:00"
    timezone: Europe/Berlin
    start: 2026-01-05
    overrides:
      - {from: "2026-02-01T09:00", until: "2026-02-02T09:00", member: gone@example.com}
      - {from: "2099-12-24T09:00", until: "2099-12-27T09:00", member: holiday@example.com}
contacts:
  on_call: [primary, lead@example.com]
levels:
  - name: response-at-risk
    when: {clock: first_response, at: 75%}
    notify: [on_call]
"""


@dataclass
class Stack:
    """The fakes, the secrets they accept, and the environment pointing the CLI at them."""

    sendgrid: FakeSendGrid
    slack: FakeSlack
    slack_channel: str
    pagerduty: FakePagerDuty
    teams: FakeTeams
    receiver: FakeWebhookReceiver
    env: dict[str, str]
    outbox: Path

    def secrets(self) -> dict[str, str]:
        teams_url = self.env["DRILL_TEAMS_WEBHOOK_URL"]
        return {
            "SendGrid key": self.env["SENDGRID_API_KEY"],
            "Slack token": self.env["SLACK_BOT_TOKEN"],
            "routing key": self.env["DRILL_PD_ROUTING_KEY"],
            "Teams webhook URL": teams_url,
            "Teams URL signature": urllib.parse.parse_qs(teams_url)["sig"][0],
            "webhook secret": self.env["DRILL_WEBHOOK_SECRET"],
        }


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    canary = uuid.uuid4().hex
    token = f"xoxb-canary-{canary}"
    webhook_secret = "whsec_" + base64.b64encode(random.token_bytes(32)).decode()
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "drill.yaml").write_text(POLICY, encoding="utf-8")
    (policies / "oncall.yaml").write_text(ROTATION_POLICY, encoding="utf-8")
    outbox = tmp_path / "outbox"
    with (
        FakeSendGrid() as sendgrid,
        FakeSlack(token=token) as slack,
        FakePagerDuty(routing_keys=[canary]) as pagerduty,
        FakeTeams() as teams,
        FakeWebhookReceiver(secret=webhook_secret) as receiver,
    ):
        env = {
            "ESCALATIONS_POLICY_DIR": str(policies),
            "ESCALATIONS_OUTBOX": str(outbox),
            # Nothing of a test may reach the developer's own ledger under .data/.
            "ESCALATIONS_DELIVERY_LEDGER": str(tmp_path / "deliveries.sqlite3"),
            "SENDGRID_API_KEY": f"SG.canary-{canary}",
            "SENDGRID_HOST": sendgrid.url,
            "SENDGRID_FROM": "escalations@example.com",
            "ESCALATIONS_SLACK_API_URL": f"{slack.url}/api/",
            "ESCALATIONS_PAGERDUTY_EVENTS_URL": pagerduty.url,
            "SLACK_BOT_TOKEN": token,
            "DRILL_PD_ROUTING_KEY": canary,
            "DRILL_TEAMS_WEBHOOK_URL": teams.add_flow(),
            "DRILL_WEBHOOK_URL": f"{receiver.url}/hooks/sla",
            "DRILL_WEBHOOK_SECRET": webhook_secret,
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        channel_id = slack.add_channel("#ops-escalations")
        yield Stack(sendgrid, slack, channel_id, pagerduty, teams, receiver, env, outbox)
        # Every request the drill made followed the providers' specifications.
        assert slack.problems == pagerduty.problems == teams.problems == receiver.problems == []


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["drill", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, err = run(capsys, *args, "--format", "json")
    assert err == ""
    return code, json.loads(out)


def by_contact(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["contact"]: c for c in report["contacts"]}


def test_every_contact_reached_through_every_channel_exits_0(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run_json(capsys, "--policy", "drill")

    assert code == 0, report
    assert report["all_reached"] is True
    contacts = by_contact(report)
    assert list(contacts) == [
        "lead@example.com",
        "slack-ops",
        "teams-ops",
        "itsm",
        "cto@example.com",
        "pd-ops",
    ]
    assert {c["outcome"] for c in contacts.values()} == {"reached"}
    # An address two roles list is drilled once, for both.
    assert contacts["lead@example.com"]["roles"] == ["team_lead", "executive"]
    assert [c["kind"] for c in contacts.values()] == [
        "email",
        "slack",
        "teams",
        "webhook",
        "email",
        "pagerduty",
    ]
    emails = stack.sendgrid.accepted
    assert [m["personalizations"] for m in emails] == [
        [{"to": [{"email": "lead@example.com"}]}],
        [{"to": [{"email": "cto@example.com"}]}],
    ]
    assert contacts["lead@example.com"]["provider_id"].startswith("fake-")
    for message in emails:
        assert message["subject"].startswith("[DRILL] Policy drill, role")
        text = message["content"][0]["value"]
        assert text.startswith("[DRILL]")
        assert "No action is needed beyond confirming receipt" in text
        assert "policy drill (version 7) for all teams" in text
    assert "roles team_lead, executive" in emails[0]["subject"]
    [post] = stack.slack.messages_in(stack.slack_channel)
    assert post.text.startswith("[DRILL] Policy drill, role team_lead, all teams")
    assert contacts["slack-ops"]["provider_id"] == post.ts
    [card] = stack.teams.cards
    assert card["body"][0]["text"].startswith("\\[DRILL\\] Policy drill")
    [delivery] = stack.receiver.deliveries
    assert delivery.payload["type"] == "channel.test"
    assert delivery.payload["data"]["test"] is True
    assert delivery.payload["data"]["level"] == "drill"
    assert contacts["itsm"]["provider_id"] == delivery.webhook_id


def test_pagerduty_drill_is_triggered_at_info_and_resolved_at_once(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = run_json(capsys, "--policy", "drill")

    assert code == 0
    dedup_key = by_contact(report)["pd-ops"]["provider_id"]
    assert stack.pagerduty.actions_for(dedup_key) == ["trigger", "resolve"]
    alert = stack.pagerduty.alerts[dedup_key]
    assert alert.status == "resolved"
    assert alert.payload["severity"] == "info"
    assert alert.payload["summary"].startswith("[DRILL] Policy drill, role executive, all teams")
    assert "resolved at once" in by_contact(report)["pd-ops"]["detail"]


def test_a_rejected_address_and_an_unknown_slack_channel_are_named_and_exit_1(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # The team's override lists pay-lead@ then bad@; SendGrid refuses the second address.
    stack.sendgrid.answer_next(202)
    refusal = sendgrid_error("Does not contain a valid address.", "personalizations.0.to.0.email")
    stack.sendgrid.answer_next(400, body=refusal)

    code, out, err = run(capsys, "--policy", "drill", "--team", "payments")

    assert code == 1
    assert err == ""
    refused = [r for r in stack.sendgrid.requests if r.status == 400]
    assert [r.body["personalizations"][0]["to"] for r in refused] == [
        [{"email": "bad@example.com"}]
    ]
    lines = out.splitlines()
    assert lines[0].startswith("Drill ")
    assert "of policy drill v7, team payments" in lines[0]
    [bad] = [line for line in lines if "bad@example.com (email)" in line]
    assert bad.startswith("rejected")
    assert "HTTP 400" in bad
    assert "Does not contain a valid address." in bad
    [gone] = [line for line in lines if "slack-gone (slack)" in line]
    assert gone.startswith("rejected")
    assert "channel_not_found" in gone
    assert lines[-1] == (
        "4 of 6 reached; NOT reached: bad@example.com (team_lead); slack-gone (team_lead)"
    )
    assert (
        "note: role assignee is the ticket's own assignee, known only when a level fires: "
        "not drilled"
    ) in lines
    # The override replaced the policy-wide team leads: none of them was drilled.
    assert "slack-ops" not in out
    assert "teams-ops" not in out
    subjects = [m["subject"] for m in stack.sendgrid.accepted]
    assert all("team payments" in subject for subject in subjects), subjects


def test_a_channel_without_its_secret_is_not_configured_and_exits_1(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRILL_PD_ROUTING_KEY")

    code, report = run_json(capsys, "--policy", "drill")

    assert code == 1
    assert report["all_reached"] is False
    pd = by_contact(report)["pd-ops"]
    assert pd["outcome"] == "not_configured"
    assert pd["provider_id"] is None
    assert "$DRILL_PD_ROUTING_KEY is not set" in pd["detail"]
    assert stack.pagerduty.requests == []
    [written] = list(stack.outbox.glob("*.pagerduty.json"))
    assert json.loads(written.read_text())["request"]["body"]["payload"]["summary"].startswith(
        "[DRILL]"
    )
    others = [c["outcome"] for name, c in by_contact(report).items() if name != "pd-ops"]
    assert set(others) == {"reached"}


def test_without_a_sendgrid_key_emails_go_to_the_outbox_and_count_as_not_reached(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SENDGRID_API_KEY")

    code, report = run_json(capsys, "--policy", "drill")

    assert code == 1
    assert by_contact(report)["cto@example.com"]["outcome"] == "not_configured"
    assert stack.sendgrid.requests == []
    files = sorted(stack.outbox.glob("*.eml"))
    assert len(files) == 2
    assert b"Subject: [DRILL] Policy drill" in files[0].read_bytes()


def test_a_provider_that_stays_down_is_unreachable_after_the_retries(stack: Stack) -> None:
    stack.sendgrid.answer_next(503)  # lead@: one failure, then accepted
    waits: list[float] = []
    drill = build(waits)
    stack.slack.answer_always(500)

    report = drill.run(parse_policy(POLICY, "drill.yaml"), None)

    contacts = {c.contact: c for c in report.contacts}
    assert contacts["lead@example.com"].outcome == "reached"
    assert contacts["lead@example.com"].attempts == 2
    slack = contacts["slack-ops"]
    assert slack.outcome == "unreachable"
    assert slack.attempts == 3
    assert "gave up after 3 attempts" in slack.detail
    assert waits == [1.0, 1.0, 2.0]
    assert not report.all_reached


def test_a_long_rate_limit_is_not_waited_for(stack: Stack) -> None:
    stack.sendgrid.answer_next(429, headers={"X-RateLimit-Reset": str(2**40)})
    waits: list[float] = []

    report = build(waits).run(parse_policy(POLICY, "drill.yaml"), None)

    assert report.contacts[0].outcome == "unreachable"
    assert "rate limit" in report.contacts[0].detail
    assert "run the drill again later" in report.contacts[0].detail
    assert waits == []


def build(waits: list[float]) -> Drill:
    settings = load_settings()
    assert settings.sendgrid_api_key is not None
    sender = SendGridSender(
        settings.sendgrid_api_key.get_secret_value(),
        "drill@example.com",
        host=settings.sendgrid_host,
    )
    mailer = DrillMailer(OutboxWriter(settings.outbox_dir, "drill@example.com"), sender)
    channels = build_channel_activities(settings)
    return Drill(mailer, channels, retry=DrillRetry(attempts=3), sleep=waits.append)


def test_no_secret_reaches_the_report_or_the_outbox(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = stack.secrets()
    # Every provider echoes its secret in a refusal, as a proxy or a future error format
    # might, so the secrets reach the error handling; then the channels' secrets are unset and
    # they write to the outbox.
    outputs = []
    for form in ("text", "json"):
        stack.sendgrid.answer_next(400, body=sendgrid_error(f"key {keys['SendGrid key']} refused"))
        slack_echo = {"ok": False, "error": f"invalid_auth {keys['Slack token']}"}
        stack.slack.answer_next(200, body=slack_echo)
        stack.pagerduty.answer_next(400, body={"status": "invalid", "message": keys["routing key"]})
        stack.teams.answer_next(404, body={"error": {"message": keys["Teams webhook URL"]}})
        stack.receiver.answer_next(400, body={"detail": f"bad secret {keys['webhook secret']}"})
        code, out, err = run(capsys, "--policy", "drill", "--format", form)
        assert code == 1
        outputs.append(out + err)
    for name in ("SLACK_BOT_TOKEN", "DRILL_PD_ROUTING_KEY", "DRILL_TEAMS_WEBHOOK_URL"):
        monkeypatch.delenv(name)
    monkeypatch.delenv("DRILL_WEBHOOK_SECRET")
    code, out, err = run(capsys, "--policy", "drill")
    assert code == 1
    outputs.append(out + err)

    assert "[redacted]" in outputs[0], outputs[0]
    artefacts = {f"output {i}": text.encode() for i, text in enumerate(outputs)}
    written = sorted(stack.outbox.iterdir())
    assert len(written) == 4, "the channels without secrets wrote to the outbox"
    artefacts |= {f"outbox {p.name}": p.read_bytes() for p in written}
    leaks = [
        f"{name} ({how}) found in {where}"
        for where, data in artefacts.items()
        for name, secret in keys.items()
        for how, form in forms(secret).items()
        if form in data
    ]
    assert not leaks, "\n".join(leaks)


def forms(secret: str) -> dict[str, bytes]:
    return {
        "text": secret.encode(),
        "base64": base64.b64encode(secret.encode()),
        "URL-quoted": urllib.parse.quote(secret, safe="").encode(),
    }


def test_a_rotation_is_drilled_member_by_member() -> None:
    policy = parse_policy(ROTATION_POLICY, "oncall.yaml")

    contacts, notes = points_of_contact(policy, None, datetime(2026, 3, 1, tzinfo=UTC))

    assert [(c.contact, c.roles, c.rotations) for c in contacts] == [
        ("ana@example.com", ["on_call"], ["primary"]),
        ("bo@example.com", ["on_call"], ["primary"]),
        # An override still ahead names someone who may be on call; one that ended does not.
        ("holiday@example.com", ["on_call"], ["primary"]),
        ("lead@example.com", ["on_call"], []),
    ]
    assert notes == []


def test_a_team_without_overrides_and_an_empty_role_are_noted(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = parse_policy(
        POLICY.replace(
            "    team_lead: [pay-lead@example.com",
            "    executive: []\n    team_lead: [pay-lead@example.com",
        ),
        "drill.yaml",
    )

    _, notes = points_of_contact(policy, "payments", datetime.now(UTC))
    _, elsewhere = points_of_contact(policy, "billing", datetime.now(UTC))

    assert (
        "role executive has no contact on team payments: a level notifying it reaches nobody"
        in notes
    )
    assert elsewhere[0] == (
        "team billing has no overrides in policy drill: its contacts are the policy-wide ones"
    )


def test_an_unknown_policy_exits_1_naming_it(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "--policy", "nosuch")

    assert code == 1
    assert out == ""
    assert err.startswith("escalations drill:")
    assert "nosuch" in err
    assert stack.sendgrid.requests == []
