"""The ticket contract over HTTP on the dev server: open, update, status, list, and errors."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.api_stack import ApiStack

pytestmark = pytest.mark.e2e


def ticket(ticket_id: str, **changes: object) -> dict[str, object]:
    return {
        "ticket_id": ticket_id,
        "title": "Checkout down",
        "priority": "P2",
        "team": "payments",
        "customer": "Acme",
        "requester": "buyer@acme.example",
        **changes,
    }


async def test_open_update_status_and_list(api_stack: ApiStack) -> None:
    ticket_id = f"API-{uuid.uuid4().hex[:8]}"
    opened = await api_stack.call("POST", "/v1/tickets", ticket(ticket_id), scope="write")
    assert opened.status == 201, opened.body
    assert opened.headers["location"] == f"/v1/tickets/{ticket_id}"
    assert opened.body["state"] == "open"
    acked = await api_stack.call(
        "POST", f"/v1/tickets/{ticket_id}/acknowledge", {"by": "ann@example.com"}, scope="write"
    )
    assert acked.status == 200, acked.body
    assert acked.body["acknowledged_by"] == "ann@example.com"
    status = await api_stack.call("GET", f"/v1/tickets/{ticket_id}", scope="read")
    assert status.status == 200
    assert status.body["state"] == "acknowledged"
    listed = await api_stack.call("GET", "/v1/tickets?team=payments&priority=P2", scope="read")
    assert listed.status == 200
    # Visibility lags the ticket by a moment: the list is checked for shape, not freshness.
    assert isinstance(listed.body["tickets"], list)


async def test_an_idempotency_key_applies_a_retried_request_once(api_stack: ApiStack) -> None:
    ticket_id = f"API-{uuid.uuid4().hex[:8]}"
    key = {"Idempotency-Key": f"open-{ticket_id}"}
    first = await api_stack.call("POST", "/v1/tickets", ticket(ticket_id), headers=key)
    again = await api_stack.call("POST", "/v1/tickets", ticket(ticket_id), headers=key)
    assert (first.status, again.status) == (201, 200)
    assert again.headers["idempotent-replayed"] == "true"
    other = await api_stack.call(
        "POST", "/v1/tickets", ticket(ticket_id), headers={"Idempotency-Key": "another"}
    )
    assert other.status == 409
    assert other.body["error"]["code"] == "ticket_already_open"

    pause = {"reason": "waiting on the customer"}
    path = f"/v1/tickets/{ticket_id}/pause"
    paused = await api_stack.call("POST", path, pause, headers={"Idempotency-Key": "p-1"})
    repeat = await api_stack.call("POST", path, pause, headers={"Idempotency-Key": "p-1"})
    assert paused.status == repeat.status == 200
    assert repeat.body == paused.body  # the first result, not "already paused"
    fresh = await api_stack.call("POST", path, pause, headers={"Idempotency-Key": "p-2"})
    assert fresh.status == 409
    assert "already paused" in fresh.body["error"]["message"]


async def test_bad_requests_get_the_status_and_field(api_stack: ApiStack) -> None:
    ticket_id = f"API-{uuid.uuid4().hex[:8]}"
    call = api_stack.call
    assert (await call("POST", "/v1/tickets", ticket(ticket_id), scope=None)).status == 401
    wrong = {"Authorization": "Bearer esk_000000000000_" + "x" * 43}
    assert (await call("POST", "/v1/tickets", ticket(ticket_id), headers=wrong)).status == 401
    assert (await call("POST", "/v1/tickets", ticket(ticket_id), scope="read")).status == 403
    bad = await call("POST", "/v1/tickets", ticket(ticket_id, requester="not an address"))
    assert bad.status == 422
    assert bad.body["error"]["fields"][0]["field"] == "body.requester"
    undefined = await call("POST", "/v1/tickets", ticket(f"{ticket_id}-9", priority="P9"))
    assert undefined.status == 422
    assert undefined.body["error"]["code"] == "ticket_open_failed"
    assert "P9" in undefined.body["error"]["message"]
    internal = await call("POST", "/v1/tickets", ticket(ticket_id, continued={}))
    assert internal.status == 422
    assert (await call("GET", "/v1/tickets/NOPE-" + ticket_id)).status == 404
    assert (await call("GET", "/v1/tickets/bad%20id")).status == 422
    huge = {"by": "x" * 100_000}
    assert (await call("POST", f"/v1/tickets/{ticket_id}/acknowledge", huge)).status == 413
    assert (await call("POST", f"/v1/tickets/{ticket_id}/explode", {})).status == 404
    migrate = {"to_version": "9", "by": "ops", "reason": "r"}
    path = f"/v1/tickets/{ticket_id}/migrate_policy"
    assert (await call("POST", path, migrate, scope="write")).status == 403
    assert (
        await call(
            "POST", "/v1/tickets", b"{not json", headers={"Content-Type": "application/json"}
        )
    ).status == 422
    assert (await call("GET", "/healthz", scope=None)).status == 200
    assert (await call("GET", "/readyz", scope=None)).status == 200
    metrics = await call("GET", "/metrics", scope=None)
    assert 'route="/v1/tickets",source="",status="422"' in metrics.body
