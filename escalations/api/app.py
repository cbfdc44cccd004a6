"""The API as an ASGI app: routes, request metrics and the access log.

``/v1/tickets...`` (API keys, :mod:`escalations.api.tickets`), ``/v1/webhooks/{source}``
(signatures, :mod:`escalations.api.webhooks`), ``/openapi.json``, ``/healthz`` (the process
answers), ``/readyz`` (Temporal answers), ``/metrics`` (Prometheus). Any other path or method
is ``404`` / ``405`` in the API's error shape.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.service import RPCError

from escalations.api import answers
from escalations.api.context import ApiContext
from escalations.api.metrics import route_observer
from escalations.api.openapi import document
from escalations.api.tickets import TicketRoutes
from escalations.api.webhooks import WebhookRoute
from escalations.client.errors import TicketError
from escalations.codec.serving import AccessLog

log = logging.getLogger("escalations.api")
PLAIN = "text/plain; charset=utf-8"


def build_app(context: ApiContext) -> ASGIApp:
    """The API over ``context``."""
    tickets = TicketRoutes(context)
    webhooks = WebhookRoute(context)

    async def health(request: Request) -> Response:
        return Response("ok\n", media_type=PLAIN, headers=answers.HEADERS)

    async def ready(request: Request) -> Response:
        try:
            client = await context.client()
            await client.client.workflow_service.get_system_info(GetSystemInfoRequest())
        except (TicketError, RPCError) as err:
            message = err.message if isinstance(err, TicketError) else "Temporal did not answer"
            return Response(
                f"not ready: {message}\n",
                status_code=503,
                media_type=PLAIN,
                headers=answers.HEADERS,
            )
        return Response("ready\n", media_type=PLAIN, headers=answers.HEADERS)

    async def metrics(request: Request) -> Response:
        return Response(context.metrics.exposition(), media_type="text/plain; version=0.0.4")

    async def openapi(request: Request) -> Response:
        return answers.json_response(HTTPStatus.OK, document())

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            # Starlette's Allow names the methods of the first route on the path only; a path
            # served by one route per method (``/v1/tickets``) allows the methods of them all.
            allowed = sorted(
                method
                for route in routes
                if route.matches(request.scope)[0] is Match.PARTIAL
                for method in route.methods or ()
            )
            return answers.error(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed",
                headers={"Allow": ", ".join(allowed)},
            )
        return answers.error(HTTPStatus.NOT_FOUND, "not_found", "no such route")

    routes = [
        Route("/v1/tickets", tickets.open, methods=["POST"]),
        Route("/v1/tickets", tickets.list, methods=["GET"]),
        Route("/v1/tickets/{ticket_id}", tickets.status, methods=["GET"]),
        Route("/v1/tickets/{ticket_id}/{update}", tickets.update, methods=["POST"]),
        Route("/v1/webhooks/{source}", webhooks.receive, methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
        Route("/readyz", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    observe = route_observer(context.metrics, list(routes))
    return AccessLog(app, logger=log, header=b"idempotency-key", label="key", observe=observe)
