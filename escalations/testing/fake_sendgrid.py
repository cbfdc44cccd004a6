"""A loopback fake of SendGrid's ``POST /v3/mail/send``, for tests and benchmarks.

Real HTTP on 127.0.0.1, so the real ``sendgrid`` client, its urllib transport and its error
classes are exercised; only SendGrid's side is scripted. Answers 202 with a unique
``X-Message-Id`` by default; ``answer_next`` queues scripted answers and ``answer_always``
changes the default (an outage until ``answer_always(202)``).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from escalations.testing.loopback import LoopbackServer

MAIL_SEND_PATH = "/v3/mail/send"


@dataclass
class RecordedRequest:
    """One request the fake received, and the status it answered."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any] | None


def sendgrid_error(message: str, field: str | None = None) -> dict[str, Any]:
    """An error body shaped like SendGrid's."""
    return {"errors": [{"message": message, "field": field, "help": None}]}


class FakeSendGrid(LoopbackServer):
    """A scripted SendGrid ``mail/send`` endpoint on a loopback port.

    Use as a context manager, or call ``start`` and ``stop``.
    """

    label = "FakeSendGrid"

    def __init__(self, *, keep_bodies: bool = True) -> None:
        super().__init__()
        # A benchmark sends tens of thousands of notices: it keeps statuses, not bodies.
        self._keep_bodies = keep_bodies
        self._condition = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._scripted: deque[_Answer] = deque()
        self._default = _Answer(202, {}, None)
        self._message_ids = itertools.count(1)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._condition:
            return list(self._requests)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """The bodies of the requests answered 2xx, oldest first."""
        with self._condition:
            return [r.body for r in self._requests if 200 <= r.status < 300]

    def answer_next(
        self,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Queue ``times`` answers with this status, used before the default (FIFO).

        Error statuses get a SendGrid-shaped error body unless ``body`` is given.
        """
        with self._condition:
            for _ in range(times):
                self._scripted.append(_Answer(status, dict(headers or {}), body))

    def answer_always(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer every unscripted request with this status from now on (202 recovers)."""
        with self._condition:
            self._default = _Answer(status, dict(headers or {}), None)

    def wait_for_accepted(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Block until at least ``count`` requests were answered 2xx; return their bodies.

        Raises:
            AssertionError: on timeout, listing what was received.
        """
        with self._condition:
            done = self._condition.wait_for(
                lambda: sum(200 <= r.status < 300 for r in self._requests) >= count, timeout
            )
            received = [(r.method, r.path, r.status) for r in self._requests]
        if not done:
            raise AssertionError(
                f"expected {count} accepted mail/send requests within {timeout}s; "
                f"received {len(received)}: {received}"
            )
        return self.accepted

    def _answer(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> _Answer:
        """Decide the answer to one request and record it (called on a server thread)."""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
            answer = _Answer(400, {}, sendgrid_error("invalid JSON"))
        else:
            answer = self._route(method, path, headers)
        if method == "POST" and path == MAIL_SEND_PATH and not raw and 200 <= answer.status < 300:
            # As SendGrid does: nothing to send. (A worker killed while sending leaves a request
            # whose headers arrived and whose body never did; it must not count as accepted.)
            answer = _Answer(400, {}, sendgrid_error("request body is required"))
        if not isinstance(body, dict):
            body = {"_non_object_body": body}
        if not self._keep_bodies:
            body = {}
        with self._condition:
            self._requests.append(RecordedRequest(method, path, headers, body, answer.status))
            self._condition.notify_all()
        return answer

    def _route(self, method: str, path: str, headers: dict[str, str]) -> _Answer:
        if method != "POST" or path != MAIL_SEND_PATH:
            return _Answer(404, {}, sendgrid_error(f"no route {method} {path}"))
        authorization = headers.get("authorization", "")
        token = authorization.removeprefix("Bearer ").strip()
        if not authorization.startswith("Bearer ") or not token or token == "None":
            # Scripted answers are kept for the next authorized request.
            message = "The provided authorization grant is invalid, expired, or revoked"
            return _Answer(401, {}, sendgrid_error(message))
        with self._condition:
            answer = self._scripted.popleft() if self._scripted else self._default
            message_id = f"fake-{next(self._message_ids)}"
        extra = dict(answer.headers)
        if 200 <= answer.status < 300:
            extra.setdefault("X-Message-Id", message_id)
            return _Answer(answer.status, extra, answer.body)
        body = answer.body
        if body is None:
            body = sendgrid_error(f"scripted failure {answer.status}")
        return _Answer(answer.status, extra, body)


def _handler_for(fake: FakeSendGrid) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            # Header names are case-insensitive; store them lower-cased for easy lookup.
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer = fake._answer(self.command, self.path, headers, raw)
            payload = json.dumps(answer.body).encode() if answer.body is not None else b""
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            # Silent: test output should show assertions, not access logs.
            pass

    return Handler
