"""The ``send_channel_notice`` activity's choices: live or outbox by whether a channel's secrets
resolve, once per idempotency key through the outbox and the delivery ledger, and secrets read
from the environment or a file without ever being written down or shown.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import errors
from activities.channels import pagerduty, slack, teams, webhook
from activities.channels.content import ticket_link
from activities.channels.dispatch import ChannelActivities, ChannelEndpoints, channel_mode
from activities.channels.models import ChannelEvent, ChannelNotice
from activities.channels.secrets import MAX_SECRET_BYTES, SecretSource, SecretUnavailable
from activities.delivery_ledger import DeliveryLedger
from activities.outbox import OutboxWriter, outbox_file_name
from policies.channels import Channel, SecretRef
from tests.activities.notices import make_request
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack

FROM = "escalations@example.com"
LINK = "https://temporal.example/namespaces/default/workflows/ticket-T-1042"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def make_notice(
    channel: dict[str, Any] | Channel, event: ChannelEvent = "level", **changes: Any
) -> ChannelNotice:
    return ChannelNotice(
        name=unique("channel"),
        channel=channel if isinstance(channel, Channel) else Channel.model_validate(channel),
        event=event,
        notice=make_request(**changes),
        ticket_key=unique("ticket"),
    )


def nowhere() -> ChannelEndpoints:
    """Provider addresses where nothing listens: a send that should not happen fails loudly."""
    port = closed_port()
    return ChannelEndpoints(
        slack_api_url=f"http://127.0.0.1:{port}/api/",
        pagerduty_events_url=f"http://127.0.0.1:{port}",
    )


def build(
    tmp_path: Path,
    env: Mapping[str, str],
    endpoints: ChannelEndpoints | None = None,
    ledger: DeliveryLedger | None = None,
) -> ChannelActivities:
    return ChannelActivities(
        OutboxWriter(tmp_path / "outbox", FROM),
        endpoints or nowhere(),
        secrets=SecretSource(env),
        ledger=ledger,
    )


def outbox_path(tmp_path: Path, notice: ChannelNotice) -> Path:
    stem = outbox_file_name(notice.notice.idempotency_key).removesuffix(".eml")
    return tmp_path / "outbox" / f"{stem}.{notice.channel.kind}.json"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[DeliveryLedger]:
    opened = DeliveryLedger(tmp_path / "l.sqlite3")
    yield opened
    opened.close()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=f"xoxb-{uuid.uuid4().hex}") as fake:
        yield fake


def slack_endpoints(fake: FakeSlack) -> ChannelEndpoints:
    return ChannelEndpoints(slack_api_url=fake.url + "/api/")


# -- the outbox -------------------------------------------------------------------------------


def distinctive_secrets() -> dict[str, str]:
    """A value for every variable the channels below name, each one no file may contain."""

    def tag() -> str:
        return uuid.uuid4().hex

    return {
        "SLACK_BOT_TOKEN": f"xoxb-slack-{tag()}",
        "PD_PAYMENTS_ROUTING_KEY": tag(),
        "TEAMS_PAYMENTS_URL": f"https://prod-07.westeurope.logic.azure.com/workflows/{tag()}"
        f"/triggers/manual/paths/invoke?api-version=2016-06-01&sig=teams-sig-{tag()}",
        "HOOK_SECRET": "whsec_" + base64.b64encode(os.urandom(32)).decode(),
        "HOOK_URL": f"https://itsm.example/hooks/url-token-{tag()}",
    }


# (channel settings, the variable left unset so the channel writes to the outbox)
OUTBOX_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "slack": ({"slack": {"channel": "#payments-escalations"}}, "SLACK_BOT_TOKEN"),
    "pagerduty": (
        {"pagerduty": {"routing_key_env": "PD_PAYMENTS_ROUTING_KEY", "component": "checkout"}},
        "PD_PAYMENTS_ROUTING_KEY",
    ),
    "teams": ({"teams": {"webhook_url_env": "TEAMS_PAYMENTS_URL"}}, "TEAMS_PAYMENTS_URL"),
    "webhook-secret-unset": (
        {"webhook": {"url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"}},
        "HOOK_SECRET",
    ),
    "webhook-url-unset": (
        {"webhook": {"url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"}},
        "HOOK_URL",
    ),
    "webhook-literal-url": (
        {"webhook": {"url": "https://itsm.example/hooks/sla", "secret_env": "HOOK_SECRET"}},
        "HOOK_SECRET",
    ),
}


def provider_body(notice: ChannelNotice, written: dict[str, Any]) -> Any:
    """What the provider would get for ``notice``, built by the provider module, as JSON."""
    settings = notice.channel.settings
    body: Any
    if notice.channel.slack is not None:
        call = slack.slack_request(notice, LINK)
        assert call is not None
        body = call[1]
    elif notice.channel.pagerduty is not None:
        body = pagerduty.build_event(notice.channel.pagerduty, notice, written["routing_key"], LINK)
    elif notice.channel.teams is not None:
        body = teams.build_message(notice, LINK)
    else:
        assert settings.kind == "webhook"
        body = webhook.build_body(notice, LINK, datetime.fromisoformat(written["timestamp"]))
    return json.loads(json.dumps(body))


@pytest.mark.parametrize("case", OUTBOX_CASES)
def test_unset_secret_writes_the_request_to_the_outbox_without_any_secret(
    tmp_path: Path, case: str
) -> None:
    settings, unset = OUTBOX_CASES[case]
    env = distinctive_secrets()
    del env[unset]
    notice = make_notice(settings)

    result = build(tmp_path, env).deliver(notice, LINK)

    path = outbox_path(tmp_path, notice)
    assert (result.status, result.provider) == ("written", "outbox")
    assert result.detail is not None
    assert str(path) in result.detail
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [path.name]
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["kind"] == notice.channel.kind
    assert document["channel"] == notice.name
    assert document["idempotency_key"] == notice.notice.idempotency_key
    assert f"${unset} is not set" in document["not_sent_because"]
    request = document["request"]
    assert request["body"] == provider_body(notice, request["body"])
    # Every secret is named by where it is kept, never by its value.
    text = "\n".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file())
    for value in env.values():
        assert value not in text
    if notice.channel.pagerduty is not None:
        assert request["body"]["routing_key"] == "<$PD_PAYMENTS_ROUTING_KEY>"
        # status shows the id PagerDuty would have answered with: the alert's dedup_key.
        assert result.message_id == request["body"]["dedup_key"]
    if notice.channel.slack is not None:
        assert request["headers"] == {"Authorization": "Bearer <$SLACK_BOT_TOKEN>"}
        assert request["url"].endswith("/api/chat.postMessage")
    if notice.channel.webhook is not None:
        assert request["headers"]["webhook-id"] == notice.notice.idempotency_key
        assert result.message_id == notice.notice.idempotency_key
        assert "HOOK_SECRET" in request["headers"]["webhook-signature"]


def test_a_second_deliver_of_the_same_key_does_not_write_again(tmp_path: Path) -> None:
    channel = {"webhook": {"url": "https://itsm.example/hooks/sla", "secret_env": "HOOK_SECRET"}}
    activities = build(tmp_path, {})
    notice = make_notice(channel)

    first = activities.deliver(notice, None)
    path = outbox_path(tmp_path, notice)
    written = path.read_bytes()
    stat = path.stat()
    again = activities.deliver(notice, None)

    assert [p.name for p in (tmp_path / "outbox").iterdir()] == [path.name]
    # The webhook body carries its time: a rewrite would differ, or at least touch the file.
    assert path.read_bytes() == written
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    assert first.message_id == again.message_id
    assert again.status == "written"


def test_a_state_event_without_a_thread_writes_nothing(tmp_path: Path) -> None:
    notice = make_notice({"slack": {"channel": "#payments"}}, "resolved")

    result = build(tmp_path, {}).deliver(notice, None)

    assert (result.status, result.provider) == ("skipped", "outbox")
    assert not (tmp_path / "outbox").exists()


# -- the delivery ledger ----------------------------------------------------------------------


def test_ledger_returns_the_accepted_slack_post_instead_of_posting_again(
    tmp_path: Path, fake_slack: FakeSlack, ledger: DeliveryLedger
) -> None:
    name = unique("payments")
    channel_id = fake_slack.add_channel(name)
    activities = build(
        tmp_path, {"SLACK_BOT_TOKEN": fake_slack.token}, slack_endpoints(fake_slack), ledger
    )
    notice = make_notice({"slack": {"channel": f"#{name}"}})

    first = activities.deliver(notice, None)
    again = activities.deliver(notice, None)

    assert (first.status, first.conversation) == ("sent", channel_id)
    assert (again.status, again.provider) == ("sent", "slack")
    assert (again.message_id, again.conversation) == (first.message_id, first.conversation)
    assert again.detail is not None
    assert "not sent again" in again.detail
    assert len(fake_slack.posts) == 1
    assert len(fake_slack.messages_in(channel_id)) == 1
    assert fake_slack.problems == []


def test_a_skipped_result_is_not_recorded(
    tmp_path: Path, fake_slack: FakeSlack, ledger: DeliveryLedger
) -> None:
    name = unique("payments")
    fake_slack.add_channel(name)
    activities = build(
        tmp_path, {"SLACK_BOT_TOKEN": fake_slack.token}, slack_endpoints(fake_slack), ledger
    )
    skipped = make_notice({"slack": {"channel": f"#{name}"}}, "acknowledged")
    sent = make_notice({"slack": {"channel": f"#{name}"}})

    result = activities.deliver(skipped, None)
    activities.deliver(sent, None)

    assert result.status == "skipped"
    assert ledger.lookup(skipped.notice.idempotency_key) is None
    assert ledger.lookup(sent.notice.idempotency_key) is not None
    assert len(fake_slack.requests) == 1


def test_ledger_keeps_one_pagerduty_trigger_per_notice(
    tmp_path: Path, ledger: DeliveryLedger
) -> None:
    key = uuid.uuid4().hex
    with FakePagerDuty(routing_keys=[key]) as fake:
        activities = build(
            tmp_path,
            {"PD_PAYMENTS_ROUTING_KEY": key},
            ChannelEndpoints(pagerduty_events_url=fake.url),
            ledger,
        )
        notice = make_notice({"pagerduty": {"routing_key_env": "PD_PAYMENTS_ROUTING_KEY"}})

        first = activities.deliver(notice, None)
        again = activities.deliver(notice, None)

        assert again.message_id == first.message_id
        assert first.message_id is not None
        assert fake.actions_for(first.message_id) == ["trigger"]
        assert fake.problems == []


# -- live or outbox ---------------------------------------------------------------------------


def test_channel_mode_names_the_unset_variable() -> None:
    slack_channel = Channel.model_validate({"slack": {"channel": "#payments"}})
    named = Channel.model_validate({"slack": {"channel": "#ops", "token_env": "SLACK_OPS_TOKEN"}})
    hook = Channel.model_validate({"webhook": {"url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"}})
    token = f"xoxb-{uuid.uuid4().hex}"

    assert channel_mode(slack_channel, SecretSource({})) == "outbox ($SLACK_BOT_TOKEN is not set)"
    assert channel_mode(slack_channel, SecretSource({"SLACK_BOT_TOKEN": token})) == "live"
    assert channel_mode(slack_channel, SecretSource({"SLACK_BOT_TOKEN": "  \n"})).startswith(
        "outbox ($SLACK_BOT_TOKEN"
    )
    assert channel_mode(named, SecretSource({"SLACK_BOT_TOKEN": token})) == (
        "outbox ($SLACK_OPS_TOKEN is not set)"
    )
    assert channel_mode(hook, SecretSource({"HOOK_SECRET": "whsec_x"})) == (
        "outbox ($HOOK_URL is not set)"
    )
    assert channel_mode(hook, SecretSource({"HOOK_URL": "https://x.example"})) == (
        "outbox ($HOOK_SECRET is not set)"
    )


@pytest.fixture
def secret_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A directory whose path the policy accepts (letters, digits, '.', '_', '-', '/').
    return tmp_path_factory.mktemp("secrets")


def test_a_token_file_is_read_and_used(
    tmp_path: Path, secret_dir: Path, fake_slack: FakeSlack
) -> None:
    path = secret_dir / "slack-token"
    path.write_text(f"  {fake_slack.token}\n", encoding="utf-8")
    name = unique("payments")
    channel_id = fake_slack.add_channel(name)
    channel = Channel.model_validate({"slack": {"channel": f"#{name}", "token_file": str(path)}})
    activities = build(tmp_path, {}, slack_endpoints(fake_slack))

    assert SecretSource({}).get(SecretRef(file=str(path))) == fake_slack.token
    assert channel_mode(channel, SecretSource({})) == "live"
    result = activities.deliver(make_notice(channel), None)

    assert (result.status, result.conversation) == ("sent", channel_id)
    assert fake_slack.requests[0].headers["authorization"] == f"Bearer {fake_slack.token}"
    assert fake_slack.problems == []


def test_a_secret_file_of_the_largest_size_is_read(secret_dir: Path) -> None:
    path = secret_dir / "largest"
    value = "k" * MAX_SECRET_BYTES
    path.write_text(value, encoding="utf-8")

    assert SecretSource({}).get(SecretRef(file=str(path))) == value


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (" \n\t\n", "is empty"),
        ("TOPSECRET-" * (MAX_SECRET_BYTES // 10 + 1), f"is over {MAX_SECRET_BYTES} bytes"),
        (None, "cannot be read"),
    ],
    ids=["empty", "oversized", "missing"],
)
def test_an_unusable_secret_file_names_the_path_and_not_the_content(
    tmp_path: Path, secret_dir: Path, content: str | None, why: str
) -> None:
    path = secret_dir / unique("token")
    if content is not None:
        path.write_text(content, encoding="utf-8")
    ref = SecretRef(file=str(path))
    channel = Channel.model_validate({"slack": {"channel": "#payments", "token_file": str(path)}})

    with pytest.raises(SecretUnavailable) as raised:
        SecretSource({}).get(ref)
    mode = channel_mode(channel, SecretSource({}))
    notice = make_notice(channel)
    result = build(tmp_path, {}).deliver(notice, None)

    message = str(raised.value)
    assert str(path) in message
    assert why in message
    assert "TOPSECRET" not in message
    assert mode == f"outbox ({message})"
    assert result.status == "written"
    written = outbox_path(tmp_path, notice).read_text(encoding="utf-8")
    assert str(path) in written
    assert "TOPSECRET" not in written


class VanishingEnv(Mapping[str, str]):
    """An environment whose variables can be read once: a secret removed between the check
    that a channel is live and the send."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> str:
        return self._values.pop(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def test_a_secret_removed_before_the_send_is_retried(tmp_path: Path, fake_slack: FakeSlack) -> None:
    name = unique("payments")
    fake_slack.add_channel(name)
    activities = ChannelActivities(
        OutboxWriter(tmp_path / "outbox", FROM),
        slack_endpoints(fake_slack),
        secrets=SecretSource(VanishingEnv({"SLACK_BOT_TOKEN": fake_slack.token})),
    )

    with pytest.raises(ApplicationError) as raised:
        activities.deliver(make_notice({"slack": {"channel": f"#{name}"}}), None)

    assert raised.value.type == errors.SECRET_UNAVAILABLE
    assert not raised.value.non_retryable
    assert "$SLACK_BOT_TOKEN" in raised.value.message
    assert fake_slack.requests == []
    assert not (tmp_path / "outbox").exists()


def test_the_activity_links_the_notice_to_the_ticket_in_the_web_ui(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    name = unique("payments")
    fake_slack.add_channel(name)
    web_ui = "https://temporal.example/"
    activities = ChannelActivities(
        OutboxWriter(tmp_path / "outbox", FROM),
        ChannelEndpoints(slack_api_url=fake_slack.url + "/api/", web_ui_url=web_ui),
        secrets=SecretSource({"SLACK_BOT_TOKEN": fake_slack.token}),
    )
    env = ActivityEnvironment()

    result = env.run(
        activities.send_channel_notice, make_notice({"slack": {"channel": f"#{name}"}})
    )

    link = ticket_link(web_ui, env.info.namespace, env.info.workflow_id)
    assert link == "https://temporal.example/namespaces/default/workflows/test"
    assert result.status == "sent"
    (post,) = fake_slack.posts
    buttons = [b for b in post["blocks"] if b["type"] == "actions"]
    assert buttons[0]["elements"][0]["url"] == link
    assert fake_slack.problems == []


def test_the_environment_is_read_when_no_source_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    variable = f"SLACK_TOKEN_{uuid.uuid4().hex.upper()}"
    channel = Channel.model_validate({"slack": {"channel": "#ops", "token_env": variable}})
    monkeypatch.delenv(variable, raising=False)

    assert channel_mode(channel) == f"outbox (${variable} is not set)"
    monkeypatch.setenv(variable, "xoxb-from-the-environment")
    assert channel_mode(channel) == "live"
