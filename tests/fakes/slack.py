"""A loopback fake of the Slack Web API's ``chat.postMessage`` and ``chat.update``.

``slack_sdk.WebClient(token=..., base_url=fake.url + "/api/", retry_handlers=[])`` works against
it: slack_sdk 3.47 sends both methods as a JSON body (``application/json;charset=utf-8``) with
``Authorization: Bearer xoxb-...``; ``WebClient.api_call(..., params=...)`` sends the same
parameters form-encoded, with booleans as ``"1"``/``"0"`` and blocks as a JSON string. Both are
accepted.

Every request is validated against the vendored extract of Slack's OpenAPI document
(``tests/data/vendor/slack/slack_web_openapi_v2.chat.json``): the parameter names each method
takes, the required ones, their types; ``blocks`` through ``slack_sdk.models.blocks`` (Slack
publishes no block schema: the SDK's models are the checked ones); the length limits Slack
documents through slack_sdk. An invalid request is answered as Slack does, HTTP 200 with
``{"ok": false, "error": ..., "response_metadata": {"messages": ["[ERROR] ..."]}}``.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from slack_sdk.models.blocks import Block

from tests.fakes.loopback import Answer, Incoming, LoopbackFake, Outcome, decode_json, load_vendored

SPEC_FILE = "slack/slack_web_openapi_v2.chat.json"
METHODS = ("chat.postMessage", "chat.update")

# Parameters slack_sdk 3.47 sends that Slack added after the spec's last change (2020-10-06):
# the extract does not list them, but a client using them is not wrong.
_ADDED_SINCE_SPEC: dict[str, dict[str, str]] = {
    "chat.postMessage": {"metadata": "object", "markdown_text": "string", "container_id": "string"},
    "chat.update": {
        "metadata": "object",
        "markdown_text": "string",
        "reply_broadcast": "boolean",
        "file_ids": "string",
    },
}
# The spec types these "string" (postMessage's as_user, update's link_names) while the same
# parameter is "boolean" elsewhere in it, and slack_sdk sends a boolean: accept both.
_LOOSE_BOOLEANS = frozenset({"as_user", "link_names"})
_BOOLEAN_STRINGS = {"true": True, "false": False, "1": True, "0": False}
# The spec's defs_ts: "Timestamp in format 0123456789.012345".
_TS = re.compile(r"^\d{10}\.\d{6}\Z")
_CHANNEL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}\Z")

# Limits Slack documents, as slack_sdk carries them: Message.to_dict logs that text over 40,000
# characters is truncated (rejected here as msg_too_long, stricter on purpose: a notice that
# long is a bug), Message.attachments_max_length is 100 (too_many_attachments), markdown_text
# is limited to 12,000 characters (the chat_stream docstrings). 50 blocks a message is Slack's
# Block Kit limit (its docs; not in the spec nor in slack_sdk's models).
MAX_TEXT = 40_000
MAX_MARKDOWN_TEXT = 12_000
MAX_ATTACHMENTS = 100
MAX_BLOCKS = 50

BOT_ID = "B00000FAKE"
BOT_USER_ID = "U00000FAKE"
TEAM_ID = "T00000FAKE"


@dataclass(frozen=True)
class _Param:
    name: str
    type: str
    required: bool


@functools.cache
def spec_params(method: str) -> dict[str, _Param]:
    """The body parameters ``method`` takes: the spec's ``formData`` ones plus later additions.

    The spec's ``token`` parameter (``in: header``) is the ``Authorization`` header, checked
    apart.
    """
    operation = load_vendored(SPEC_FILE)["paths"][f"/{method}"]["post"]
    params = {
        p["name"]: _Param(p["name"], p["type"], bool(p.get("required", False)))
        for p in operation["parameters"]
        if p["in"] == "formData"
    }
    for name, type_ in _ADDED_SINCE_SPEC[method].items():
        params.setdefault(name, _Param(name, type_, False))
    return params


@functools.cache
def spec_error_codes(method: str) -> frozenset[str]:
    """The error codes the spec's error response schema of ``method`` lists."""
    operation = load_vendored(SPEC_FILE)["paths"][f"/{method}"]["post"]
    schema = operation["responses"]["default"]["schema"]
    return frozenset(schema["properties"]["error"]["enum"])


@dataclass
class SlackMessage:
    """A message the fake holds in a channel."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None
    attachments: list[Any] | None
    thread_ts: str | None
    """The root's ``ts`` for a thread reply, None for a root message."""
    params: dict[str, Any]
    """The accepted ``chat.postMessage`` parameters that created it."""
    edits: list[dict[str, Any]] = field(default_factory=list)
    """The accepted ``chat.update`` parameters applied to it, oldest first."""


@dataclass
class _Channel:
    id: str
    name: str
    member: bool


class _Problems:
    """Problems found in one request, each with the Slack error code it is answered with."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, code: str, message: str) -> None:
        self.items.append((code, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def texts(self) -> tuple[str, ...]:
        return tuple(f"{code}: {message}" for code, message in self.items)


class FakeSlack(LoopbackFake):
    """A scripted Slack workspace with one bot: ``chat.postMessage`` and ``chat.update``.

    Channels are declared with ``add_channel``; messages are kept per channel with increasing
    ``ts`` values. Scripted answers (``answer_next(429, headers={"Retry-After": "3"})``,
    ``answer_next(200, body={"ok": False, "error": "channel_not_found"})``, 5xx) are used after
    routing and authentication, before the fake acts.

    Args:
        token: the bot token the fake accepts (``Authorization: Bearer <token>``).
    """

    label = "FakeSlack"

    def __init__(self, *, token: str = "xoxb-test-token") -> None:
        if not token.startswith("xoxb-"):
            raise ValueError("a bot token starts with xoxb-")
        super().__init__()
        self.token = token
        self._channels: dict[str, _Channel] = {}
        self._messages: dict[str, list[SlackMessage]] = {}
        self._channel_numbers = itertools.count(1)
        self._ts_numbers = itertools.count(1)

    # -- workspace ---------------------------------------------------------------------------

    def add_channel(self, name: str, *, member: bool = True) -> str:
        """Create a channel (``#`` optional) and return its id, such as ``C00000001``.

        Ids have eight digits because the spec's ``defs_channel`` pattern,
        ``^[CGD][A-Z0-9]{8,}$``, wants at least eight characters after the letter.
        """
        bare = name.removeprefix("#")
        if not _CHANNEL_NAME.match(bare):
            raise ValueError(f"{name!r} is not a Slack channel name")
        with self._condition:
            if any(c.name == bare for c in self._channels.values()):
                raise ValueError(f"channel #{bare} exists")
            channel_id = f"C{next(self._channel_numbers):08d}"
            self._channels[channel_id] = _Channel(channel_id, bare, member)
            self._messages[channel_id] = []
        return channel_id

    def set_member(self, channel_id: str, member: bool) -> None:
        """Add the bot to a channel, or remove it (its posts then get ``not_in_channel``)."""
        with self._condition:
            self._channels[channel_id].member = member

    def messages_in(self, channel_id: str) -> list[SlackMessage]:
        """The messages of a channel, roots and replies, in ``ts`` order (copies)."""
        with self._condition:
            return copy.deepcopy(self._messages[channel_id])

    # -- recording ---------------------------------------------------------------------------

    @property
    def posts(self) -> list[dict[str, Any]]:
        """The parameters of the accepted ``chat.postMessage`` calls, oldest first."""
        return [r.params for r in self.requests if r.accepted and r.operation == METHODS[0]]

    @property
    def updates(self) -> list[dict[str, Any]]:
        """The parameters of the accepted ``chat.update`` calls, oldest first."""
        return [r.params for r in self.requests if r.accepted and r.operation == METHODS[1]]

    def wait_for(
        self, count: int, timeout: float, method: str = "chat.postMessage"
    ) -> list[dict[str, Any]]:
        """Block until ``count`` calls of ``method`` were accepted; return their parameters.

        Raises:
            AssertionError: on timeout, listing what was received.
        """
        accepted = self._wait_accepted(count, timeout, method, f"{method} calls")
        return [r.params for r in accepted]

    # -- serving -----------------------------------------------------------------------------

    def _complete_scripted(self, answer: Answer) -> Answer:
        headers = dict(answer.headers)
        body = answer.body
        if answer.status == 429:
            # Slack's rate-limit answer: HTTP 429, a Retry-After in seconds, and "ratelimited"
            # (the spec's error lists spell it "rate_limited"; the body Slack sends does not).
            if not any(name.lower() == "retry-after" for name in headers):
                headers["Retry-After"] = "1"
            if body is None:
                body = {"ok": False, "error": "ratelimited"}
        elif body is None:
            body = {"ok": False, "error": "fatal_error"}
        return Answer(answer.status, body, headers)

    def _handle(self, request: Incoming) -> Outcome:
        method = request.path.removeprefix("/api/")
        if not request.path.startswith("/api/") or method not in METHODS:
            # Slack answers an unknown method with HTTP 404 and this body.
            body = {"ok": False, "error": "unknown_method", "req_method": method}
            return Outcome(
                Answer(404, body),
                operation=method,
                problems=(f"unknown_method: this fake serves {', '.join(METHODS)} only",),
            )
        problems = _Problems()
        if request.method != "POST":
            problems.add("invalid_arguments", f"{method} is called with POST")
        decoded = _decode(request, problems)
        auth_error = self._auth_error(request, problems)
        if auth_error is not None:
            body = {"ok": False, "error": auth_error}
            return Outcome(Answer(200, body), method, decoded, problems.texts())
        params = {} if decoded is None else _validate(method, decoded, problems)
        scripted = self._take_scripted()
        if scripted is not None:
            return Outcome(scripted, method, params, problems.texts(), scripted=True)
        if problems:
            return Outcome(Answer(200, _error_body(problems)), method, params, problems.texts())
        answer = self._post(params) if method == "chat.postMessage" else self._update(params)
        accepted = answer.body.get("ok") is True
        return Outcome(answer, method, params, (), accepted=accepted)

    def _auth_error(self, request: Incoming, problems: _Problems) -> str | None:
        authorization = request.headers.get("authorization")
        if not authorization:
            problems.add("not_authed", "no Authorization: Bearer xoxb-... header")
            return "not_authed"
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token.startswith("xoxb-") or token != self.token:
            problems.add("invalid_auth", "the Authorization header is not the fake's bot token")
            return "invalid_auth"
        return None

    def _find_channel(self, value: str, *, by_name: bool) -> _Channel | None:
        if value in self._channels:
            return self._channels[value]
        if not by_name:
            return None
        name = value.removeprefix("#")
        return next((c for c in self._channels.values() if c.name == name), None)

    def _next_ts(self) -> str:
        # 1700000000.000100, .000200, ...: unique and increasing, in the spec's defs_ts form.
        micros = 1_700_000_000_000_000 + next(self._ts_numbers) * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _post(self, params: dict[str, Any]) -> Answer:
        channel = self._find_channel(params["channel"], by_name=True)
        if channel is None:
            return Answer(200, {"ok": False, "error": "channel_not_found"})
        if not channel.member:
            return Answer(200, {"ok": False, "error": "not_in_channel"})
        messages = self._messages[channel.id]
        thread_ts = params.get("thread_ts")
        if thread_ts is not None and not any(
            m.ts == thread_ts and m.thread_ts is None for m in messages
        ):
            # Stricter than Slack, deliberately: Slack may post a reply to an unknown or
            # non-root ts somewhere unexpected; here it is an error, so wrong threading fails
            # the test that caused it. (thread_not_found is not in the spec's error list.)
            return Answer(200, {"ok": False, "error": "thread_not_found"})
        message = SlackMessage(
            channel=channel.id,
            ts=self._next_ts(),
            text=params.get("text", ""),
            blocks=params.get("blocks"),
            attachments=params.get("attachments"),
            thread_ts=thread_ts,
            params=copy.deepcopy(params),
        )
        messages.append(message)
        body = {"ok": True, "channel": channel.id, "ts": message.ts, "message": _echo(message)}
        return Answer(200, body)

    def _update(self, params: dict[str, Any]) -> Answer:
        # chat.update takes the channel's id only; Slack answers a name with channel_not_found.
        channel = self._find_channel(params["channel"], by_name=False)
        if channel is None:
            return Answer(200, {"ok": False, "error": "channel_not_found"})
        message = next((m for m in self._messages[channel.id] if m.ts == params["ts"]), None)
        if message is None:
            return Answer(200, {"ok": False, "error": "message_not_found"})
        # What is not given is kept (the spec says so of blocks and attachments).
        if "text" in params:
            message.text = params["text"]
        if "blocks" in params:
            message.blocks = params["blocks"]
        if "attachments" in params:
            message.attachments = params["attachments"]
        message.edits.append(copy.deepcopy(params))
        updated: dict[str, Any] = {"text": message.text}
        if message.blocks:
            updated["blocks"] = copy.deepcopy(message.blocks)
        body = {
            "ok": True,
            "channel": channel.id,
            "ts": message.ts,
            "text": message.text,
            # The spec's success schema requires "message" too.
            "message": updated,
        }
        return Answer(200, body)


def _echo(message: SlackMessage) -> dict[str, Any]:
    """The ``message`` object of a postMessage answer, within the spec's ``objs_message``."""
    echoed: dict[str, Any] = {
        "type": "message",
        "text": message.text,
        "ts": message.ts,
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "team": TEAM_ID,
    }
    if message.blocks:
        echoed["blocks"] = copy.deepcopy(message.blocks)
    if message.attachments:
        # Slack numbers the attachments it echoes.
        echoed["attachments"] = [
            {**a, "id": n} if isinstance(a, dict) else a
            for n, a in enumerate(message.attachments, start=1)
        ]
    if message.thread_ts is not None:
        echoed["thread_ts"] = message.thread_ts
        echoed["parent_user_id"] = BOT_USER_ID
    return echoed


def _error_body(problems: _Problems) -> dict[str, Any]:
    code = problems.items[0][0]
    messages = [f"[ERROR] {message}" for _, message in problems.items]
    body: dict[str, Any] = {"ok": False, "error": code}
    if code == "invalid_blocks":
        body["errors"] = [m for c, m in problems.items if c == "invalid_blocks"]
    body["response_metadata"] = {"messages": messages}
    return body


def _decode(request: Incoming, problems: _Problems) -> dict[str, Any] | None:
    """The request's parameters, from a JSON or a form-encoded body; None if undecodable."""
    if not request.raw:
        return {}
    if request.media_type == "application/json":
        try:
            params = decode_json(request.raw)
        except ValueError as err:
            problems.add("invalid_json", f"the body is not JSON: {err}")
            return None
        if not isinstance(params, dict):
            problems.add("json_not_object", "the JSON body is not an object")
            return None
        return params
    if request.media_type == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(request.raw.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            problems.add("invalid_charset", "the form body is not UTF-8")
            return None
        form: dict[str, Any] = {}
        for name, value in pairs:
            if name in form:
                problems.add("invalid_arguments", f"parameter `{name}` given twice")
            form[name] = value
        return form
    if not request.media_type:
        problems.add("missing_post_type", "a body without a Content-Type header")
    else:
        # Slack also takes multipart/form-data, which slack_sdk sends only with files: not for
        # these methods, so this fake does not decode it.
        problems.add("invalid_post_type", f"Content-Type {request.media_type} is not accepted")
    return None


def _validate(method: str, params: dict[str, Any], problems: _Problems) -> dict[str, Any]:
    """Check ``params`` against the spec of ``method``; return them normalized.

    Normalized: blocks, attachments and metadata decoded when a form sent them as JSON text,
    boolean strings (``"1"``, ``"true"``) as booleans.
    """
    spec = spec_params(method)
    already = len(problems.items)
    normalized: dict[str, Any] = {}
    for name, value in params.items():
        param = spec.get(name)
        if param is None:
            # Stricter than Slack, which ignores unknown arguments: a misspelt one (thread_id
            # for thread_ts) would silently do nothing there.
            problems.add("invalid_arguments", f"unknown parameter `{name}` for {method}")
            continue
        normalized[name] = _coerce(param, value, problems)
    for param in spec.values():
        if param.required and param.name not in params:
            problems.add("invalid_arguments", f"missing required field: {param.name}")
    if len(problems.items) > already:
        # The value checks below assume the types are right.
        return normalized
    _check_values(method, normalized, problems)
    return normalized


def _coerce(param: _Param, value: Any, problems: _Problems) -> Any:
    name = param.name
    if name in ("blocks", "attachments"):
        # "A JSON-based array ..., presented as a URL-encoded string" in a form; an array in a
        # JSON body (slack_sdk also passes a string through as it is).
        decoded = value
        if isinstance(value, str):
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = None
        if not isinstance(decoded, list):
            code = "invalid_blocks" if name == "blocks" else "invalid_arguments"
            problems.add(code, f"`{name}` must be a JSON array [json-pointer:/{name}]")
            return value
        return decoded
    if param.type == "boolean" or name in _LOOSE_BOOLEANS:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value in _BOOLEAN_STRINGS:
            return _BOOLEAN_STRINGS[value]
        problems.add("invalid_arguments", f"`{name}` must be a boolean, not {value!r}")
        return value
    if param.type == "object":
        decoded = value
        if isinstance(value, str):
            try:
                decoded = json.loads(value)
            except ValueError:
                decoded = None
        if not isinstance(decoded, dict):
            problems.add("invalid_arguments", f"`{name}` must be a JSON object")
            return value
        return decoded
    if not isinstance(value, str):
        problems.add("invalid_arguments", f"`{name}` must be a string, not {value!r}")
    return value


def _check_values(method: str, params: dict[str, Any], problems: _Problems) -> None:
    for name in ("ts", "thread_ts"):
        if name in params and not _TS.match(params[name]):
            problems.add(
                "invalid_arguments",
                f"`{name}` {params[name]!r} is not a message ts like 1503435956.000247",
            )
    if "parse" in params and params["parse"] not in ("none", "full"):
        problems.add("invalid_arguments", "`parse` is none or full")
    if not params.get("channel"):
        problems.add("invalid_arguments", "`channel` is empty")
    text = params.get("text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        problems.add("msg_too_long", f"`text` has {len(text)} characters; at most {MAX_TEXT}")
    markdown_text = params.get("markdown_text")
    if markdown_text is not None:
        if len(markdown_text) > MAX_MARKDOWN_TEXT:
            problems.add("msg_too_long", f"`markdown_text` has more than {MAX_MARKDOWN_TEXT}")
        if "text" in params or "blocks" in params:
            problems.add("invalid_arguments", "`markdown_text` is not used with text or blocks")
    metadata = params.get("metadata")
    if metadata is not None and not (
        isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload"), dict)
    ):
        problems.add("invalid_arguments", "`metadata` needs event_type and event_payload")
    attachments = params.get("attachments")
    if attachments is not None:
        if len(attachments) > MAX_ATTACHMENTS:
            problems.add("too_many_attachments", f"more than {MAX_ATTACHMENTS} attachments")
        if not all(isinstance(a, dict) for a in attachments):
            problems.add("invalid_arguments", "each attachment is an object")
    blocks = params.get("blocks")
    if blocks is not None:
        for problem in block_problems(blocks):
            problems.add("invalid_blocks", problem)
    has_content = (
        (isinstance(text, str) and text.strip())
        or blocks
        or attachments
        or (isinstance(markdown_text, str) and markdown_text.strip())
    )
    if not has_content:
        # Slack's answer when there is nothing to show (the spec lists no_text for both).
        problems.add("no_text", f"{method} needs text, blocks, attachments or markdown_text")


def block_problems(blocks: list[Any]) -> list[str]:
    """What is wrong with ``blocks`` by ``slack_sdk.models.blocks``, in Slack's message form.

    Each block is parsed with ``Block.parse`` and checked with ``validate_json``; a field the
    model does not know (dropped when it renders the block again) is reported too, since the
    model would otherwise let it through silently.
    """
    found: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        found.append(f"no more than {MAX_BLOCKS} items allowed [json-pointer:/blocks]")
    for index, block in enumerate(blocks):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            found.append(f"a block is an object with a string type [json-pointer:{pointer}]")
            continue
        try:
            parsed = Block.parse(copy.deepcopy(block))
            if parsed is None:
                found.append(f"unknown block type {block['type']!r} [json-pointer:{pointer}]")
                continue
            parsed.validate_json()
            rendered = parsed.to_dict()
        except Exception as err:
            # The models raise SlackObjectFormationError for a broken rule, TypeError for a
            # missing or unknown constructor argument, and AttributeError or KeyError for some
            # malformed nested values: all mean Slack would refuse the block.
            found.append(f"{type(err).__name__}: {err} [json-pointer:{pointer}]")
            continue
        found.extend(
            f"unknown field [json-pointer:{path}]" for path in _dropped(block, rendered, pointer)
        )
    return found


def _dropped(given: Any, rendered: Any, pointer: str) -> list[str]:
    """The JSON pointers of keys in ``given`` that the rendering lost."""
    if isinstance(given, dict) and isinstance(rendered, dict):
        lost = []
        for key, value in given.items():
            if key not in rendered:
                lost.append(f"{pointer}/{key}")
            else:
                lost.extend(_dropped(value, rendered[key], f"{pointer}/{key}"))
        return lost
    if isinstance(given, list) and isinstance(rendered, list) and len(given) == len(rendered):
        return [
            path
            for index, (g, r) in enumerate(zip(given, rendered, strict=True))
            for path in _dropped(g, r, f"{pointer}/{index}")
        ]
    return []
