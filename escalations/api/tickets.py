"""``/v1/tickets``: the ticket contract over HTTP, with the same models and the same errors.

``POST /v1/tickets`` opens a ticket (``TicketInput``); ``POST /v1/tickets/{id}/{update}`` sends
an update with its request model; ``GET /v1/tickets/{id}`` is the ``status`` query; ``GET
/v1/tickets`` lists running tickets with the filters of ``escalations tickets list``. An
``Idempotency-Key`` header makes a retried write apply once: on an update it becomes the
Temporal update id (a repeat gets the first result), on an open it is kept with the ticket.
"""

from __future__ import annotations

import re
import time
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from temporalio.service import RPCError

from escalations.api import answers
from escalations.api.auth import authorize
from escalations.api.context import ApiContext
from escalations.client.bulk import Selection, select_tickets
from escalations.client.errors import TicketError
from escalations.codec.responses import read_body
from workflows import ticket_messages as messages
from workflows.ticket_messages import TicketId, TicketInput
from workflows.ticket_state import TicketStateName

UPDATE_REQUESTS: dict[str, type[BaseModel]] = {
    "acknowledge": messages.AcknowledgeRequest,
    "resolve": messages.ResolveRequest,
    "feedback": messages.FeedbackRequest,
    "reopen": messages.ReopenRequest,
    "pause": messages.PauseRequest,
    "resume": messages.ResumeRequest,
    "customer_replied": messages.CustomerRepliedRequest,
    "agent_replied": messages.AgentRepliedRequest,
    "change_priority": messages.ChangePriorityRequest,
    "update_impact": messages.UpdateImpactRequest,
    "update_attributes": messages.UpdateAttributesRequest,
    "reassign": messages.ReassignRequest,
    "migrate_policy": messages.MigratePolicyRequest,
    "report_event": messages.ReportEventRequest,
}
"""Each update of the contract and its request model (the workflow's handler has the same
name)."""
ADMIN_UPDATES = frozenset({"migrate_policy"})
"""Updates only an ``admin`` key may send: moving tickets between policy versions is an
operator's decision."""

MAX_LIST = 1000
_KEY = re.compile(r"[\x21-\x7e]{1,200}\Z")
_TICKET_ID: TypeAdapter[str] = TypeAdapter(TicketId)
_OPEN_FIELDS = frozenset(TicketInput.model_fields) - {"continued"}


class TicketRoutes:
    """The handlers of ``/v1/tickets``."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context

    async def open(self, request: Request) -> Response:
        refused = authorize(request, self.context, "write")
        if refused is not None:
            return refused
        key = _idempotency_key(request)
        if isinstance(key, Response):
            return key
        data = await self._json_object(request)
        if isinstance(data, Response):
            return data
        if "continued" in data:
            return answers.error(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid",
                "body.continued: internal (state carried across continue-as-new); leave it out",
                fields=[{"field": "body.continued", "message": "internal; leave it out"}],
            )
        try:
            ticket = TicketInput.model_validate(data)
        except ValidationError as err:
            return answers.invalid(err)
        timing = TemporalTiming()
        try:
            client = await self.context.client()
            with timing:
                if key is None:
                    status = await client.open(ticket)
                    opened = True
                else:
                    opened = await client.open_once(ticket, f"api:{key}")
                    status = await client.wait_open(ticket.ticket_id)
        except TicketError as err:
            return answers.ticket_error(err)
        if opened:
            headers = {**_location(ticket), **timing.header()}
            return answers.json_response(HTTPStatus.CREATED, status, headers)
        headers = {"Idempotent-Replayed": "true", **timing.header()}
        return answers.json_response(HTTPStatus.OK, status, headers)

    async def update(self, request: Request) -> Response:
        name = request.path_params["update"]
        model = UPDATE_REQUESTS.get(name)
        if model is None:
            return answers.error(
                HTTPStatus.NOT_FOUND,
                "unknown_update",
                f"no update {name[:60]!r}; updates: {', '.join(UPDATE_REQUESTS)}",
            )
        refused = authorize(request, self.context, "admin" if name in ADMIN_UPDATES else "write")
        if refused is not None:
            return refused
        ticket_id = _ticket_id(request)
        if isinstance(ticket_id, Response):
            return ticket_id
        key = _idempotency_key(request)
        if isinstance(key, Response):
            return key
        data = await self._json_object(request, empty_ok=True)
        if isinstance(data, Response):
            return data
        try:
            update = model.model_validate(data)
        except ValidationError as err:
            return answers.invalid(err)
        timing = TemporalTiming()
        try:
            client = await self.context.client()
            update_id = f"api:{key}" if key is not None else None
            with timing:
                status = await client.apply(ticket_id, name, update, update_id=update_id)
        except TicketError as err:
            return answers.ticket_error(err)
        return answers.json_response(HTTPStatus.OK, status, timing.header())

    async def status(self, request: Request) -> Response:
        refused = authorize(request, self.context, "read")
        if refused is not None:
            return refused
        ticket_id = _ticket_id(request)
        if isinstance(ticket_id, Response):
            return ticket_id
        timing = TemporalTiming()
        try:
            client = await self.context.client()
            with timing:
                status = await client.status(ticket_id)
        except TicketError as err:
            return answers.ticket_error(err)
        return answers.json_response(HTTPStatus.OK, status, timing.header())

    async def list(self, request: Request) -> Response:
        refused = authorize(request, self.context, "read")
        if refused is not None:
            return refused
        params = request.query_params
        unknown = sorted(set(params) - {"team", "priority", "customer", "policy", "state", "limit"})
        if unknown:
            return _bad_query(
                unknown[0], "not a filter: use team, priority, customer, policy, state, limit"
            )
        states: list[TicketStateName] = []
        for value in params.getlist("state"):
            try:
                states.append(TicketStateName(value))
            except ValueError:
                choices = ", ".join(s.value for s in TicketStateName)
                return _bad_query("state", f"{value[:40]!r} is not a state; states: {choices}")
        limit_text = params.get("limit", str(MAX_LIST))
        if not (limit_text.isascii() and limit_text.isdigit() and 1 <= int(limit_text) <= MAX_LIST):
            return _bad_query("limit", f"a whole number from 1 to {MAX_LIST}")
        values = {
            name: tuple(params.getlist(name)) for name in ("team", "priority", "customer", "policy")
        }
        for name, given in values.items():
            for value in given:
                if not value or len(value) > 200 or not value.isprintable():
                    return _bad_query(name, "1-200 printable characters")
        selection = Selection(
            teams=values["team"],
            priorities=values["priority"],
            customers=values["customer"],
            policies=values["policy"],
            states=tuple(states),
        )
        try:
            client = await self.context.client()
            found = await select_tickets(client.client, selection, limit=int(limit_text))
        except TicketError as err:
            return answers.ticket_error(err)
        except RPCError as err:
            return answers.error(
                HTTPStatus.SERVICE_UNAVAILABLE, "temporal_unavailable", err.message
            )
        return answers.json_response(
            HTTPStatus.OK, {"tickets": [ticket.__dict__ for ticket in found]}
        )

    async def _json_object(
        self, request: Request, *, empty_ok: bool = False
    ) -> dict[str, Any] | Response:
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        body = await read_body(request, self.context.max_body, answers.HEADERS)
        if isinstance(body, Response):
            return body
        if not body and empty_ok:
            return {}
        if content_type != "application/json":
            return answers.error(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send Content-Type: application/json",
            )
        data = answers.parse_json(body)
        if isinstance(data, Response):
            return data
        if not isinstance(data, dict):
            return answers.error(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid",
                "body: must be a JSON object",
                fields=[{"field": "body", "message": "must be a JSON object"}],
            )
        return data


class TemporalTiming:
    """How long a request waited on Temporal, for its ``Server-Timing`` header.

    A caller (or a benchmark) subtracts it from the time it measured to see what the API
    itself took: the HTTP exchange, authentication, validation and serialisation.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self._began = 0.0

    def __enter__(self) -> None:
        self._began = time.perf_counter()

    def __exit__(self, *exc_info: object) -> None:
        self.seconds += time.perf_counter() - self._began

    def header(self) -> dict[str, str]:
        """``Server-Timing: temporal;dur=<ms>``."""
        return {"Server-Timing": f"temporal;dur={1000 * self.seconds:.3f}"}


def _ticket_id(request: Request) -> str | Response:
    try:
        return _TICKET_ID.validate_python(request.path_params["ticket_id"])
    except ValidationError as err:
        return answers.invalid(err, "path.ticket_id")


def _idempotency_key(request: Request) -> str | Response | None:
    values = request.headers.getlist("idempotency-key")
    if not values:
        return None
    if len(values) > 1 or not _KEY.match(values[0]):
        message = "one header of 1-200 printable ASCII characters without spaces"
        return answers.error(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid",
            f"header.Idempotency-Key: {message}",
            fields=[{"field": "header.Idempotency-Key", "message": message}],
        )
    return values[0]


def _bad_query(name: str, message: str) -> Response:
    field = f"query.{name[:40]}"
    return answers.error(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "invalid",
        f"{field}: {message}",
        fields=[{"field": field, "message": message}],
    )


def _location(ticket: TicketInput) -> dict[str, str]:
    return {"Location": f"/v1/tickets/{ticket.ticket_id}"}
