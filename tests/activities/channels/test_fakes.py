"""The notification-provider fakes themselves: each accepts what its provider's published
specification allows, rejects what it forbids, and answers as the provider does.

Slack is driven with the real ``slack_sdk.WebClient``; the others with plain ``http.client``.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import standardwebhooks.webhooks
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.fakes.loopback import load_vendored
from tests.fakes.pagerduty import DEFAULT_ROUTING_KEY, FakePagerDuty
from tests.fakes.slack import SPEC_FILE, FakeSlack, block_problems, spec_error_codes
from tests.fakes.teams import FakeTeams, card_problems, card_validator, example_envelope
from tests.fakes.webhook_receiver import FakeWebhookReceiver

TOKEN = "xoxb-test-token"
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
ROUTING_KEY = DEFAULT_ROUTING_KEY


def send(
    url: str,
    body: bytes | Any,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, dict[str, str], Any]:
    """POST ``body`` (JSON-encoded unless bytes); return status, lower-cased headers, JSON."""
    parts = urlsplit(url)
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request(
            method,
            target,
            body=raw,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        data = response.read()
        answer_headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, answer_headers, json.loads(data) if data else None
    finally:
        connection.close()


# -- Slack ------------------------------------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def client_for(fake: FakeSlack, token: str | None = TOKEN) -> WebClient:
    # No retry handlers: a test sees each answer, a 429 included.
    return WebClient(token=token, base_url=fake.url + "/api/", retry_handlers=[])


def slack_response_schema(method: str, status: str) -> dict[str, Any]:
    """The spec's schema of a ``method`` answer, with the definitions its $refs need."""
    spec = load_vendored(SPEC_FILE)
    schema = spec["paths"][f"/{method}"]["post"]["responses"][status]["schema"]
    return {**schema, "definitions": spec["definitions"]}


SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*P1* ticket 42 breached"}}


def test_slack_post_thread_reply_and_update_by_channel_id(slack: FakeSlack) -> None:
    channel = slack.add_channel("payments-escalations")
    client = client_for(slack)

    root = client.chat_postMessage(
        channel="#payments-escalations", text="Ticket 42 breached", blocks=[SECTION]
    )
    reply = client.chat_postMessage(channel=channel, text="Escalated", thread_ts=root["ts"])
    updated = client.chat_update(channel=channel, ts=root["ts"], text="Ticket 42 resolved")

    assert root["channel"] == channel
    assert float(reply["ts"]) > float(root["ts"])
    assert reply["message"]["thread_ts"] == root["ts"]
    assert updated["text"] == "Ticket 42 resolved"
    # The answers are what the spec's success schemas describe.
    jsonschema.Draft4Validator(slack_response_schema("chat.postMessage", "200")).validate(root.data)
    # One deliberate departure: the spec types chat.update's message.blocks as an object; Slack
    # (and this fake) answer the blocks array.
    update_errors = jsonschema.Draft4Validator(
        slack_response_schema("chat.update", "200")
    ).iter_errors(updated.data)
    assert [e.json_path for e in update_errors] == ["$.message.blocks"]
    messages = slack.messages_in(channel)
    assert [(m.ts, m.thread_ts, m.text) for m in messages] == [
        (root["ts"], None, "Ticket 42 resolved"),
        (reply["ts"], root["ts"], "Escalated"),
    ]
    assert messages[0].blocks == [SECTION]
    assert [p["channel"] for p in slack.posts] == ["#payments-escalations", channel]
    assert slack.updates == [{"channel": channel, "ts": root["ts"], "text": "Ticket 42 resolved"}]
    assert slack.wait_for(1, timeout=1, method="chat.update") == slack.updates
    assert slack.problems == []


def test_slack_sends_json_with_a_bearer_token(slack: FakeSlack) -> None:
    slack.add_channel("ops")
    client_for(slack).chat_postMessage(channel="ops", text="hello", unfurl_links=False)

    (request,) = slack.requests
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"].startswith("application/json")
    assert request.params == {"channel": "ops", "text": "hello", "unfurl_links": False}


def test_slack_accepts_form_encoded_parameters(slack: FakeSlack) -> None:
    slack.add_channel("ops")
    client = client_for(slack)
    # api_call(params=...) sends a form: booleans as "1"/"0", blocks as JSON text.
    client.api_call(
        "chat.postMessage",
        params={"channel": "ops", "text": "hi", "blocks": json.dumps([SECTION]), "mrkdwn": True},
    )

    (request,) = slack.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.params == {"channel": "ops", "text": "hi", "blocks": [SECTION], "mrkdwn": True}
    assert slack.problems == []


def test_slack_update_takes_the_channel_id_not_its_name(slack: FakeSlack) -> None:
    channel = slack.add_channel("ops")
    client = client_for(slack)
    posted = client.chat_postMessage(channel="#ops", text="x")

    with pytest.raises(SlackApiError) as by_name:
        client.chat_update(channel="#ops", ts=posted["ts"], text="y")
    with pytest.raises(SlackApiError) as unknown_ts:
        client.chat_update(channel=channel, ts="1600000000.000100", text="y")

    assert by_name.value.response["error"] == "channel_not_found"
    assert unknown_ts.value.response["error"] == "message_not_found"
    # Both are valid requests: the fake's state answered them, not validation.
    assert slack.problems == []


@pytest.mark.parametrize(
    ("token", "error"), [("xoxb-someone-else", "invalid_auth"), (None, "not_authed")]
)
def test_slack_rejects_a_wrong_or_missing_token(
    slack: FakeSlack, token: str | None, error: str
) -> None:
    slack.add_channel("ops")

    with pytest.raises(SlackApiError) as raised:
        client_for(slack, token=token).chat_postMessage(channel="ops", text="x")

    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == error
    assert slack.posts == []
    assert len(slack.problems) == 1


def test_slack_channel_not_found_and_not_in_channel(slack: FakeSlack) -> None:
    outside = slack.add_channel("private-ops", member=False)
    client = client_for(slack)

    with pytest.raises(SlackApiError) as unknown:
        client.chat_postMessage(channel="#nowhere", text="x")
    with pytest.raises(SlackApiError) as not_member:
        client.chat_postMessage(channel=outside, text="x")
    slack.set_member(outside, True)
    client.chat_postMessage(channel=outside, text="x")

    assert unknown.value.response["error"] == "channel_not_found"
    assert not_member.value.response["error"] == "not_in_channel"
    for error in ("channel_not_found", "not_in_channel"):
        assert error in spec_error_codes("chat.postMessage")
    jsonschema.Draft4Validator(slack_response_schema("chat.postMessage", "default")).validate(
        unknown.value.response.data
    )
    assert len(slack.posts) == 1


def test_slack_thread_reply_needs_an_existing_root(slack: FakeSlack) -> None:
    channel = slack.add_channel("ops")
    client = client_for(slack)
    root = client.chat_postMessage(channel=channel, text="root")
    reply = client.chat_postMessage(channel=channel, text="reply", thread_ts=root["ts"])

    for thread_ts in ("1600000000.000100", reply["ts"]):
        with pytest.raises(SlackApiError) as raised:
            client.chat_postMessage(channel=channel, text="lost", thread_ts=thread_ts)
        assert raised.value.response["error"] == "thread_not_found"


def test_slack_rate_limit_surfaces_as_429_with_retry_after(slack: FakeSlack) -> None:
    slack.add_channel("ops")
    client = client_for(slack)
    slack.answer_next(429, headers={"Retry-After": "3"})

    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="ops", text="x")
    client.chat_postMessage(channel="ops", text="x")

    response = raised.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response["error"] == "ratelimited"
    assert [r.status for r in slack.requests] == [429, 200]
    assert len(slack.posts) == 1
    # The throttled request was still validated.
    assert slack.problems == []


def test_slack_scripted_errors_and_outage(slack: FakeSlack) -> None:
    channel = slack.add_channel("ops")
    client = client_for(slack)
    slack.answer_next(200, body={"ok": False, "error": "channel_not_found"})
    slack.answer_always(503)

    with pytest.raises(SlackApiError) as scripted:
        client.chat_postMessage(channel="ops", text="x")
    with pytest.raises(SlackApiError) as outage:
        client.chat_postMessage(channel="ops", text="x")
    slack.answer_normally()
    client.chat_postMessage(channel="ops", text="x")

    assert scripted.value.response["error"] == "channel_not_found"
    assert outage.value.response.status_code == 503
    assert [r.scripted for r in slack.requests] == [True, True, False]
    assert len(slack.messages_in(channel)) == 1


def test_slack_invalid_block_is_caught(slack: FakeSlack) -> None:
    slack.add_channel("ops")
    too_long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}

    with pytest.raises(SlackApiError) as raised:
        client_for(slack).chat_postMessage(channel="ops", text="x", blocks=[too_long])

    body = raised.value.response.data
    assert body["ok"] is False
    assert body["error"] == "invalid_blocks"
    assert "3000" in body["response_metadata"]["messages"][0]
    assert slack.posts == []
    assert len(slack.problems) == 1


def test_slack_block_model_checks() -> None:
    assert block_problems([SECTION, {"type": "divider"}]) == []
    assert block_problems([{"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "x": 1}])
    assert block_problems([{"type": "no_such_block"}])
    assert block_problems([{"type": "image", "image_url": "https://example.com/a.png"}])
    assert block_problems(["section"])
    assert block_problems([{"type": "divider"}] * 51)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"channel": "ops"}, "no_text"),
        ({"channel": "ops", "text": "x", "thread_id": "1700000000.000100"}, "invalid_arguments"),
        ({"channel": "ops", "text": "x", "thread_ts": 1700000000.0001}, "invalid_arguments"),
        ({"channel": "ops", "text": "x", "unfurl_links": "yes"}, "invalid_arguments"),
        ({"channel": "ops", "text": "x", "parse": "markdown"}, "invalid_arguments"),
        ({"text": "x"}, "invalid_arguments"),
        ({"channel": "ops", "text": "x" * 40_001}, "msg_too_long"),
        ({"channel": "ops", "text": "x", "attachments": [{}] * 101}, "too_many_attachments"),
        ({"channel": "ops", "text": "x", "blocks": {"type": "divider"}}, "invalid_blocks"),
    ],
)
def test_slack_rejects_what_the_spec_forbids(
    slack: FakeSlack, params: dict[str, Any], error: str
) -> None:
    slack.add_channel("ops")

    # api_call, not chat_postMessage: the SDK would warn about a missing text first.
    with pytest.raises(SlackApiError) as raised:
        client_for(slack).api_call("chat.postMessage", json=params)

    assert raised.value.response.status_code == 200
    assert raised.value.response["error"] == error
    assert raised.value.response["response_metadata"]["messages"]
    assert slack.posts == []
    assert slack.problems


def test_slack_unknown_method_is_404(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as raised:
        client_for(slack).api_call("chat.delete", json={"channel": "C00000001", "ts": "1"})

    assert raised.value.response.status_code == 404
    assert raised.value.response["error"] == "unknown_method"


def test_slack_channel_ids_match_the_spec_pattern(slack: FakeSlack) -> None:
    pattern = load_vendored(SPEC_FILE)["definitions"]["defs_channel"]["pattern"]
    jsonschema.Draft4Validator({"type": "string", "pattern": pattern}).validate(
        slack.add_channel("ops")
    )


# -- PagerDuty --------------------------------------------------------------------------------


@pytest.fixture
def pagerduty() -> Iterator[FakePagerDuty]:
    with FakePagerDuty(routing_keys=[ROUTING_KEY]) as fake:
        yield fake


def pd_event(action: str = "trigger", **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"routing_key": ROUTING_KEY, "event_action": action}
    if action == "trigger":
        event["payload"] = {
            "summary": "Ticket 42 breached its first-response SLA",
            "source": "helpdesk-escalations",
            "severity": "critical",
            "timestamp": "2026-01-05T10:00:00Z",
            "component": "payments",
            "group": "support",
            "class": "sla_breach",
            "custom_details": {"ticket": 42},
        }
        event["links"] = [{"href": "https://helpdesk.example/t/42", "text": "Ticket 42"}]
        event["client"] = "helpdesk-escalations"
        event["client_url"] = "https://helpdesk.example"
    event.update(changes)
    return event


def test_pagerduty_trigger_acknowledge_resolve(pagerduty: FakePagerDuty) -> None:
    url = pagerduty.enqueue_url
    answers = [
        send(url, pd_event("trigger", dedup_key="ticket-42")),
        send(url, pd_event("trigger", dedup_key="ticket-42")),
        send(url, pd_event("acknowledge", dedup_key="ticket-42")),
        send(url, pd_event("resolve", dedup_key="ticket-42")),
        send(url, pd_event("trigger", dedup_key="ticket-42")),
    ]

    assert {status for status, _, _ in answers} == {202}
    assert answers[0][2] == {
        "status": "success",
        "message": "Event processed",
        "dedup_key": "ticket-42",
    }
    assert pagerduty.actions_for("ticket-42") == [
        "trigger",
        "trigger",
        "acknowledge",
        "resolve",
        "trigger",
    ]
    alert = pagerduty.alerts["ticket-42"]
    assert (alert.status, alert.incidents, alert.folded) == ("triggered", 2, 1)
    assert len(pagerduty.wait_for(5, timeout=1)) == 5
    assert pagerduty.problems == []


def test_pagerduty_makes_a_dedup_key_and_ignores_unknown_keys(pagerduty: FakePagerDuty) -> None:
    _, _, triggered = send(pagerduty.enqueue_url, pd_event())
    status, _, _ = send(pagerduty.enqueue_url, pd_event("resolve", dedup_key="never-triggered"))

    assert len(triggered["dedup_key"]) == 32
    assert pagerduty.alerts[triggered["dedup_key"]].status == "triggered"
    # PagerDuty accepts a resolve for a key with no open alert, and does nothing.
    assert status == 202
    assert "never-triggered" not in pagerduty.alerts
    assert pagerduty.actions_for("never-triggered") == ["resolve"]


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (pd_event("acknowledge"), "'dedup_key' is missing or blank (required to acknowledge)"),
        (
            pd_event("resolve", dedup_key=""),
            "'dedup_key' is missing or blank (required to resolve)",
        ),
        (
            pd_event(payload={**pd_event()["payload"], "severity": "high"}),
            "'payload.severity' must be one of critical, error, warning, info",
        ),
        (
            pd_event(payload={**pd_event()["payload"], "summary": "x" * 1025}),
            "'payload.summary' is longer than 1024 characters",
        ),
        (
            pd_event(routing_key="short"),
            "Length of 'routing_key' is incorrect (should be 32 characters)",
        ),
        (pd_event(routing_key="f" * 32), "Invalid routing key"),
        (
            pd_event(event_action="escalate"),
            "'event_action' must be one of trigger, acknowledge, resolve",
        ),
        (pd_event(dedup_key="k" * 256), "'dedup_key' is longer than 255 characters"),
        (pd_event(severity="critical"), "'severity' is not a field of an event"),
        (
            pd_event(payload={"summary": "x", "source": "y"}),
            "'payload.severity' is missing or blank",
        ),
        (
            pd_event(payload={**pd_event()["payload"], "timestamp": "yesterday"}),
            "'payload.timestamp' is not an ISO 8601 timestamp",
        ),
        (pd_event(links=[{"text": "no href"}]), "'links[0]'.href is missing or blank"),
        (pd_event("trigger", payload=None), "'payload' is missing or blank"),
    ],
)
def test_pagerduty_rejects_invalid_events(
    pagerduty: FakePagerDuty, event: dict[str, Any], error: str
) -> None:
    status, _, body = send(pagerduty.enqueue_url, event)

    assert status == 400
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert error in body["errors"]
    assert pagerduty.alerts == {}
    assert pagerduty.problems


def test_pagerduty_summary_of_1024_characters_is_accepted(pagerduty: FakePagerDuty) -> None:
    event = pd_event(payload={**pd_event()["payload"], "summary": "x" * 1024})

    assert send(pagerduty.enqueue_url, event)[0] == 202


def test_pagerduty_throttle_and_outage(pagerduty: FakePagerDuty) -> None:
    pagerduty.answer_next(429)
    pagerduty.answer_next(500)

    throttled = send(pagerduty.enqueue_url, pd_event(dedup_key="t"))
    failed = send(pagerduty.enqueue_url, pd_event(dedup_key="t"))
    accepted = send(pagerduty.enqueue_url, pd_event(dedup_key="t"))

    assert throttled[0] == 429
    assert throttled[2] == {
        "status": "throttle event",
        "message": "Requests for this service are arriving too quickly.  Please retry later.",
    }
    assert (failed[0], failed[2]) == (500, None)
    assert accepted[0] == 202
    assert pagerduty.actions_for("t") == ["trigger"]
    assert pagerduty.problems == []


def test_pagerduty_serves_the_enqueue_path_only(pagerduty: FakePagerDuty) -> None:
    status, _, _ = send(pagerduty.url + "/v2/change/enqueue", pd_event())

    assert status == 404


# -- Teams ------------------------------------------------------------------------------------


@pytest.fixture
def teams() -> Iterator[FakeTeams]:
    with FakeTeams() as fake:
        yield fake


def test_teams_example_card_validates_against_the_draft6_schema() -> None:
    card = example_envelope()["attachments"][0]["content"]

    assert isinstance(card_validator(), jsonschema.Draft6Validator)
    assert card_problems(card) == []


def test_teams_accepts_the_vendored_example_envelope(teams: FakeTeams) -> None:
    flow = teams.add_flow()

    status, _, body = send(flow, example_envelope())

    assert (status, body) == (202, None)
    assert teams.cards == [example_envelope()["attachments"][0]["content"]]
    assert teams.wait_for(1, timeout=1) == teams.cards
    assert teams.problems == []


def test_teams_rejects_a_card_with_an_unknown_property(teams: FakeTeams) -> None:
    envelope = example_envelope()
    envelope["attachments"][0]["content"]["colour"] = "red"

    status, _, body = send(teams.add_flow(), envelope)

    assert status == 400
    assert "'colour' was unexpected" in body["error"]["message"]
    assert teams.cards == []
    assert len(teams.problems) == 1


def test_teams_points_at_the_broken_element() -> None:
    card = example_envelope()["attachments"][0]["content"]
    card["body"].append({"type": "TextBlock", "text": "x", "colour": "red"})
    card["body"].append({"type": "TextBox", "text": "x"})

    problems = card_problems(card)

    assert len(problems) == 2
    assert problems[0].startswith("card.body[1]: Additional properties")
    assert problems[1] == "card.body[2]: unknown type 'TextBox'"


def test_teams_allows_its_msteams_extension_only() -> None:
    card = example_envelope()["attachments"][0]["content"]

    assert card_problems({**card, "msteams": {"width": "Full"}}) == []
    assert card_problems({**card, "teams": {"width": "Full"}}) == [
        "card: Additional properties are not allowed ('teams' was unexpected)"
    ]


def test_teams_card_needs_a_version_the_schema_covers() -> None:
    card = {"type": "AdaptiveCard", "body": []}

    assert card_problems(card) == ["card.version: required for the top-level card"]
    assert card_problems({**card, "version": "1.6"}) == [
        "card.version: 1.6 is later than the 1.5 schema checked here"
    ]


@pytest.mark.parametrize(
    "envelope",
    [
        {"type": "message", "attachments": []},
        {"type": "card", "attachments": example_envelope()["attachments"]},
        {"text": "legacy connector text", **example_envelope()},
        {
            "type": "message",
            "attachments": [{**example_envelope()["attachments"][0], "contentType": "text/plain"}],
        },
    ],
)
def test_teams_rejects_a_wrong_envelope(teams: FakeTeams, envelope: dict[str, Any]) -> None:
    status, _, body = send(teams.add_flow(), envelope)

    assert status == 400
    assert body["error"]["code"] == "TriggerInputSchemaMismatch"


def test_teams_unknown_flow_and_wrong_signature(teams: FakeTeams) -> None:
    flow = teams.add_flow()
    unknown = flow.replace("/workflows/", "/workflows/0")
    forged = flow.rsplit("sig=", 1)[0] + "sig=forged"

    assert send(unknown, example_envelope())[0] == 404
    assert send(forged, example_envelope())[0] == 401
    assert teams.cards == []


def test_teams_rate_limit_and_outage(teams: FakeTeams) -> None:
    flow = teams.add_flow()
    teams.answer_next(429, headers={"Retry-After": "5"})
    teams.answer_next(502)

    throttled = send(flow, example_envelope())
    failed = send(flow, example_envelope())
    accepted = send(flow, example_envelope())

    assert (throttled[0], throttled[1]["retry-after"]) == (429, "5")
    assert failed[0] == 502
    assert accepted[0] == 202
    assert len(teams.cards) == 1
    assert teams.problems == []


# -- Standard Webhooks receiver ---------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(secret=SECRET) as fake:
        yield fake


def signed(
    body: bytes, webhook_id: str = "msg_1", when: datetime | None = None, secret: str = SECRET
) -> dict[str, str]:
    """Standard Webhooks headers for ``body``, signed with the reference library."""
    # The library's sign() replaces the datetime's tzinfo with UTC rather than converting,
    # so it must be given a UTC datetime.
    moment = when or datetime.now(tz=UTC)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, moment, body.decode()),
    }


BODY = b'{"type":"ticket.breached","timestamp":"2026-01-05T10:00:00Z","data":{"ticket":42}}'


def test_webhook_signed_delivery_is_accepted_and_duplicates_counted(
    receiver: FakeWebhookReceiver,
) -> None:
    url = receiver.url + "/hooks/sla"

    first = send(url, BODY, signed(BODY, "msg_1"))
    again = send(url, BODY, signed(BODY, "msg_1"))
    other = send(url, BODY, signed(BODY, "msg_2"))

    assert [first[0], again[0], other[0]] == [204, 204, 204]
    assert [d.webhook_id for d in receiver.deliveries] == ["msg_1", "msg_1", "msg_2"]
    assert receiver.unique_ids == ["msg_1", "msg_2"]
    assert receiver.duplicates == 1
    assert receiver.deliveries[0].payload["data"] == {"ticket": 42}
    assert receiver.deliveries[0].path == "/hooks/sla"
    assert len(receiver.wait_for(2, timeout=1, unique=True)) == 3
    assert receiver.problems == []


def test_webhook_tampered_body_is_401(receiver: FakeWebhookReceiver) -> None:
    tampered = BODY.replace(b"42", b"43")

    status, _, body = send(receiver.url, tampered, signed(BODY))

    assert status == 401
    assert "No matching signature found" in body["error"]
    assert receiver.deliveries == []
    assert receiver.problems == ["POST /: verification failed: No matching signature found"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "Missing required headers"),
        (
            signed(BODY, when=datetime.now(tz=UTC) - timedelta(minutes=10)),
            "Message timestamp too old",
        ),
        ({**signed(BODY), "webhook-signature": "v1"}, "malformed delivery"),
        ({**signed(BODY), "webhook-signature": "v1,not base64!"}, "malformed delivery"),
        (signed(BODY, "msg.1"), "webhook-id contains '.'"),
        (
            signed(BODY, secret="whsec_" + base64.b64encode(b"another key of 24 bytes!").decode()),
            "No matching signature found",
        ),
    ],
)
def test_webhook_unverifiable_deliveries_are_401(
    receiver: FakeWebhookReceiver, headers: dict[str, str], reason: str
) -> None:
    status, _, body = send(receiver.url, BODY, headers)

    assert status == 401
    assert reason in body["error"]
    assert receiver.deliveries == []


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(BODY, "text/plain"), (b"[1, 2]", "application/json"), (b"not json", "application/json")],
)
def test_webhook_verified_body_must_be_a_json_object(
    receiver: FakeWebhookReceiver, body: bytes, content_type: str
) -> None:
    status, _, _ = send(receiver.url, body, {**signed(body), "Content-Type": content_type})

    assert status == 400
    assert receiver.deliveries == []


def test_webhook_scripted_failures_then_recovery(receiver: FakeWebhookReceiver) -> None:
    receiver.answer_next(503)
    receiver.answer_next(429, headers={"Retry-After": "2"})

    unavailable = send(receiver.url, BODY, signed(BODY))
    throttled = send(receiver.url, BODY, signed(BODY))
    receiver.answer_always(500)
    outage = send(receiver.url, BODY, signed(BODY))
    receiver.answer_normally()
    delivered = send(receiver.url, BODY, signed(BODY))

    assert [unavailable[0], throttled[0], outage[0], delivered[0]] == [503, 429, 500, 204]
    assert throttled[1]["retry-after"] == "2"
    # Failed attempts are not acceptances: the retry that got through is no duplicate.
    assert receiver.unique_ids == ["msg_1"]
    assert receiver.duplicates == 0
    assert receiver.problems == []


def test_webhook_receiver_wants_a_specification_secret() -> None:
    for secret in ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2hvcnQ=", "whsec_***"):
        with pytest.raises(ValueError, match="secret"):
            FakeWebhookReceiver(secret=secret)


VECTORS = load_vendored("standard-webhooks/test-vectors.json")


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the library's clock to the vectors' timestamp (it checks a 5 minute tolerance)."""
    moment = VECTORS["signing"][0]["timestamp"]

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Frozen:
            return cls.fromtimestamp(moment, tz)

    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", Frozen)


@pytest.mark.parametrize("vector", VECTORS["signing"])
def test_webhook_signing_vector_reproduces_with_the_library(vector: dict[str, Any]) -> None:
    # sign() takes a datetime, not the integer of the header.
    moment = datetime.fromtimestamp(vector["timestamp"], tz=UTC)

    signature = Webhook(vector["secret"]).sign(vector["msg_id"], moment, vector["payload"])

    assert signature == vector["signature"]


@pytest.mark.usefixtures("frozen_clock")
@pytest.mark.parametrize("case", VECTORS["verification"], ids=lambda case: case["name"])
def test_webhook_verification_vectors(case: dict[str, Any]) -> None:
    webhook = Webhook(case["secret"])

    if case["valid"]:
        assert webhook.verify(case["payload"], case["headers"]) == json.loads(case["payload"])
    else:
        with pytest.raises(WebhookVerificationError):
            webhook.verify(case["payload"], case["headers"])


@pytest.mark.usefixtures("frozen_clock")
def test_webhook_receiver_accepts_the_signing_vector() -> None:
    vector = VECTORS["signing"][0]
    headers = {
        "webhook-id": vector["msg_id"],
        "webhook-timestamp": str(vector["timestamp"]),
        "webhook-signature": vector["signature"],
    }

    with FakeWebhookReceiver(secret=vector["secret"]) as fake:
        status, _, _ = send(fake.url, vector["payload"].encode(), headers)

    assert status == 204
    assert fake.deliveries[0].payload == {"test": 2432232314}


# -- the shared machinery ---------------------------------------------------------------------


def test_wait_times_out_listing_what_was_received(pagerduty: FakePagerDuty) -> None:
    send(pagerduty.enqueue_url, pd_event("acknowledge"))

    with pytest.raises(AssertionError, match=r"expected 1 accepted events.*400"):
        pagerduty.wait_for(1, timeout=0.2)


def test_a_stopped_fake_has_no_url() -> None:
    fake = FakeTeams().start()
    assert fake.url.startswith("http://127.0.0.1:")
    fake.stop()
    fake.stop()

    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.url
