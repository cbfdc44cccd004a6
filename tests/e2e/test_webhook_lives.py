"""Each helpdesk's recorded ticket life, signed as the helpdesk signs it, drives a real ticket
on the dev server; and every way a delivery can be wrong is refused without changing anything.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter

from tests.e2e.api_stack import ApiStack, life
from tests.intake.signing import signed_headers

pytestmark = pytest.mark.e2e

SOURCES = ("zendesk", "jira", "freshdesk", "zammad", "github")


@pytest.mark.parametrize("source", SOURCES)
async def test_a_recorded_life_drives_the_ticket_with_the_sources_times(
    api_stack: ApiStack, source: str
) -> None:
    steps = life(source)
    ticket_id = None
    for body, headers, _ in steps:
        reply = await api_stack.deliver(source, body, headers)
        assert reply.status == 200, reply.body
        ticket_id = reply.body["ticket_id"]
    status = (await api_stack.call("GET", f"/v1/tickets/{ticket_id}", scope="read")).body
    created, reply_at, waiting, customer, _active, solved = (at for _, _, at in steps)
    assert status["state"] == "resolved"
    assert _at(status["opened_at"]) == created
    assert _at(status["acknowledged_at"]) == reply_at
    assert _at(status["resolved_at"]) == solved
    # Paused while waiting on the customer, until the customer's reply (which resumes a
    # ticket waiting on them); every shipped mapping puts these tickets on a 24x7 priority.
    resolution = status["clocks"]["resolution"]
    assert resolution["calendar"] == "24x7"
    expected = (solved - created) - (customer - waiting)
    assert _elapsed(resolution["elapsed"]) == expected
    first_response = status["clocks"]["first_response"]
    assert _elapsed(first_response["elapsed"]) == reply_at - created


async def test_a_delivery_that_is_wrong_changes_nothing(api_stack: ApiStack) -> None:
    body, headers, _ = life("github")[0]
    url = "/v1/webhooks/github"
    unsigned = await api_stack.call("POST", url, body, scope=None, headers={**headers})
    assert unsigned.status == 401
    assert unsigned.body["error"]["code"] == "bad_signature"
    forged = {**headers, **signed_headers("github", body, secret="not the secret")}
    assert (await api_stack.call("POST", url, body, scope=None, headers=forged)).status == 401
    tampered = body.replace(b"Card payments", b"Card paymentz")
    signed_for_original = {**headers, **signed_headers("github", body)}
    reply = await api_stack.call("POST", url, tampered, scope=None, headers=signed_for_original)
    assert reply.status == 401
    stale = signed_headers("zendesk", b"{}", now=_now() - timedelta(hours=1))
    reply = await api_stack.call("POST", "/v1/webhooks/zendesk", b"{}", scope=None, headers=stale)
    assert reply.status == 401
    assert "ticket_id" not in reply.body
    # Nothing of the refused deliveries reached a ticket.
    ticket = f"{api_stack.prefix}-GH-" + str(json.loads(body)["issue"]["id"])
    assert (await api_stack.call("GET", f"/v1/tickets/{ticket}")).status == 404

    malformed = b'{"action": "opened", "issue": {"id": "not a number"}}'
    reply = await api_stack.deliver(
        "github", malformed, {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1"}
    )
    assert reply.status == 422
    assert reply.body["error"]["fields"][0]["field"].startswith("body.")
    huge = b'{"pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert (await api_stack.deliver("github", huge, headers)).status == 413
    ping = await api_stack.deliver(
        "github",
        b'{"zen": "Design for failure."}',
        {"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-2"},
    )
    assert ping.status == 202
    assert ping.body["skipped"]
    unknown = await api_stack.call(
        "POST",
        "/v1/webhooks/servicenow",
        b"{}",
        scope=None,
        headers={"Content-Type": "application/json"},
    )
    assert unknown.status == 404

    comment_first = life("github")[1]
    reply = await api_stack.deliver("github", comment_first[0], comment_first[1])
    assert reply.status == 404  # the ticket is not open yet: the helpdesk retries later
    metrics = (await api_stack.call("GET", "/metrics", scope=None)).body
    assert 'route="/v1/webhooks/{source}",source="github",status="401"' in metrics


async def test_a_source_without_a_secret_takes_nothing(api_stack: ApiStack) -> None:
    api_stack.context.secrets = type(api_stack.context.secrets)({})
    body, headers, _ = life("jira")[0]
    reply = await api_stack.deliver("jira", body, headers)
    assert reply.status == 503
    assert "$ESCALATIONS_JIRA_SECRET" in reply.body["error"]["message"]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _now() -> datetime:
    return datetime.now(UTC)


def _elapsed(value: object) -> timedelta:
    return TypeAdapter(timedelta).validate_python(value)
