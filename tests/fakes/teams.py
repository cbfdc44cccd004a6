"""A loopback fake of a Teams Workflows flow, "Post to a channel when a webhook request is
received".

Such a flow is an HTTP trigger of Power Automate (Azure Logic Apps underneath) at a URL like
``https://<region>.logic.azure.com/workflows/<id>/triggers/manual/paths/invoke?api-version=
2016-06-01&sp=...&sv=1.0&sig=<signature>``: the ``sig`` query parameter is the only credential.
``add_flow`` makes such a URL on the fake.

The body is the envelope of Microsoft's example (``tests/data/vendor/teams/
incoming-webhook-message.example.json``): ``{"type": "message", "attachments": [{"contentType":
"application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": <card>}]}``; each card
is validated with ``jsonschema.Draft6Validator`` against the Adaptive Card 1.5 schema (draft-06,
``tests/data/vendor/teams/adaptive-card-1.5.0.schema.json``).

Accepted posts are answered 202 with an empty body: the flow runs asynchronously. Invalid ones
get 400 with Azure's error envelope ``{"error": {"code", "message"}}``. That is stricter than
Workflows, deliberately: Workflows checks only the envelope when the request arrives; a card
Teams cannot show fails the flow's run later, where the sender never sees it.
"""

from __future__ import annotations

import copy
import functools
import re
import secrets
import uuid
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError

from tests.fakes.loopback import Answer, Incoming, LoopbackFake, Outcome, decode_json, load_vendored

SCHEMA_FILE = "teams/adaptive-card-1.5.0.schema.json"
EXAMPLE_FILE = "teams/incoming-webhook-message.example.json"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ENVELOPE_KEYS = frozenset({"type", "attachments"})
ATTACHMENT_KEYS = frozenset({"contentType", "contentUrl", "content"})
SCHEMA_VERSION = (1, 5)
_FLOW_PATH = re.compile(r"^/workflows/([^/]+)(?:/.*)?\Z")
_VERSION = re.compile(r"^(\d+)\.(\d+)\Z")
_MAX_MESSAGE = 300


@functools.cache
def card_validator() -> Any:
    """A ``Draft6Validator`` of the vendored Adaptive Card 1.5 schema (checked once)."""
    schema = load_vendored(SCHEMA_FILE)
    validator_class = jsonschema.validators.validator_for(schema)
    if validator_class is not jsonschema.Draft6Validator:
        raise AssertionError(f"{SCHEMA_FILE} is not draft-06: {schema.get('$schema')}")
    jsonschema.Draft6Validator.check_schema(schema)
    return jsonschema.Draft6Validator(schema)


def card_problems(card: Any, where: str = "card") -> list[str]:
    """What is wrong with an Adaptive Card by the 1.5 schema, each with where it is."""
    if not isinstance(card, dict):
        return [f"{where}: a card is a JSON object"]
    found: list[str] = []
    if "msteams" in card:
        # Teams' own top-level extension ({"width": "Full"}, mention "entities"), documented
        # by Teams and not part of the Adaptive Card schema, which allows no unknown property.
        if not isinstance(card["msteams"], dict):
            found.append(f"{where}.msteams: an object")
        card = {key: value for key, value in card.items() if key != "msteams"}
    errors = sorted(card_validator().iter_errors(card), key=lambda e: list(e.absolute_path))
    for error in errors:
        found.extend(f"{where}{message}" for message in _explain(error))
    # The schema's own description of "version": "Version is not required for cards within an
    # Action.ShowCard. However, it *is* required for the top-level card." Its JSON does not say
    # so (no "required"), so it is checked here.
    version = card.get("version")
    if version is None:
        found.append(f"{where}.version: required for the top-level card")
    elif isinstance(version, str):
        match = _VERSION.match(version)
        if match is None:
            found.append(f"{where}.version: {version!r} is not a version such as '1.5'")
        elif (int(match[1]), int(match[2])) > SCHEMA_VERSION:
            found.append(f"{where}.version: {version} is later than the 1.5 schema checked here")
    return found


def _explain(error: ValidationError) -> list[str]:
    """Messages for one schema error, descending into ``anyOf`` to the branch meant.

    Elements and actions are ``anyOf`` one branch per ``type``; the plain message would only
    say the element matches none. The branch whose ``type`` matched is the one the author
    meant, and its errors are the useful ones.
    """
    where = error.json_path.removeprefix("$")
    if error.validator in ("anyOf", "oneOf") and error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        type_path = [*error.absolute_path, "type"]
        meant = [
            errs
            for errs in branches.values()
            if not any(
                list(e.absolute_path) == type_path and e.validator in ("enum", "const")
                for e in errs
            )
        ]
        if len(meant) == 1:
            return [message for sub in meant[0] for message in _explain(sub)]
        instance = error.instance
        if not meant and isinstance(instance, dict) and "type" in instance:
            return [f"{where}: unknown type {instance['type']!r}"]
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "..."
    return [f"{where}: {message}"]


def envelope_problems(body: Any) -> list[str]:
    """What is wrong with the message envelope (not the cards), as Workflows' trigger sees it."""
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    found = [f"unknown field {key!r}" for key in sorted(set(body) - ENVELOPE_KEYS)]
    if body.get("type") != "message":
        found.append("'type' must be 'message'")
    attachments = body.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        found.append("'attachments' must be a non-empty list")
        return found
    for index, attachment in enumerate(attachments):
        where = f"attachments[{index}]"
        if not isinstance(attachment, dict):
            found.append(f"{where} is not an object")
            continue
        found.extend(
            f"{where}: unknown field {key!r}" for key in sorted(set(attachment) - ATTACHMENT_KEYS)
        )
        if attachment.get("contentType") != CARD_CONTENT_TYPE:
            found.append(f"{where}.contentType must be {CARD_CONTENT_TYPE}")
        if attachment.get("contentUrl") is not None:
            found.append(f"{where}.contentUrl must be null (the card is inline)")
        if "content" not in attachment:
            found.append(f"{where}.content (the card) is missing")
    return found


def _error(status: int, code: str, message: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}})


class FakeTeams(LoopbackFake):
    """Scripted Teams Workflows webhook flows on a loopback port.

    Make a flow with ``add_flow`` (after ``start``) and post to the URL it returns. Scripted
    answers (``answer_next(429, headers={"Retry-After": "5"})``, 5xx) are used once the flow
    and its signature are recognised.
    """

    label = "FakeTeams"

    def __init__(self) -> None:
        super().__init__()
        self._flows: dict[str, str] = {}

    def add_flow(self) -> str:
        """Create a flow and return its full URL (with ``api-version``, ``sp``, ``sv``, ``sig``)."""
        flow_id = uuid.uuid4().hex
        signature = secrets.token_urlsafe(32)
        with self._condition:
            self._flows[flow_id] = signature
        return (
            f"{self.url}/workflows/{flow_id}/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={signature}"
        )

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The accepted envelopes, oldest first."""
        return [r.params for r in self.requests if r.accepted]

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The cards (attachment ``content``) of the accepted posts, oldest first."""
        return [a["content"] for m in self.messages for a in m["attachments"]]

    def wait_for(self, count: int, timeout: float) -> list[dict[str, Any]]:
        """Block until ``count`` posts were accepted; return the cards of all accepted posts.

        Raises:
            AssertionError: on timeout, listing what was received.
        """
        accepted = self._wait_accepted(count, timeout, None, "posts")
        return [copy.deepcopy(a["content"]) for r in accepted for a in r.params["attachments"]]

    def _complete_scripted(self, answer: Answer) -> Answer:
        headers = dict(answer.headers)
        body = answer.body
        if answer.status == 429:
            if not any(name.lower() == "retry-after" for name in headers):
                headers["Retry-After"] = "1"
            if body is None:
                # Azure's error envelope; the code is a stand-in, not a documented one.
                body = {"error": {"code": "TooManyRequests", "message": "Rate limit exceeded."}}
        elif body is None and answer.status >= 400:
            body = {"error": {"code": "ServiceUnavailable", "message": "Scripted failure."}}
        return Answer(answer.status, body, headers)

    def _handle(self, request: Incoming) -> Outcome:
        match = _FLOW_PATH.match(request.path)
        flow_id = match[1] if match else ""
        signature = self._flows.get(flow_id)
        if signature is None:
            problem = f"no flow at {request.path}"
            return Outcome(_error(404, "WorkflowNotFound", problem), flow_id, problems=(problem,))
        given = request.query.get("sig", [])
        if not given:
            problem = "the URL has no sig (the flow's signature)"
            answer = _error(401, "DirectApiAuthorizationRequired", problem)
            return Outcome(answer, flow_id, problems=(problem,))
        if not secrets.compare_digest(given[-1], signature):
            problem = "the URL's sig is not the flow's signature"
            answer = _error(401, "DirectApiInvalidAuthorizationSignature", problem)
            return Outcome(answer, flow_id, problems=(problem,))
        if request.method != "POST":
            problem = f"the flow's trigger takes POST, not {request.method}"
            return Outcome(
                _error(400, "TriggerRequestMethodNotValid", problem), flow_id, problems=(problem,)
            )
        envelope: list[str] = []
        body: Any = None
        if request.media_type != "application/json":
            envelope.append(f"Content-Type must be application/json, not {request.media_type!r}")
        try:
            body = decode_json(request.raw)
        except ValueError as err:
            envelope.append(f"the body is not JSON: {err}")
        else:
            envelope.extend(envelope_problems(body))
        cards: list[str] = []
        if not envelope:
            for index, attachment in enumerate(body["attachments"]):
                cards.extend(card_problems(attachment["content"], f"attachments[{index}].content"))
        problems = (*envelope, *cards)
        scripted = self._take_scripted()
        if scripted is not None:
            return Outcome(scripted, flow_id, body, problems, scripted=True)
        if envelope:
            answer = _error(400, "TriggerInputSchemaMismatch", "; ".join(envelope))
            return Outcome(answer, flow_id, body, problems)
        if cards:
            # Not a Workflows code: Workflows would accept the post and fail the run later.
            answer = _error(400, "InvalidAdaptiveCard", "; ".join(cards))
            return Outcome(answer, flow_id, body, problems)
        return Outcome(Answer(202), flow_id, body, accepted=True)


def example_envelope() -> dict[str, Any]:
    """Microsoft's example envelope, as vendored."""
    envelope: dict[str, Any] = load_vendored(EXAMPLE_FILE)
    return envelope
