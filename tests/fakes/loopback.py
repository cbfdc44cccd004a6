"""The machinery the loopback provider fakes share: a server on 127.0.0.1, scripted answers,
request recording and the waits built on it.

A fake subclasses ``LoopbackFake`` and implements ``_handle``, which turns one ``Incoming``
request into an ``Outcome``: the answer, what the request was taken for, its decoded body and
the problems found when validating it against the provider's specification. ``_handle`` runs
under the fake's lock, one request at a time, so a fake's state needs no locking of its own and
requests are recorded in the order they were answered.

Modelled on ``escalations.testing.fake_sendgrid`` (real HTTP, so the real client libraries,
their transports and error classes are exercised; only the provider's side is scripted).
"""

from __future__ import annotations

import copy
import json
import threading
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from escalations.testing.loopback import LoopbackServer

VENDOR_DIR = Path(__file__).resolve().parents[1] / "data" / "vendor"
"""The copies of the providers' published specifications the fakes validate against."""


def load_vendored(relative: str) -> Any:
    """The JSON document at ``tests/data/vendor/<relative>``."""
    return json.loads((VENDOR_DIR / relative).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Incoming:
    """One HTTP request as the server read it."""

    method: str
    path: str
    """The path without the query string."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Header names lower-cased (HTTP header names are case-insensitive)."""
    raw: bytes

    @property
    def media_type(self) -> str:
        """The Content-Type without its parameters, lower-cased ('' when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class Answer:
    """What the fake answers: a status, a JSON body (None: an empty body) and headers."""

    status: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What a fake made of one request (returned by ``_handle``)."""

    answer: Answer
    operation: str = ""
    """What the request was taken for: a Slack method, a PagerDuty event action, a flow id."""
    data: Any = None
    """The decoded body (a JSON value, form fields as a dict) or None."""
    problems: tuple[str, ...] = ()
    accepted: bool = False
    """The provider took the request and acted on it (a state change, a delivery)."""
    scripted: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    """One request a fake received, what it made of it and what it answered."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    raw: bytes
    operation: str
    data: Any
    status: int
    answer: Any
    """The JSON body answered, or None for an empty body."""
    answer_headers: dict[str, str]
    problems: tuple[str, ...]
    """Why the request does not follow the provider's specification; empty when it does."""
    accepted: bool
    scripted: bool
    """Answered from the script (``answer_next`` / ``answer_always``), not by the fake's logic."""

    @property
    def valid(self) -> bool:
        """The request passed validation (it may still have been answered with an error)."""
        return not self.problems

    @property
    def params(self) -> dict[str, Any]:
        """A copy of the decoded body when it is an object (JSON or form fields), else ``{}``."""
        return copy.deepcopy(self.data) if isinstance(self.data, dict) else {}


class LoopbackFake(LoopbackServer):
    """A provider fake served on a free loopback port; subclasses implement ``_handle``.

    Use as a context manager, or call ``start`` and ``stop``. Scripted answers
    (``answer_next``, FIFO) are used before the default; ``answer_always`` replaces the fake's
    own behaviour until ``answer_normally``. Requests are validated even when a scripted answer
    is given, so a test of retries still checks every retried request.
    """

    def __init__(self) -> None:
        super().__init__()
        # An RLock: the waits and the properties take it, and so may code called from _handle.
        self._condition = threading.Condition(threading.RLock())
        self._requests: list[RecordedRequest] = []
        self._scripted: deque[Answer] = deque()
        self._always: Answer | None = None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- recording ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._condition:
            return list(self._requests)

    @property
    def problems(self) -> list[str]:
        """Every validation problem of every request, as ``"METHOD /path: problem"``.

        ``fake.problems == []`` asserts that everything the code under test sent followed the
        provider's specification (route, authentication, format and schema). Answers that depend
        on the fake's state (an unknown Slack channel, a message not found) are not problems:
        they are in each request's ``status`` and ``answer``.
        """
        with self._condition:
            return [
                f"{r.method} {r.path}: {problem}" for r in self._requests for problem in r.problems
            ]

    # -- scripting ---------------------------------------------------------------------------

    def answer_next(
        self,
        status: int,
        times: int = 1,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        """Queue ``times`` literal answers, used before the fake's own (FIFO).

        A scripted answer changes no state. Without ``body`` the fake supplies the body the
        provider sends with that status (``None`` there means an empty body).
        """
        with self._condition:
            for _ in range(times):
                self._scripted.append(Answer(status, body, dict(headers or {})))

    def answer_always(
        self, status: int, headers: Mapping[str, str] | None = None, body: Any = None
    ) -> None:
        """Answer every request without a queued answer like this (an outage) from now on."""
        with self._condition:
            self._always = Answer(status, body, dict(headers or {}))

    def answer_normally(self) -> None:
        """End ``answer_always``: the fake's own behaviour again (queued answers stay queued)."""
        with self._condition:
            self._always = None

    def _take_scripted(self) -> Answer | None:
        """The next scripted answer, completed by ``_complete_scripted``, or None.

        A fake calls it at the point where the provider would answer instead of acting: after
        routing and authentication, once the request's problems are known.
        """
        if self._scripted:
            answer = self._scripted.popleft()
        elif self._always is not None:
            answer = self._always
        else:
            return None
        return self._complete_scripted(answer)

    def _complete_scripted(self, answer: Answer) -> Answer:
        """Fill in what the provider sends with a scripted status; the default adds nothing."""
        return answer

    # -- waiting -----------------------------------------------------------------------------

    def wait_until(
        self,
        predicate: Callable[[list[RecordedRequest]], bool],
        timeout: float,
        what: str,
    ) -> list[RecordedRequest]:
        """Block until ``predicate(requests)`` holds; return the requests then.

        Raises:
            AssertionError: on timeout, saying what was expected and listing what was received.
        """
        with self._condition:
            done = self._condition.wait_for(lambda: predicate(self._requests), timeout)
            received = list(self._requests)
        if not done:
            summary = [
                (r.method, r.path, r.operation, r.status, list(r.problems)) for r in received
            ]
            raise AssertionError(
                f"{self.label}: expected {what} within {timeout}s; "
                f"received {len(received)}: {summary}"
            )
        return received

    def wait_for_requests(self, count: int, timeout: float) -> list[RecordedRequest]:
        """Block until at least ``count`` requests (of any kind) were answered; return them all."""
        return self.wait_until(lambda rs: len(rs) >= count, timeout, f"{count} requests")

    def _wait_accepted(
        self, count: int, timeout: float, operation: str | None, what: str
    ) -> list[RecordedRequest]:
        def enough(requests: list[RecordedRequest]) -> bool:
            matching = [r for r in requests if r.accepted]
            if operation is not None:
                matching = [r for r in matching if r.operation == operation]
            return len(matching) >= count

        received = self.wait_until(enough, timeout, f"{count} accepted {what}")
        return [
            r for r in received if r.accepted and (operation is None or r.operation == operation)
        ]

    # -- serving -----------------------------------------------------------------------------

    def _handle(self, request: Incoming) -> Outcome:
        raise NotImplementedError

    def _dispatch(self, request: Incoming) -> Answer:
        """Answer one request and record it (called on a server thread)."""
        with self._condition:
            try:
                outcome = self._handle(request)
            except Exception:
                # A bug in the fake: answer 500 and make it a problem, so the test fails on it
                # instead of on a dropped connection.
                crash = traceback.format_exc()
                outcome = Outcome(
                    Answer(500, {"fake_error": crash}), problems=(f"the fake crashed:\n{crash}",)
                )
            answer = outcome.answer
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    query=request.query,
                    headers=request.headers,
                    raw=request.raw,
                    operation=outcome.operation,
                    data=outcome.data,
                    status=answer.status,
                    answer=answer.body,
                    answer_headers=dict(answer.headers),
                    problems=outcome.problems,
                    accepted=outcome.accepted,
                    scripted=outcome.scripted,
                )
            )
            self._condition.notify_all()
        return answer


def decode_json(raw: bytes) -> Any:
    """``raw`` decoded as UTF-8 JSON.

    Raises:
        ValueError: not UTF-8 or not JSON (``UnicodeDecodeError`` and ``JSONDecodeError`` are
            both ValueErrors).
    """
    return json.loads(raw.decode("utf-8"))


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                # Trailer lines, up to the blank line that ends the message.
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _handler_for(fake: LoopbackFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0 (the default): one request per connection, so stopping the server leaves
        # no idle keep-alive connection behind.

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            request = Incoming(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={name.lower(): value for name, value in self.headers.items()},
                raw=_read_body(self),
            )
            answer = fake._dispatch(request)
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            if payload and not any(n.lower() == "content-type" for n in answer.headers):
                self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            # Silent: test output should show assertions, not access logs.
            pass

    return Handler
