"""Channels in policies: every mistake an author can make is named with its file and field,
and a channel survives the trip through a ticket's history unchanged."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from policies.channels import Channel, PagerDutySettings, SecretRef, severity_for, url_problem
from policies.loader import PolicyError, parse_policy
from policies.model import Policy

BASE = """\
name: chan
version: 1
targets:
  P1: {first_response: 15m, resolution: 4h}
  P2: {first_response: 1h, resolution: 8h}
  P3: {first_response: 4h, resolution: 1d}
channels:
%s
contacts:
  team_lead: [lead@example.com, %s]
levels:
  - {name: at-risk, when: {clock: first_response, at: 50%%}, notify: [team_lead]}
"""
GOOD = """\
  slack-payments: {slack: {channel: "#payments-escalations"}}
  pd-payments: {pagerduty: {routing_key_env: PD_PAYMENTS_ROUTING_KEY, severity: {P2: critical}}}
  teams-ops: {teams: {webhook_url_file: /run/secrets/teams-ops}}
  itsm: {webhook: {url: "https://itsm.example/hooks/sla", secret_env: ITSM_WEBHOOK_SECRET}}"""


def problems(channels: str, contact: str = "slack-payments") -> str:
    with pytest.raises(PolicyError) as caught:
        parse_policy(BASE % (channels, contact), "policies/chan.yaml")
    return str(caught.value)


def test_a_policy_with_all_four_channels_loads() -> None:
    policy = parse_policy(BASE % (GOOD, "slack-payments, pd-payments"), "chan.yaml")
    assert [c.kind for c in policy.channels.values()] == ["slack", "pagerduty", "teams", "webhook"]
    assert policy.contacts["team_lead"] == ["lead@example.com", "slack-payments", "pd-payments"]


def test_a_channel_survives_the_round_trip_through_history() -> None:
    policy = parse_policy(BASE % (GOOD, "itsm"), "chan.yaml")
    again = Policy.model_validate_json(policy.model_dump_json())
    assert again == policy


@pytest.mark.parametrize(
    ("channels", "contact", "expected"),
    [
        pytest.param(
            GOOD,
            "slak-payments",
            "contacts.team_lead.1: 'slak-payments' is not an email address, and no channel of "
            "that name is defined under channels (defined: itsm, pd-payments, slack-payments, "
            "teams-ops)",
            id="unknown-channel",
        ),
        pytest.param(
            "  pd: {pagerduty: {severity: {P1: critical}}}",
            "pd",
            "channels.pd.pagerduty: needs exactly one of routing_key_env",
            id="missing-secret-reference",
        ),
        pytest.param(
            "  pd: {pagerduty: {routing_key: 0123456789abcdef0123456789abcdef}}",
            "pd",
            "routing_key: secrets are never written in a policy; name the environment variable",
            id="secret-written-in-the-policy",
        ),
        pytest.param(
            '  hook: {webhook: {url: "http://itsm.example/hooks", secret_env: S}}',
            "hook",
            "channels.hook.webhook.url: 'http://itsm.example/hooks' must use https",
            id="plain-http-url",
        ),
        pytest.param(
            '  hook: {webhook: {url: "https://user:pw@itsm.example/", secret_env: S}}',
            "hook",
            "may not carry a user name or password",
            id="credentials-in-url",
        ),
        pytest.param(
            '  hook: {webhook: {url: "ftp://itsm.example/", secret_env: S}}',
            "hook",
            "is not an http(s) URL",
            id="not-http",
        ),
        pytest.param(
            '  s: {slack: {channel: "Payments Team"}}',
            "s",
            "channels.s.slack.channel: 'Payments Team' is not a Slack channel",
            id="malformed-slack-channel",
        ),
        pytest.param(
            "  s: {slack: {channel: '#ops', routing_key_env: PD_KEY}}",
            "s",
            "routing_key_env: a setting of pagerduty channels, not slack; slack takes channel, "
            "token_env, token_file",
            id="setting-of-another-kind",
        ),
        pytest.param(
            "  s: {slack: {channel: '#ops'}, teams: {webhook_url_env: T}}",
            "s",
            "a channel is exactly one of slack, pagerduty, teams or webhook",
            id="two-kinds",
        ),
        pytest.param(
            "  s: {sms: {number: '+1555'}}",
            "s",
            "a channel is exactly one of slack, pagerduty, teams or webhook",
            id="unknown-kind",
        ),
        pytest.param(
            "  email: {slack: {channel: '#ops'}}",
            "email",
            "channels.email: the name is reserved",
            id="reserved-name",
        ),
        pytest.param(
            "  pd: {pagerduty: {routing_key_env: K, severity: {P9: critical}}}",
            "pd",
            "channels.pd.pagerduty.severity.P9: priority 'P9' has no targets",
            id="severity-for-unknown-priority",
        ),
        pytest.param(
            "  pd: {pagerduty: {routing_key_env: lower_case}}",
            "pd",
            "'lower_case' is not an environment variable name",
            id="bad-variable-name",
        ),
        pytest.param(
            "  pd: {pagerduty: {routing_key_file: ../secrets/pd}}",
            "pd",
            "is not an absolute path",
            id="relative-secret-file",
        ),
        pytest.param(
            "  pd: {pagerduty: {routing_key_file: /run/secrets/../../etc/shadow}}",
            "pd",
            "no '..'",
            id="secret-file-escapes",
        ),
    ],
)
def test_mistakes_name_the_file_and_field(channels: str, contact: str, expected: str) -> None:
    message = problems(channels, contact)
    assert "policies/chan.yaml" in message
    assert expected in message, message


@pytest.mark.parametrize(
    "url",
    [
        "https://itsm.example/a\nb",
        "https://itsm.example/\x00",
        "https://itsm.example:notaport/",
        "https://" + "a" * 2001,
        "https://[::1/",
    ],
)
def test_hostile_urls_are_refused_with_a_reason(url: str) -> None:
    assert url_problem(url) is not None


@pytest.mark.parametrize(
    "url", ["https://itsm.example/hooks/sla", "http://127.0.0.1:8080/x", "http://[::1]:9/x"]
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert url_problem(url) is None


def test_the_slack_token_defaults_to_the_worker_wide_variable() -> None:
    channel = Channel.model_validate({"slack": {"channel": "C0123ABCD"}})
    assert channel.secrets() == [SecretRef(env="SLACK_BOT_TOKEN")]
    named = Channel.model_validate({"slack": {"channel": "#ops", "token_file": "/run/s/t"}})
    assert named.secrets() == [SecretRef(file="/run/s/t")]


def test_severity_follows_the_priority_rank_unless_the_policy_maps_it() -> None:
    settings = PagerDutySettings(routing_key_env="K", severity={"P3": "critical"})
    order = ["P1", "P2", "P3", "P4", "P5"]
    assert [severity_for(settings, p, order.index(p)) for p in order] == [
        "critical",
        "error",
        "critical",
        "info",
        "info",
    ]


def test_a_channel_is_refused_where_an_email_address_is_required() -> None:
    with pytest.raises(ValidationError):
        Channel.model_validate({"webhook": {"url": "https://x.example/", "url_env": "U"}})
