"""The API's boundaries tried as an attacker would, with no Temporal behind it.

Each request here is refused (or answered) by the API itself: keys, scopes, sizes, media types,
paths, headers, signatures and routes. The Temporal connection always fails, so any request
that got past the boundary would answer ``503``, never a ticket.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activities.channels.secrets import SecretSource
from escalations.api.app import build_app
from escalations.api.context import ApiContext
from escalations.api.key_store import ApiKeyStore
from escalations.client.errors import TemporalUnreachable
from escalations.client.tickets import TicketClient
from escalations.codec.serving import HttpServer
from escalations.intake.mapping import load_mappings
from tests.api.http import request
from tests.intake.signing import ENVIRON, signed_headers

TICKET = {
    "ticket_id": "T-1",
    "title": "Checkout down",
    "priority": "P1",
    "team": "payments",
    "customer": "Acme",
    "requester": "buyer@acme.example",
}


async def _unreachable() -> TicketClient:
    raise TemporalUnreachable("cannot reach Temporal at 127.0.0.1:1 (TEMPORAL_ADDRESS): refused")


class Api:
    def __init__(self, directory: Path) -> None:
        self.context = ApiContext(
            keys=ApiKeyStore(directory / "keys.json"),
            mappings=load_mappings(None),
            connect=_unreachable,
            secrets=SecretSource({k: v for k, v in ENVIRON.items() if "JIRA" not in k}),
        )
        now = datetime.now(UTC)
        self.tokens = {
            scope: self.context.keys.create(f"k {scope}", scope, now)[1]
            for scope in ("read", "write", "admin")
        }
        self.server = HttpServer(build_app(self.context), host="127.0.0.1", port=0)
        self.server.start()

    def call(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        scope: str | None = "admin",
    ) -> tuple[int, dict[str, str], Any]:
        token = self.tokens[scope] if scope is not None else None
        reply = request(self.server.url, method, path, body, headers, token)
        return reply.status, reply.headers, reply.body


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    server = Api(tmp_path)
    try:
        yield server
    finally:
        server.server.stop()


def test_no_key_a_wrong_key_or_a_small_scope_is_refused(api: Api) -> None:
    status, headers, body = api.call("POST", "/v1/tickets", TICKET, scope=None)
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    assert headers["www-authenticate"].startswith("Bearer")
    for bad in (
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer esk_",
        "Bearer " + "A" * 10_000,
        "Bearer esk_000000000000_" + "\u00e9" * 43,
        "bearer\tesk_x",
    ):
        status, _, body = api.call("POST", "/v1/tickets", TICKET, {"Authorization": bad}, None)
        assert status == 401, bad[:30]
    assert api.call("POST", "/v1/tickets", TICKET, scope="read")[0] == 403
    assert api.call("GET", "/v1/tickets/T-1", scope="read")[0] == 503  # past the boundary
    migrate = {"to_version": "5", "by": "ops", "reason": "r"}
    assert api.call("POST", "/v1/tickets/T-1/migrate_policy", migrate, scope="write")[0] == 403


def test_a_revoked_key_is_refused_at_once(api: Api) -> None:
    api.context.keys.revoke("k write", datetime.now(UTC))
    assert api.call("POST", "/v1/tickets", TICKET, scope="write")[0] == 401


def test_guessing_keys_is_rate_limited_and_then_learns_nothing(api: Api) -> None:
    wrong = {"Authorization": "Bearer esk_000000000000_" + "x" * 43}
    statuses = [api.call("GET", "/v1/tickets", None, wrong, None)[0] for _ in range(21)]
    assert statuses[:20] == [401] * 20
    assert statuses[20] == 429
    # The right key from the same address is refused too while the address is out of tries.
    status, headers, _ = api.call("GET", "/v1/tickets", scope="read")
    assert status == 429
    assert int(headers["retry-after"]) >= 1


def test_bodies_are_bounded_typed_and_parsed_without_a_crash(api: Api) -> None:
    big = b'{"by": "' + b"x" * 70_000 + b'"}'
    json_type = {"Content-Type": "application/json"}
    assert api.call("POST", "/v1/tickets/T-1/acknowledge", big, json_type)[0] == 413
    assert (
        api.call("POST", "/v1/tickets", b"ticket_id=T-1", {"Content-Type": "text/plain"})[0] == 415
    )
    nested = b"[" * 50_000 + b"]" * 50_000
    status, _, body = api.call("POST", "/v1/tickets", nested[:60_000], json_type)
    assert (status, body["error"]["code"]) == (422, "invalid")
    for text in (b"", b"null", b"[]", b'"x"', b"\xff\xfe", b'{"ticket_id": "\\ud800"}'):
        status, _, body = api.call("POST", "/v1/tickets", text, json_type)
        assert status == 422, text
    status, _, body = api.call("POST", "/v1/tickets", {**TICKET, "title": "a\x1b[31mb"})
    assert status == 422
    assert body["error"]["fields"][0]["field"] == "body.title"
    assert "\x1b" not in json.dumps(body)  # the value is never echoed


@pytest.mark.parametrize(
    "path",
    [
        "/v1/tickets/..%2F..%2Fetc%2Fpasswd",
        "/v1/tickets/T%0A1",
        "/v1/tickets/%1B%5B31m",
        "/v1/tickets/" + "T" * 65,
        "/v1/tickets/-leading-dash",
    ],
)
def test_a_ticket_id_that_is_no_ticket_id_never_reaches_temporal(api: Api, path: str) -> None:
    status, _, body = api.call("GET", path, scope="read")
    if status == 404:  # an encoded "/" is a path separator again: no route matches
        assert body["error"]["code"] == "not_found"
        return
    assert status == 422
    assert body["error"]["fields"][0]["field"] == "path.ticket_id"


@pytest.mark.parametrize("key", ["", "has space", "x" * 201, "caf\u00e9"])
def test_an_idempotency_key_must_be_a_short_printable_token(api: Api, key: str) -> None:
    headers = {"Idempotency-Key": key.encode("utf-8").decode("latin-1")}
    status, _, body = api.call("POST", "/v1/tickets", TICKET, headers)
    assert status == 422
    assert body["error"]["fields"][0]["field"] == "header.Idempotency-Key"


def test_unknown_routes_methods_and_updates_answer_in_the_error_shape(api: Api) -> None:
    assert api.call("GET", "/admin")[2]["error"]["code"] == "not_found"
    assert api.call("DELETE", "/v1/tickets/T-1")[0] == 405
    status, _, body = api.call("POST", "/v1/tickets/T-1/drop_table", {})
    assert (status, body["error"]["code"]) == (404, "unknown_update")
    assert api.call("GET", "/healthz", scope=None)[0] == 200
    assert api.call("GET", "/readyz", scope=None)[0] == 503
    assert api.call("POST", "/v1/tickets", TICKET)[2]["error"]["code"] == "temporal_unavailable"


def test_stray_paths_cannot_grow_the_metrics(api: Api) -> None:
    for n in range(30):
        api.call("GET", f"/probe-{n}/../x{n}", scope=None)
    exposition = api.call("GET", "/metrics", scope=None)[2]
    assert "probe" not in exposition
    assert 'route="unmatched",source="",status="404"} 30' in exposition


def test_webhooks_without_a_secret_or_a_signature_change_nothing(api: Api) -> None:
    body = b'{"action": "opened"}'
    gh = {
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": "d-1",
        "Content-Type": "application/json",
    }
    status, _, reply = api.call("POST", "/v1/webhooks/github", body, gh, None)
    assert (status, reply["error"]["code"]) == (401, "bad_signature")
    status, _, reply = api.call(
        "POST", "/v1/webhooks/jira", body, {**gh, **signed_headers("jira", body)}, None
    )
    assert (status, reply["error"]["code"]) == (503, "intake_not_configured")
    assert "$ESCALATIONS_JIRA_SECRET" in reply["error"]["message"]
    assert api.call("POST", "/v1/webhooks/..%2Fgithub", body, gh, None)[0] == 404
    huge = b"{" + b" " * (1024 * 1024 + 1) + b"}"
    assert api.call("POST", "/v1/webhooks/github", huge, gh, None)[0] == 413


def test_logs_are_escaped_and_never_carry_a_key(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    body = b'{"zen": "ok"}'
    headers = {
        "X-GitHub-Event": "ping",
        "X-GitHub-Delivery": "d-\x1b[31mred",
        "Idempotency-Key": "k\x7f",
        **signed_headers("github", body),
    }
    api.call("POST", "/v1/webhooks/github", body, headers, None)
    api.call("GET", "/v1/tickets/T-1", scope="admin")
    text = caplog.text
    assert "\x1b" not in text
    assert "\x7f" not in text
    assert "d-\\x1b[31mred" in text
    assert all(token not in text for token in api.tokens.values())
