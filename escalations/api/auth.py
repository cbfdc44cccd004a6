"""Who may call ``/v1/tickets``: an API key with the scope the route needs.

``Authorization: Bearer esk_...``. Reads need ``read``, writes ``write``, operator updates
``admin`` (each scope includes the ones below it). Wrong keys are rate limited per client
address; the key is never logged or echoed. Webhooks do not use keys: each helpdesk signs its
deliveries (see :mod:`escalations.api.webhooks`).
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response

from escalations.api import answers
from escalations.api.context import ApiContext
from escalations.api.keys import KeyStoreError, Scope

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="escalations-api"'}


def authorize(request: Request, context: ApiContext, needed: Scope) -> Response | None:
    """None when the request's key may do what needs ``needed``, else the refusal."""
    client = request.client.host if request.client is not None else "-"
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return answers.error(
            HTTPStatus.UNAUTHORIZED,
            "unauthenticated",
            "send Authorization: Bearer <API key> (create one with `escalations api-key create`)",
            headers=CHALLENGE,
        )
    # Asked before the key is checked: a client out of attempts learns nothing.
    wait = context.wrong_keys.retry_after(client)
    if wait is not None:
        return answers.error(
            HTTPStatus.TOO_MANY_REQUESTS,
            "too_many_attempts",
            f"too many wrong API keys: try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    try:
        key = context.keys.authenticate(token.strip())
    except KeyStoreError:
        return answers.error(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "key_store_unavailable",
            "the API's key store cannot be read; the server's log says why",
        )
    if key is None:
        context.wrong_keys.charge(client)
        return answers.error(
            HTTPStatus.UNAUTHORIZED,
            "unauthenticated",
            "unknown or revoked API key",
            headers=CHALLENGE,
        )
    if not key.allows(needed):
        return answers.error(
            HTTPStatus.FORBIDDEN,
            "forbidden",
            f"this API key has scope {key.scope}; this request needs {needed}",
        )
    return None
