"""The API's answers: JSON bodies, one error shape, and Temporal's errors as HTTP statuses.

Every error is ``{"error": {"code": ..., "message": ..., "fields": [...]}}``: ``code`` is stable
for programs, ``message`` says what to do, ``fields`` (422 only) lists each field path wrong.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from escalations.client.errors import (
    TemporalUnreachable,
    TicketAlreadyOpen,
    TicketClosed,
    TicketError,
    TicketNotFound,
    TicketOpenFailed,
    TicketUpdateRejected,
)

# Ticket data must not linger in a proxy's cache.
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

TICKET_ERRORS: tuple[tuple[type[TicketError], HTTPStatus, str], ...] = (
    (TicketNotFound, HTTPStatus.NOT_FOUND, "ticket_not_found"),
    (TicketAlreadyOpen, HTTPStatus.CONFLICT, "ticket_already_open"),
    (TicketClosed, HTTPStatus.CONFLICT, "ticket_closed"),
    (TicketUpdateRejected, HTTPStatus.CONFLICT, "update_rejected"),
    (TicketOpenFailed, HTTPStatus.UNPROCESSABLE_ENTITY, "ticket_open_failed"),
    (TemporalUnreachable, HTTPStatus.SERVICE_UNAVAILABLE, "temporal_unavailable"),
    (TicketError, HTTPStatus.SERVICE_UNAVAILABLE, "ticket_unavailable"),
)
"""Each client error (most specific first), its status and code."""


def json_response(status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> Response:
    """``body`` (a model, or plain JSON values) as a JSON response."""
    text = body.model_dump_json() if isinstance(body, BaseModel) else json.dumps(body, default=str)
    return Response(
        text + "\n",
        status_code=status,
        media_type="application/json",
        headers={**HEADERS, **(headers or {})},
    )


def error(
    status: HTTPStatus,
    code: str,
    message: str,
    *,
    fields: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The one error shape."""
    body: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        body["fields"] = fields
    return json_response(status, {"error": body}, headers)


def ticket_error(err: TicketError) -> Response:
    """A client error as its status and code."""
    for kind, status, code in TICKET_ERRORS:
        if isinstance(err, kind):
            return error(status, code, err.message)
    raise AssertionError("TicketError is the last row")  # pragma: no cover


def invalid(err: ValidationError, where: str = "body") -> Response:
    """``422`` naming each wrong field (``body.priority``), never echoing a value."""
    fields = [
        {
            "field": ".".join([where, *(str(part) for part in problem["loc"])]),
            "message": problem["msg"].removeprefix("Value error, "),
        }
        for problem in err.errors(include_url=False, include_input=False)
    ]
    first = fields[0]
    return error(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "invalid",
        f"{first['field']}: {first['message']}",
        fields=fields,
    )


def parse_json(body: bytes) -> Any | Response:
    """The body as JSON, or the ``422`` that says why not."""
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        return error(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid",
            f"body: not a JSON document ({type(err).__name__})",
            fields=[{"field": "body", "message": "not a JSON document"}],
        )
