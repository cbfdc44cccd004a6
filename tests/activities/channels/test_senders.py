"""The channel senders over real HTTP against the loopback provider fakes: what each provider
gets, what each answer becomes (the ``ApplicationError`` types the retry policy reads), and
that no secret (a bot token, a routing key, a webhook URL, a signing secret) reaches an error.

Senders are built as ``ChannelActivities.__init__`` builds them, reading their secrets through
a ``SecretSource`` over a test's own environment mapping.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from pydantic import ValidationError
from standardwebhooks import Webhook
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter, DefaultFailureConverter
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.channels.content import WEBHOOK_SCHEMA_VERSION
from activities.channels.http import MAX_RETRY_DELAY, MIN_RETRY_DELAY, retry_after
from activities.channels.models import ChannelEvent, ChannelNotice, SlackThread
from activities.channels.pagerduty import MAX_SUMMARY, PagerDutySender, dedup_key
from activities.channels.secrets import SecretSource
from activities.channels.slack import SlackSender
from activities.channels.teams import TeamsSender
from activities.channels.webhook import WebhookSender, sign
from activities.models import DeliveryResult
from policies.channels import Channel, SecretRef, WebhookSettings
from tests.activities.notices import make_request
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.slack import FakeSlack
from tests.fakes.teams import FakeTeams, card_problems
from tests.fakes.webhook_receiver import FakeWebhookReceiver

LINK = "https://temporal.example/namespaces/default/workflows/ticket-T-1042"
STATE_EVENTS: tuple[ChannelEvent, ...] = ("acknowledged", "paused", "resumed", "resolved")


def unique(prefix: str) -> str:
    """A value no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def webhook_secret() -> str:
    """A fresh Standard Webhooks secret (whsec_ and base64 of 32 random bytes)."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def make_notice(
    channel: dict[str, Any],
    event: ChannelEvent = "level",
    *,
    thread: SlackThread | None = None,
    ticket_key: str | None = None,
    severity_rank: int = 0,
    **changes: Any,
) -> ChannelNotice:
    """A notice of ticket T-1042 for one channel; ``changes`` go to ``make_request`` (each call
    has its own idempotency key)."""
    return ChannelNotice(
        name=unique("channel"),
        channel=Channel.model_validate(channel),
        event=event,
        notice=make_request(**changes),
        ticket_key=ticket_key or unique("ticket"),
        thread=thread,
        severity_rank=severity_rank,
    )


def failure_of(send: Callable[[], DeliveryResult], *secrets: str) -> ApplicationError:
    """The ``ApplicationError`` ``send`` raises, checked as workflow history would hold it:
    none of ``secrets`` in it, and no chained cause."""
    with pytest.raises(ApplicationError) as caught:
        send()
    error = caught.value
    failure = Failure()
    DefaultFailureConverter().to_failure(error, DataConverter.default.payload_converter, failure)
    recorded = str(failure)
    for secret in secrets:
        assert secret not in recorded
        assert secret not in str(error)
    assert not failure.HasField("cause")
    return error


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn text object's text in Block Kit blocks (what Slack parses for mentions)."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if value.get("type") == "mrkdwn":
                found.append(value["text"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(blocks)
    return found


# -- Slack ------------------------------------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=f"xoxb-{uuid.uuid4().hex}") as fake:
        yield fake


def slack_sender(api_url: str, token: str) -> SlackSender:
    get = SecretSource({"SLACK_BOT_TOKEN": token}).get
    return SlackSender(lambda settings: get(settings.token), api_url=api_url)


def sender_for(fake: FakeSlack) -> SlackSender:
    return slack_sender(fake.url + "/api/", fake.token)


def slack_channel(name: str) -> dict[str, Any]:
    return {"slack": {"channel": f"#{name}"}}


def test_slack_level_without_thread_posts_the_root(slack: FakeSlack) -> None:
    name = unique("payments")
    channel_id = slack.add_channel(name)
    notice = make_notice(slack_channel(name))

    result = sender_for(slack).deliver(notice, LINK)

    (root,) = slack.messages_in(channel_id)
    assert (result.status, result.provider) == ("sent", "slack")
    assert result.message_id == root.ts
    assert result.conversation == channel_id
    assert root.thread_ts is None
    (post,) = slack.posts
    assert post["channel"] == f"#{name}"
    assert "thread_ts" not in post
    assert (post["unfurl_links"], post["unfurl_media"]) == (False, False)
    assert "T-1042" in post["text"]
    # The button to the ticket carries the link.
    assert LINK in json.dumps(post["blocks"])
    assert slack.requests[0].headers["authorization"] == f"Bearer {slack.token}"
    assert slack.problems == []


def test_slack_level_with_a_thread_replies_in_it(slack: FakeSlack) -> None:
    name = unique("payments")
    channel_id = slack.add_channel(name)
    sender = sender_for(slack)
    ticket_key = unique("ticket")
    root = sender.deliver(make_notice(slack_channel(name), ticket_key=ticket_key), None)
    assert root.message_id is not None
    assert root.conversation is not None
    thread = SlackThread(conversation=root.conversation, ts=root.message_id)

    reply = sender.deliver(
        make_notice(slack_channel(name), thread=thread, ticket_key=ticket_key, repeat=1), None
    )

    first, second = slack.messages_in(channel_id)
    assert (first.ts, first.thread_ts) == (root.message_id, None)
    assert (second.ts, second.thread_ts) == (reply.message_id, root.message_id)
    assert reply.conversation == channel_id
    assert reply.detail is not None
    assert "replied in the thread" in reply.detail
    assert slack.posts[1]["thread_ts"] == root.message_id
    assert slack.problems == []


@pytest.mark.parametrize("event", STATE_EVENTS)
def test_slack_state_event_with_a_thread_updates_the_root(
    slack: FakeSlack, event: ChannelEvent
) -> None:
    name = unique("payments")
    channel_id = slack.add_channel(name)
    sender = sender_for(slack)
    root = sender.deliver(make_notice(slack_channel(name)), None)
    assert root.message_id is not None
    assert root.conversation is not None
    thread = SlackThread(conversation=root.conversation, ts=root.message_id)

    result = sender.deliver(make_notice(slack_channel(name), event, thread=thread), None)

    (message,) = slack.messages_in(channel_id)
    assert len(message.edits) == 1
    assert message.edits[0]["ts"] == root.message_id
    assert message.edits[0]["channel"] == channel_id
    assert message.text.endswith(event if event != "paused" else "paused (waiting on the customer)")
    assert slack.updates == message.edits
    assert len(slack.posts) == 1
    assert (result.status, result.message_id, result.conversation) == (
        "sent",
        root.message_id,
        channel_id,
    )
    assert slack.problems == []


@pytest.mark.parametrize("event", STATE_EVENTS)
def test_slack_state_event_without_a_thread_is_skipped(
    slack: FakeSlack, event: ChannelEvent
) -> None:
    name = unique("payments")
    slack.add_channel(name)

    result = sender_for(slack).deliver(make_notice(slack_channel(name), event), None)

    assert (result.status, result.provider, result.message_id) == ("skipped", "slack", None)
    assert slack.requests == []


def test_slack_test_event_is_a_message_of_its_own_even_with_a_thread(slack: FakeSlack) -> None:
    name = unique("payments")
    channel_id = slack.add_channel(name)
    sender = sender_for(slack)
    root = sender.deliver(make_notice(slack_channel(name)), None)
    assert root.message_id is not None
    thread = SlackThread(conversation=channel_id, ts=root.message_id)

    result = sender.deliver(make_notice(slack_channel(name), "test", thread=thread), None)

    assert [m.thread_ts for m in slack.messages_in(channel_id)] == [None, None]
    assert result.message_id != root.message_id
    assert "[TEST]" in slack.posts[1]["text"]
    assert slack.problems == []


def test_slack_ticket_text_cannot_ping_or_forge_links(slack: FakeSlack) -> None:
    name = unique("payments")
    channel_id = slack.add_channel(name)
    hostile = "<!channel> look <http://evil.example|x> & <@U0123ABCD>"
    notice = make_notice(
        slack_channel(name), title=hostile, customer=hostile, reason=hostile, assignee=hostile
    )

    sender_for(slack).deliver(notice, None)

    (post,) = slack.posts
    texts = [post["text"], *mrkdwn_texts(post["blocks"])]
    assert len(texts) > 3
    for text in texts:
        assert "<" not in text
        assert ">" not in text
    assert "&lt;!channel&gt;" in post["text"]
    assert "&lt;http://evil.example|x&gt;" in post["text"]
    assert "&amp;" in post["text"]
    # Where the title appears raw it is a plain_text object, which Slack shows as written and
    # never parses for mentions or links.
    raw = [b for b in post["blocks"] if "<!channel>" in json.dumps(b)]
    assert [(b["type"], b["text"]["type"]) for b in raw] == [("header", "plain_text")]
    assert slack.messages_in(channel_id)[0].text == post["text"]
    assert slack.problems == []


def test_slack_rate_limit_waits_for_retry_after(slack: FakeSlack) -> None:
    name = unique("payments")
    slack.add_channel(name)
    slack.answer_next(429, headers={"Retry-After": "7"})

    error = failure_of(
        lambda: sender_for(slack).deliver(make_notice(slack_channel(name)), None), slack.token
    )

    assert error.type == errors.CHANNEL_RATE_LIMITED
    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=7)
    assert slack.posts == []
    assert slack.problems == []


@pytest.mark.parametrize("error_code", ["channel_not_found", "not_in_channel", "invalid_auth"])
def test_slack_permanent_errors_are_rejections_without_the_token(
    slack: FakeSlack, error_code: str
) -> None:
    name = unique("payments")
    if error_code == "not_in_channel":
        slack.add_channel(name, member=False)
    elif error_code == "invalid_auth":
        slack.add_channel(name)
    # channel_not_found: no such channel in the workspace.
    token = f"xoxb-{uuid.uuid4().hex}" if error_code == "invalid_auth" else slack.token
    sender = slack_sender(slack.url + "/api/", token)

    error = failure_of(
        lambda: sender.deliver(make_notice(slack_channel(name)), None), token, slack.token
    )

    assert error.type == errors.CHANNEL_REJECTED
    assert error.non_retryable
    assert error_code in error.message
    assert slack.posts == []
    (request,) = slack.requests
    assert request.answer["error"] == error_code
    if error_code != "invalid_auth":
        # A valid request that the workspace's state refused.
        assert slack.problems == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"ok": False, "error": "internal_error"}),
        (200, {"ok": False, "error": "internal_error"}),
        (503, None),
    ],
)
def test_slack_server_errors_are_retried(
    slack: FakeSlack, status: int, body: dict[str, Any] | None
) -> None:
    name = unique("payments")
    slack.add_channel(name)
    slack.answer_next(status, body=body)

    error = failure_of(
        lambda: sender_for(slack).deliver(make_notice(slack_channel(name)), None), slack.token
    )

    assert error.type == errors.CHANNEL_UNAVAILABLE
    assert not error.non_retryable
    assert slack.posts == []
    assert slack.problems == []


def test_slack_connection_refused_is_unreachable() -> None:
    token = f"xoxb-{uuid.uuid4().hex}"
    sender = slack_sender(f"http://127.0.0.1:{closed_port()}/api/", token)

    error = failure_of(lambda: sender.deliver(make_notice(slack_channel("ops")), None), token)

    assert error.type == errors.CHANNEL_UNREACHABLE
    assert not error.non_retryable


# -- PagerDuty --------------------------------------------------------------------------------


@pytest.fixture
def routing_key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def pagerduty(routing_key: str) -> Iterator[FakePagerDuty]:
    with FakePagerDuty(routing_keys=[routing_key]) as fake:
        yield fake


def pagerduty_sender(events_url: str, routing_key: str) -> PagerDutySender:
    get = SecretSource({"PD_PAYMENTS_ROUTING_KEY": routing_key}).get
    return PagerDutySender(lambda settings: get(settings.routing_key), events_url=events_url)


def pagerduty_channel(**settings: Any) -> dict[str, Any]:
    return {"pagerduty": {"routing_key_env": "PD_PAYMENTS_ROUTING_KEY", **settings}}


def test_pagerduty_trigger_acknowledge_resolve_share_one_alert(
    pagerduty: FakePagerDuty, routing_key: str
) -> None:
    sender = pagerduty_sender(pagerduty.url, routing_key)
    ticket_key = unique("ticket")
    channel = pagerduty_channel(component="checkout", group="payments")
    statuses: list[str] = []
    results: list[DeliveryResult] = []
    for event in ("level", "acknowledged", "resolved"):
        notice = make_notice(channel, event, ticket_key=ticket_key)
        results.append(sender.deliver(notice, LINK))
        statuses.append(pagerduty.alerts[dedup_key(notice)].status)

    key = f"T-1042:{ticket_key}"
    assert statuses == ["triggered", "acknowledged", "resolved"]
    assert pagerduty.actions_for(key) == ["trigger", "acknowledge", "resolve"]
    assert {r.message_id for r in results} == {key}
    assert {(r.status, r.provider) for r in results} == {("sent", "pagerduty")}
    trigger, acknowledge, resolve = pagerduty.events
    assert trigger["payload"]["component"] == "checkout"
    assert trigger["payload"]["group"] == "payments"
    assert trigger["payload"]["custom_details"]["link"] == LINK
    assert trigger["client_url"] == LINK
    assert trigger["links"] == [{"href": LINK, "text": "The ticket in the Temporal Web UI"}]
    assert set(acknowledge) == set(resolve) == {"routing_key", "event_action", "dedup_key"}
    assert pagerduty.alerts[key].incidents == 1
    assert pagerduty.problems == []


def test_pagerduty_retried_trigger_folds_into_the_open_alert(
    pagerduty: FakePagerDuty, routing_key: str
) -> None:
    sender = pagerduty_sender(pagerduty.url, routing_key)
    notice = make_notice(pagerduty_channel())

    sender.deliver(notice, None)
    sender.deliver(notice, None)

    alert = pagerduty.alerts[dedup_key(notice)]
    assert (alert.incidents, alert.folded) == (1, 1)
    assert pagerduty.problems == []


@pytest.mark.parametrize(
    ("rank", "severity_map", "expected"),
    [
        (0, {}, "critical"),
        (1, {}, "error"),
        (2, {}, "warning"),
        (3, {}, "info"),
        (9, {}, "info"),
        (-1, {}, "critical"),
        (0, {"P1": "warning"}, "warning"),
        (1, {"P1": "info"}, "info"),
        (1, {"P2": "critical"}, "error"),
    ],
)
def test_pagerduty_severity_by_rank_unless_the_policy_says(
    pagerduty: FakePagerDuty,
    routing_key: str,
    rank: int,
    severity_map: dict[str, str],
    expected: str,
) -> None:
    notice = make_notice(pagerduty_channel(severity=severity_map), severity_rank=rank)

    pagerduty_sender(pagerduty.url, routing_key).deliver(notice, None)

    assert pagerduty.alerts[dedup_key(notice)].payload["severity"] == expected
    assert pagerduty.problems == []


@pytest.mark.parametrize("event", ["paused", "resumed"])
def test_pagerduty_pause_and_resume_send_nothing(
    pagerduty: FakePagerDuty, routing_key: str, event: ChannelEvent
) -> None:
    notice = make_notice(pagerduty_channel(), event)

    result = pagerduty_sender(pagerduty.url, routing_key).deliver(notice, None)

    assert (result.status, result.provider) == ("skipped", "pagerduty")
    assert result.message_id == dedup_key(notice)
    assert pagerduty.requests == []


def test_pagerduty_long_title_is_cut_to_a_valid_summary(
    pagerduty: FakePagerDuty, routing_key: str
) -> None:
    title = "Checkout down " + "x" * 5000
    notice = make_notice(pagerduty_channel(), title=title)

    pagerduty_sender(pagerduty.url, routing_key).deliver(notice, None)

    (event,) = pagerduty.events
    summary = event["payload"]["summary"]
    assert len(summary) <= MAX_SUMMARY
    assert summary.startswith("[P1] T-1042 Checkout down x")
    assert summary.endswith(": response-breached")
    assert pagerduty.problems == []


def test_pagerduty_unknown_routing_key_is_rejected_without_the_key(
    pagerduty: FakePagerDuty,
) -> None:
    unknown = uuid.uuid4().hex
    sender = pagerduty_sender(pagerduty.url, unknown)

    error = failure_of(lambda: sender.deliver(make_notice(pagerduty_channel()), None), unknown)

    assert error.type == errors.CHANNEL_REJECTED
    assert error.non_retryable
    assert "Invalid routing key" in error.message
    assert pagerduty.events == []


def test_pagerduty_key_echoed_in_an_answer_is_redacted(
    pagerduty: FakePagerDuty, routing_key: str
) -> None:
    body = {"status": "invalid event", "message": f"no integration for {routing_key}"}
    pagerduty.answer_next(400, body=body)
    sender = pagerduty_sender(pagerduty.url, routing_key)

    error = failure_of(lambda: sender.deliver(make_notice(pagerduty_channel()), None), routing_key)

    assert error.type == errors.CHANNEL_REJECTED
    assert "no integration for [redacted]" in error.message


def test_pagerduty_key_echoed_at_the_end_of_a_long_answer_is_not_leaked(
    pagerduty: FakePagerDuty, routing_key: str
) -> None:
    # The key starts some 20 characters before the 500-character cut of the answer's text.
    pagerduty.answer_next(400, body={"message": "x" * 460 + routing_key})
    sender = pagerduty_sender(pagerduty.url, routing_key)

    error = failure_of(lambda: sender.deliver(make_notice(pagerduty_channel()), None))

    assert routing_key[:12] not in error.message


def test_pagerduty_rate_limit_waits_for_retry_after(
    pagerduty: FakePagerDuty, routing_key: str
) -> None:
    pagerduty.answer_next(429, headers={"Retry-After": "11"})
    sender = pagerduty_sender(pagerduty.url, routing_key)

    error = failure_of(lambda: sender.deliver(make_notice(pagerduty_channel()), None), routing_key)

    assert error.type == errors.CHANNEL_RATE_LIMITED
    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=11)
    assert pagerduty.problems == []


def test_pagerduty_unavailable_is_retried(pagerduty: FakePagerDuty, routing_key: str) -> None:
    pagerduty.answer_next(503)
    sender = pagerduty_sender(pagerduty.url, routing_key)

    error = failure_of(lambda: sender.deliver(make_notice(pagerduty_channel()), None), routing_key)

    assert error.type == errors.CHANNEL_UNAVAILABLE
    assert not error.non_retryable
    assert error.next_retry_delay is None
    assert pagerduty.problems == []


def test_pagerduty_connection_refused_is_unreachable(routing_key: str) -> None:
    sender = pagerduty_sender(f"http://127.0.0.1:{closed_port()}", routing_key)

    error = failure_of(lambda: sender.deliver(make_notice(pagerduty_channel()), None), routing_key)

    assert error.type == errors.CHANNEL_UNREACHABLE
    assert not error.non_retryable


def test_pagerduty_test_event_triggers_info_then_resolves(
    pagerduty: FakePagerDuty, routing_key: str
) -> None:
    notice = make_notice(pagerduty_channel(severity={"P1": "critical"}), "test")

    result = pagerduty_sender(pagerduty.url, routing_key).deliver(notice, None)

    # Its own key: a test never touches a real ticket's alert.
    key = notice.notice.idempotency_key
    assert result.message_id == key
    assert pagerduty.actions_for(key) == ["trigger", "resolve"]
    trigger, resolve = pagerduty.events
    assert trigger["payload"]["severity"] == "info"
    assert trigger["payload"]["custom_details"]["test"] is True
    assert resolve == {"routing_key": routing_key, "dedup_key": key, "event_action": "resolve"}
    assert pagerduty.alerts[key].status == "resolved"
    assert pagerduty.problems == []


# -- Teams ------------------------------------------------------------------------------------


@pytest.fixture
def teams() -> Iterator[FakeTeams]:
    with FakeTeams() as fake:
        yield fake


def teams_sender(webhook_url: str) -> TeamsSender:
    get = SecretSource({"TEAMS_PAYMENTS_URL": webhook_url}).get
    return TeamsSender(lambda settings: get(settings.webhook_url))


TEAMS_CHANNEL: dict[str, Any] = {"teams": {"webhook_url_env": "TEAMS_PAYMENTS_URL"}}


@pytest.mark.parametrize("event", ["level", "test"])
def test_teams_posts_a_valid_adaptive_card(teams: FakeTeams, event: ChannelEvent) -> None:
    notice = make_notice(TEAMS_CHANNEL, event)

    result = teams_sender(teams.add_flow()).deliver(notice, LINK)

    assert (result.status, result.provider) == ("sent", "teams")
    (message,) = teams.messages
    assert message["type"] == "message"
    (card,) = teams.cards
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.5"
    assert card_problems(card) == []
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open ticket", "url": LINK}]
    assert "T-1042" in card["body"][0]["text"]
    assert teams.problems == []


def test_teams_markdown_in_ticket_text_is_escaped(teams: FakeTeams) -> None:
    hostile = "[click](http://evil.example) **bold** _it_ <b>x</b>"
    notice = make_notice(TEAMS_CHANNEL, title=hostile, customer=hostile, reason=hostile)

    teams_sender(teams.add_flow()).deliver(notice, None)

    (card,) = teams.cards
    shown = json.dumps(card, ensure_ascii=False)
    for raw in ("[click](http://evil.example)", "**bold**", "_it_", "<b>"):
        assert raw not in shown
    texts = [block["text"] for block in card["body"] if block["type"] == "TextBlock"]
    texts += [fact["value"] for block in card["body"] for fact in block.get("facts", [])]
    escaped = r"\[click\]\(http://evil.example\) \*\*bold\*\* \_it\_ \<b\>x\</b\>"
    assert sum(escaped in text for text in texts) >= 3
    assert teams.problems == []


@pytest.mark.parametrize("event", STATE_EVENTS)
def test_teams_state_events_are_skipped(teams: FakeTeams, event: ChannelEvent) -> None:
    result = teams_sender(teams.add_flow()).deliver(make_notice(TEAMS_CHANNEL, event), None)

    assert (result.status, result.provider) == ("skipped", "teams")
    assert teams.requests == []


def test_teams_unknown_flow_is_rejected_without_the_url(teams: FakeTeams) -> None:
    flow = teams.add_flow()
    unknown = flow.replace("/workflows/", "/workflows/0")
    signature = unknown.rsplit("sig=", 1)[1]

    error = failure_of(
        lambda: teams_sender(unknown).deliver(make_notice(TEAMS_CHANNEL), None), unknown, signature
    )

    assert error.type == errors.CHANNEL_REJECTED
    assert error.non_retryable
    assert "HTTP 404" in error.message
    assert teams.cards == []


def test_teams_url_echoed_in_an_answer_is_redacted(teams: FakeTeams) -> None:
    flow = teams.add_flow()
    teams.answer_next(403, body={"error": {"code": "Forbidden", "message": f"denied: {flow}"}})

    error = failure_of(
        lambda: teams_sender(flow).deliver(make_notice(TEAMS_CHANNEL), None),
        flow,
        flow.rsplit("sig=", 1)[1],
    )

    assert error.type == errors.CHANNEL_REJECTED
    assert "denied: [redacted]" in error.message
    assert teams.problems == []


def test_teams_rate_limit_waits_for_retry_after(teams: FakeTeams) -> None:
    flow = teams.add_flow()
    teams.answer_next(429, headers={"Retry-After": "5"})

    error = failure_of(lambda: teams_sender(flow).deliver(make_notice(TEAMS_CHANNEL), None), flow)

    assert error.type == errors.CHANNEL_RATE_LIMITED
    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=5)
    assert teams.cards == []
    assert teams.problems == []


def test_teams_connection_refused_is_unreachable_without_the_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}/workflows/x/invoke?sig={uuid.uuid4().hex}"

    error = failure_of(lambda: teams_sender(url).deliver(make_notice(TEAMS_CHANNEL), None), url)

    assert error.type == errors.CHANNEL_UNREACHABLE
    assert not error.non_retryable


# -- Signed webhooks --------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(secret=webhook_secret()) as fake:
        yield fake


def webhook_sender(env: dict[str, str], clock: Callable[[], float] = time.time) -> WebhookSender:
    get = SecretSource(env).get

    def url_for(settings: WebhookSettings) -> str:
        return settings.url or get(SecretRef(env=settings.url_env))

    return WebhookSender(url_for, lambda settings: get(settings.secret), clock=clock)


def webhook_channel(url: str) -> dict[str, Any]:
    return {"webhook": {"url": url, "secret_env": "HOOK_SECRET"}}


def test_webhook_delivery_is_signed_and_keyed_by_the_notice(
    receiver: FakeWebhookReceiver,
) -> None:
    url = receiver.url + "/hooks/" + unique("sla")
    notice = make_notice(webhook_channel(url))

    result = webhook_sender({"HOOK_SECRET": receiver.secret}).deliver(notice, LINK)

    (delivery,) = receiver.deliveries
    # Verified by the receiver, and here again with the reference library.
    assert Webhook(receiver.secret).verify(delivery.raw, delivery.headers) == delivery.payload
    key = notice.notice.idempotency_key
    assert delivery.webhook_id == key
    assert (result.status, result.provider, result.message_id) == ("sent", "webhook", key)
    assert delivery.path == urlpath(url)
    body = delivery.payload
    assert body["type"] == "escalation.fired"
    datetime.fromisoformat(body["timestamp"])
    data = body["data"]
    assert data["schema_version"] == WEBHOOK_SCHEMA_VERSION == 1
    assert (data["event"], data["idempotency_key"], data["test"]) == ("level", key, False)
    assert data["ticket"]["id"] == "T-1042"
    assert data["link"] == LINK
    assert receiver.problems == []


def urlpath(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        ("resolved", "ticket.resolved"),
        ("acknowledged", "ticket.acknowledged"),
        ("paused", "ticket.paused"),
        ("resumed", "ticket.resumed"),
        ("test", "channel.test"),
    ],
)
def test_webhook_type_names_the_event(
    receiver: FakeWebhookReceiver, event: ChannelEvent, kind: str
) -> None:
    notice = make_notice(webhook_channel(receiver.url), event)

    webhook_sender({"HOOK_SECRET": receiver.secret}).deliver(notice, None)

    (delivery,) = receiver.deliveries
    assert delivery.payload["type"] == kind
    assert delivery.payload["data"]["event"] == event
    assert delivery.payload["data"]["test"] is (event == "test")
    assert delivery.payload["data"]["schema_version"] == 1
    assert receiver.problems == []


def test_webhook_timestamp_and_signature_come_from_the_clock(
    receiver: FakeWebhookReceiver,
) -> None:
    moment = int(time.time()) - 90
    notice = make_notice(webhook_channel(receiver.url))

    webhook_sender({"HOOK_SECRET": receiver.secret}, clock=lambda: moment + 0.75).deliver(
        notice, None
    )

    (delivery,) = receiver.deliveries
    assert delivery.timestamp == moment
    key, when, raw = (
        notice.notice.idempotency_key,
        datetime.fromtimestamp(moment, UTC),
        delivery.raw,
    )
    expected = Webhook(receiver.secret).sign(key, when, raw.decode())
    assert delivery.headers["webhook-signature"] == expected
    assert sign(receiver.secret, key, when, raw.decode()) == expected
    assert receiver.problems == []


def test_webhook_retry_of_a_notice_carries_the_same_id(receiver: FakeWebhookReceiver) -> None:
    sender = webhook_sender({"HOOK_SECRET": receiver.secret})
    notice = make_notice(webhook_channel(receiver.url))

    first = sender.deliver(notice, None)
    again = sender.deliver(notice, None)

    key = notice.notice.idempotency_key
    assert [d.webhook_id for d in receiver.deliveries] == [key, key]
    assert receiver.unique_ids == [key]
    assert receiver.duplicates == 1
    assert first.message_id == again.message_id == key
    assert receiver.problems == []


def test_webhook_gone_is_rejected(receiver: FakeWebhookReceiver) -> None:
    receiver.answer_next(410, body={"error": "endpoint disabled"})
    sender = webhook_sender({"HOOK_SECRET": receiver.secret})

    error = failure_of(
        lambda: sender.deliver(make_notice(webhook_channel(receiver.url)), None), receiver.secret
    )

    assert error.type == errors.CHANNEL_REJECTED
    assert error.non_retryable
    assert "HTTP 410" in error.message
    assert receiver.problems == []


def test_webhook_unavailable_waits_for_retry_after(receiver: FakeWebhookReceiver) -> None:
    receiver.answer_next(503, headers={"Retry-After": "4"})
    sender = webhook_sender({"HOOK_SECRET": receiver.secret})

    error = failure_of(
        lambda: sender.deliver(make_notice(webhook_channel(receiver.url)), None), receiver.secret
    )

    assert error.type == errors.CHANNEL_UNAVAILABLE
    assert not error.non_retryable
    assert error.next_retry_delay == timedelta(seconds=4)
    assert receiver.deliveries == []
    assert receiver.problems == []


def test_webhook_rate_limit_waits_for_retry_after(receiver: FakeWebhookReceiver) -> None:
    receiver.answer_next(429, headers={"Retry-After": "2"})
    sender = webhook_sender({"HOOK_SECRET": receiver.secret})

    error = failure_of(lambda: sender.deliver(make_notice(webhook_channel(receiver.url)), None))

    assert error.type == errors.CHANNEL_RATE_LIMITED
    assert error.next_retry_delay == timedelta(seconds=2)


@pytest.mark.parametrize("secret", ["whsec_a", "whsec_***", "whsec_Zm9vY", "whsec_!!!!"])
def test_webhook_malformed_secret_is_rejected_without_showing_it(
    receiver: FakeWebhookReceiver, secret: str
) -> None:
    sender = webhook_sender({"HOOK_SECRET": secret})

    error = failure_of(
        lambda: sender.deliver(make_notice(webhook_channel(receiver.url)), None), secret
    )

    assert error.type == errors.CHANNEL_REJECTED
    assert error.non_retryable
    assert "whsec_" in error.message
    assert receiver.requests == []


def test_webhook_plain_password_secret_is_rejected_before_sending(
    receiver: FakeWebhookReceiver,
) -> None:
    secret = "hunter2-plain-password"
    sender = webhook_sender({"HOOK_SECRET": secret})

    error = failure_of(
        lambda: sender.deliver(make_notice(webhook_channel(receiver.url)), None), secret
    )

    assert error.type == errors.CHANNEL_REJECTED
    assert receiver.requests == []


def test_webhook_url_from_the_environment_is_redacted(receiver: FakeWebhookReceiver) -> None:
    url = f"{receiver.url}/hooks/{uuid.uuid4().hex}"
    receiver.answer_next(400, body={"error": f"no route {url}"})
    channel = {"webhook": {"url_env": "HOOK_URL", "secret_env": "HOOK_SECRET"}}
    sender = webhook_sender({"HOOK_SECRET": receiver.secret, "HOOK_URL": url})

    error = failure_of(lambda: sender.deliver(make_notice(channel), None), url, receiver.secret)

    assert error.type == errors.CHANNEL_REJECTED
    assert "no route [redacted]" in error.message
    assert receiver.problems == []


def test_webhook_connection_refused_is_unreachable() -> None:
    secret = webhook_secret()
    url = f"http://127.0.0.1:{closed_port()}/hooks/sla"

    error = failure_of(
        lambda: webhook_sender({"HOOK_SECRET": secret}).deliver(
            make_notice(webhook_channel(url)), None
        ),
        secret,
    )

    assert error.type == errors.CHANNEL_UNREACHABLE
    assert not error.non_retryable


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/sla",
        "http://10.0.0.7/sla",
        "http://127.0.0.1.evil.example/sla",
        "http://localhost.evil.example/sla",
        "http://127.0.0.1@evil.example/sla",
        "ftp://127.0.0.1/sla",
        "https://itsm.example/hooks/sla with space",
    ],
)
def test_webhook_url_must_be_https_unless_loopback(url: str) -> None:
    with pytest.raises(ValidationError):
        Channel.model_validate(webhook_channel(url))


@pytest.mark.parametrize(
    "url",
    [
        "https://itsm.example/hooks/sla",
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "http://[::1]:9000/hooks",
    ],
)
def test_webhook_url_https_or_loopback_http_is_accepted(url: str) -> None:
    channel = Channel.model_validate(webhook_channel(url))

    assert channel.webhook is not None
    assert channel.webhook.url == url


# -- Retry-After ------------------------------------------------------------------------------


def test_retry_after_reads_seconds_or_a_date_and_stays_bounded() -> None:
    now = 1_750_000_000.0
    in_a_minute = format_datetime(datetime.fromtimestamp(now + 60, UTC), usegmt=True)
    an_hour_ago = format_datetime(datetime.fromtimestamp(now - 3600, UTC), usegmt=True)

    def wait(value: str | None) -> timedelta:
        return retry_after({} if value is None else {"retry-after": value}, clock=lambda: now)

    assert wait("7") == timedelta(seconds=7)
    assert wait(" 2.5 ") == timedelta(seconds=2.5)
    assert wait(in_a_minute) == timedelta(seconds=60)
    assert wait(an_hour_ago) == MIN_RETRY_DELAY == timedelta(seconds=1)
    for garbage in (None, "", "soon", "0", "-30", "nan", "Thu, 99 Foo 2025"):
        assert wait(garbage) == timedelta(seconds=1), garbage
    for huge in ("86400", "1e300", "inf"):
        assert wait(huge) <= MAX_RETRY_DELAY == timedelta(minutes=15), huge
    assert wait("86400") == timedelta(minutes=15)
