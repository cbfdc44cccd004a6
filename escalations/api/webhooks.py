"""``POST /v1/webhooks/{source}``: a helpdesk's delivery, verified, read, mapped and applied.

In order, each refusal changing nothing: an unknown source ``404``; a body over the limit
``413``; a source whose secret is not configured ``503`` (an unsigned delivery is never taken);
a missing, wrong or stale signature ``401``; a body the source would not send ``422`` naming the
field; an event the mapping does not handle ``202`` with the reason. Then the plan's steps are
sent (see :func:`escalations.intake.apply.apply_plan` for the statuses that follow). One log
line per delivery: source, delivery id, ticket id, what it became, and the status.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response

from escalations.api import answers
from escalations.api.context import ApiContext
from escalations.client.errors import TicketError
from escalations.codec.responses import read_body
from escalations.codec.serving import log_field
from escalations.intake.apply import Outcome, apply_plan
from escalations.intake.events import SOURCES, PayloadError, SignatureError, SourceName
from escalations.intake.readers import READERS
from escalations.intake.translate import MappingProblem, plan

log = logging.getLogger("escalations.api.webhooks")


class WebhookRoute:
    """The handler of ``/v1/webhooks/{source}``."""

    def __init__(self, context: ApiContext) -> None:
        self.context = context

    async def receive(self, request: Request) -> Response:
        name = request.path_params["source"]
        if name not in SOURCES:
            return answers.error(
                HTTPStatus.NOT_FOUND,
                "unknown_source",
                f"no webhook source {name[:40]!r}; sources: {', '.join(SOURCES)}",
            )
        source: SourceName = name
        body = await read_body(request, self.context.max_webhook_body, answers.HEADERS)
        if isinstance(body, Response):
            return body
        if source in self.context.disabled:
            return self._refuse(
                source,
                HTTPStatus.SERVICE_UNAVAILABLE,
                "intake_not_configured",
                self.context.disabled[source],
            )
        secret = self.context.webhook_secret(source)
        if secret is None:
            where = self.context.mappings[source].secret.describe()
            return self._refuse(
                source,
                HTTPStatus.SERVICE_UNAVAILABLE,
                "intake_not_configured",
                f"the {source} intake has no secret: set {where}",
            )
        reader = READERS[source]
        headers = {key.lower(): value for key, value in request.headers.items()}
        try:
            reader.verify(headers, body, secret, self.context.now())
        except SignatureError as err:
            return self._refuse(source, HTTPStatus.UNAUTHORIZED, "bad_signature", str(err))
        try:
            event = reader.read(headers, body)
            steps = plan(event, self.context.mappings[source])
        except (PayloadError, MappingProblem) as err:
            field = f"body.{err.field}" if err.field != "body" else "body"
            return self._refuse(
                source,
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "invalid",
                f"{field}: {err.message}",
                fields=[{"field": field, "message": err.message}],
            )
        if not steps.steps:
            outcome = Outcome(HTTPStatus.ACCEPTED, steps.ticket_id, skipped=list(steps.skipped))
        else:
            try:
                client = await self.context.client()
            except TicketError as err:
                outcome = Outcome(
                    HTTPStatus.SERVICE_UNAVAILABLE, steps.ticket_id, error=err.message
                )
            else:
                outcome = await apply_plan(client, steps)
        log.info(
            "webhook source=%s delivery=%s ticket=%s became=%s skipped=%d -> %d",
            source,
            log_field(event.delivery_id, 100),
            log_field(outcome.ticket_id or "-"),
            ",".join(outcome.applied) or "nothing",
            len(outcome.skipped),
            outcome.status,
            extra={
                "source": source,
                "delivery_id": event.delivery_id,
                "ticket_id": outcome.ticket_id,
                "updates": outcome.applied,
                "skipped": outcome.skipped,
                "status": int(outcome.status),
            },
        )
        return answers.json_response(outcome.status, outcome.body())

    def _refuse(
        self,
        source: SourceName,
        status: HTTPStatus,
        code: str,
        message: str,
        fields: list[dict[str, str]] | None = None,
    ) -> Response:
        log.warning("webhook source=%s refused %d: %s", source, status, log_field(message, 300))
        return answers.error(status, code, message, fields=fields)
