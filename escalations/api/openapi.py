"""The API's OpenAPI 3.1 document, built from the contract's own pydantic models.

Every request and answer schema is the model the workflow and the Python client use, so the
document cannot drift from the contract; every status a route can answer is listed with the
shape of its body. What the models check in code rather than in their types (a ticket id's
pattern, "assignee, team or both") is added here, and ``tests/e2e/test_api_schemathesis.py``
holds the document to what the API accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any, get_args

from pydantic import AfterValidator, BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from escalations.api.tickets import ADMIN_UPDATES, MAX_LIST, UPDATE_REQUESTS
from escalations.intake.events import SOURCES
from policies.emails import MAX_ADDRESS_LENGTH, EmailAddress
from policies.model import PriorityName, Slug
from workflows.ticket_messages import (
    AttributeName,
    OneLine,
    ReassignRequest,
    Tag,
    Text,
    TicketId,
    TicketInput,
    TicketStatus,
    UpdateAttributesRequest,
    UpdateImpactRequest,
)
from workflows.ticket_state import TicketStateName

REF = "#/components/schemas/{model}"
JSON = "application/json"

_ERRORS = {
    401: "No API key, or an unknown or revoked one.",
    403: "The API key's scope does not allow this request.",
    404: "No such ticket (or update).",
    409: "The ticket refused: already open, closed, or the update does not apply now.",
    411: "The request has no Content-Length.",
    413: "The body is over the documented size (64 KiB; webhooks 1 MiB).",
    415: "The body is not application/json.",
    422: "The request is malformed (`fields` names each wrong field), or names a ticket its "
    "policy cannot open (`ticket_open_failed`: an undefined priority, for example).",
    429: "Too many wrong API keys from this address; see Retry-After.",
    503: "Temporal (or the key store) did not answer; retry later.",
}


def _error(status: int) -> dict[str, Any]:
    return {
        "description": _ERRORS[status],
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _body(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {JSON: {"schema": {"$ref": REF.format(model=model.__name__)}}},
    }


def _status(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/TicketStatus"}}},
    }


_TICKET_ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
_TICKET_ID = {
    "name": "ticket_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": _TICKET_ID_PATTERN},
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes a retried request apply once; a repeat answers the first result.",
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,200}$"},
}
_WRITE_ERRORS = (401, 403, 404, 409, 411, 413, 415, 422, 429, 503)


def _checked_by(alias: object) -> Callable[..., Any]:
    """The function an ``Annotated[str, AfterValidator(...)]`` type of the contract checks with."""
    return next(meta.func for meta in get_args(alias)[1:] if isinstance(meta, AfterValidator))


# What each of the contract's string types checks in code, as JSON Schema: pydantic cannot see
# inside a validator function, and a schema without these rules calls "" a valid ticket id.
_LINE_CHAR = r"[^\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]"
_VISIBLE = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
_ADDRESS_DOMAIN = r"[A-Za-z0-9](?:(?:[A-Za-z0-9-]|\.[A-Za-z0-9-])*\.?[A-Za-z0-9])?"
_STRING_RULES: dict[Callable[..., Any], dict[str, Any]] = {
    _checked_by(TicketId): {"pattern": _TICKET_ID_PATTERN},
    _checked_by(Slug): {"pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
    _checked_by(PriorityName): {"pattern": "^[A-Za-z0-9][A-Za-z0-9_-]{0,15}$"},
    _checked_by(EmailAddress): {
        "pattern": rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_ADDRESS_DOMAIN}$",
        "maxLength": MAX_ADDRESS_LENGTH,
    },
    # One line, no control characters, not blank (whitespace alone is blank).
    _checked_by(OneLine): {"pattern": f"^{_LINE_CHAR}*{_VISIBLE}{_LINE_CHAR}*$"},
    _checked_by(Text): {"pattern": r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"},
    _checked_by(Tag): {"pattern": r"^\w[\w:./+-]{0,63}$"},
    _checked_by(AttributeName): {"pattern": "^[a-z][a-z0-9_]{0,63}$"},
}


# A model validator's "this one, that one or both", which pydantic cannot see either.
_ONE_AT_LEAST: dict[type[BaseModel], tuple[str, ...]] = {
    ReassignRequest: ("assignee", "team"),
    UpdateImpactRequest: ("affected_users", "critical_service"),
}
# ISO 8601, as pydantic writes a timedelta ("PT41.394412S", "-PT5S", "P1Y55D").
_DURATION = r"^-?P(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?:\d+H)?(?:\d+M)?(?:\d+(?:\.\d+)?S)?)?$"


class _ContractJsonSchema(GenerateJsonSchema):
    """Pydantic's JSON Schema, with the rules of the contract's string types."""

    def function_after_schema(
        self, schema: core_schema.AfterValidatorFunctionSchema
    ) -> JsonSchemaValue:
        generated = super().function_after_schema(schema)
        rules = _STRING_RULES.get(schema["function"]["function"])
        return {**generated, **rules} if rules else generated

    def timedelta_schema(self, schema: core_schema.TimedeltaSchema) -> JsonSchemaValue:
        generated = super().timedelta_schema(schema)
        if generated.get("format") != "duration":
            return generated
        # JSON Schema's "duration" is RFC 3339's, whose seconds are whole: a clock's elapsed time
        # has microseconds.
        return {"type": "string", "pattern": _DURATION}


def _update_path(name: str, model: type[BaseModel]) -> dict[str, Any]:
    scope = "admin" if name in ADMIN_UPDATES else "write"
    return {
        "post": {
            "operationId": name,
            "summary": (model.__doc__ or name).split("\n\n")[0].replace("\n", " "),
            "description": f"Scope: {scope}. The workflow update `{name}`.",
            "parameters": [_TICKET_ID, _IDEMPOTENCY_KEY],
            "requestBody": _body(model, f"`{model.__name__}`"),
            "responses": {
                "200": _status("The ticket's status after the update."),
                **{str(code): _error(code) for code in _WRITE_ERRORS},
            },
        }
    }


def _schemas() -> dict[str, Any]:
    models: list[tuple[type[BaseModel], Any]] = [
        (TicketInput, "validation"),
        (TicketStatus, "serialization"),
        *((model, "validation") for model in UPDATE_REQUESTS.values()),
    ]
    _, top = models_json_schema(models, ref_template=REF, schema_generator=_ContractJsonSchema)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    opening = schemas["TicketInput"]
    opening["properties"].pop("continued", None)
    for model, names in _ONE_AT_LEAST.items():
        properties = schemas[model.__name__]["properties"]
        schemas[model.__name__]["anyOf"] = [
            {"required": [name], "properties": {name: _not_null(properties[name])}}
            for name in names
        ]
    # An attribute's name is checked too: patternProperties alone lets other names through.
    for model in (TicketInput, UpdateAttributesRequest):
        schemas[model.__name__]["properties"]["attributes"]["additionalProperties"] = False
    # "tags, attributes or both", where an empty attributes object counts as none.
    schemas[UpdateAttributesRequest.__name__]["anyOf"] = [
        {"required": ["tags"], "properties": {"tags": {"type": "array"}}},
        {"required": ["attributes"], "properties": {"attributes": {"minProperties": 1}}},
    ]
    # The TicketState schema came in only through ``continued``, which callers never send.
    schemas.pop("TicketState", None)
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "message"],
                            "properties": {
                                "field": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    }
    schemas["TicketList"] = {
        "type": "object",
        "required": ["tickets"],
        "properties": {
            "tickets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["ticket_id"],
                    "properties": {
                        "ticket_id": {"type": "string"},
                        **{
                            name: {"type": ["string", "null"]}
                            for name in ("priority", "team", "state", "level")
                        },
                    },
                },
            }
        },
    }
    schemas["WebhookOutcome"] = {
        "type": "object",
        "required": ["ticket_id", "applied", "skipped"],
        "properties": {
            "ticket_id": {"type": ["string", "null"]},
            "applied": {"type": "array", "items": {"type": "string"}},
            "skipped": {"type": "array", "items": {"type": "string"}},
            "error": {"type": "string"},
        },
    }
    return schemas


def _not_null(optional: dict[str, Any]) -> dict[str, Any]:
    """The schema of an optional field's value (its ``anyOf`` without ``null``)."""
    return next(choice for choice in optional["anyOf"] if choice != {"type": "null"})


def _filters() -> list[dict[str, Any]]:
    text = {"type": "string", "minLength": 1, "maxLength": 200}
    listed = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "array", "items": text}}
        for name in ("team", "priority", "customer", "policy")
    ]
    states = {"type": "string", "enum": [state.value for state in TicketStateName]}
    return [
        *listed,
        {
            "name": "state",
            "in": "query",
            "required": False,
            "schema": {"type": "array", "items": states},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIST},
        },
    ]


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document (built once per process)."""
    plain = {
        "description": "Plain text.",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    paths: dict[str, Any] = {
        "/v1/tickets": {
            "post": {
                "operationId": "open",
                "summary": "Open a ticket.",
                "description": "Scope: write. Starts the ticket's `TicketEscalation` workflow "
                "and answers its first status.",
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": _body(TicketInput, "`TicketInput` (without `continued`)."),
                "responses": {
                    "201": _status("Opened."),
                    "200": _status("A repeat of an Idempotency-Key: the ticket it opened."),
                    **{str(code): _error(code) for code in _WRITE_ERRORS},
                },
            },
            "get": {
                "operationId": "list",
                "summary": "Running tickets, filtered as `escalations tickets list` does.",
                "description": "Scope: read. A filter may repeat; its values are ORed.",
                "parameters": _filters(),
                "responses": {
                    "200": {
                        "description": "The tickets, by ticket id.",
                        "content": {JSON: {"schema": {"$ref": "#/components/schemas/TicketList"}}},
                    },
                    **{str(code): _error(code) for code in (401, 403, 422, 429, 503)},
                },
            },
        },
        "/v1/tickets/{ticket_id}": {
            "get": {
                "operationId": "status",
                "summary": "The ticket's status (the `status` query).",
                "description": "Scope: read.",
                "parameters": [_TICKET_ID],
                "responses": {
                    "200": _status("The ticket's status."),
                    **{str(code): _error(code) for code in (401, 403, 404, 422, 429, 503)},
                },
            }
        },
        **{
            f"/v1/tickets/{{ticket_id}}/{name}": _update_path(name, model)
            for name, model in UPDATE_REQUESTS.items()
        },
        "/v1/webhooks/{source}": {
            "post": {
                "operationId": "webhook",
                "summary": "A helpdesk's webhook delivery (signed by the helpdesk).",
                "description": "See docs/intake.md for each source's signature and mapping.",
                "parameters": [
                    {
                        "name": "source",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": list(SOURCES)},
                    },
                ],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": {"type": "object"}}},
                },
                "security": [],
                "responses": {
                    "200": _outcome("Applied; `applied` lists what the event became."),
                    "202": _outcome("Nothing to change; `skipped` says why."),
                    "404": _outcome_or_error("Unknown source, or no such ticket yet (retry)."),
                    **{str(code): _error(code) for code in (401, 411, 413, 422)},
                    "503": _outcome_or_error(_ERRORS[503] + " Or the source has no secret."),
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "The process answers.",
                "security": [],
                "responses": {"200": plain},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "ready",
                "summary": "Temporal answers.",
                "security": [],
                "responses": {"200": plain, "503": plain},
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics.",
                "security": [],
                "responses": {"200": plain},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Helpdesk escalations API",
            "version": "1",
            "description": "The TicketEscalation contract over HTTP, and helpdesk webhooks.",
        },
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apiKey": []}],
    }


def _outcome(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/WebhookOutcome"}}},
    }


def _outcome_or_error(description: str) -> dict[str, Any]:
    either = {
        "oneOf": [
            {"$ref": "#/components/schemas/WebhookOutcome"},
            {"$ref": "#/components/schemas/Error"},
        ]
    }
    return {"description": description, "content": {JSON: {"schema": either}}}
