"""The API against its own OpenAPI document, as schemathesis reads it from ``/openapi.json``.

Schemathesis's engine (what ``schemathesis run`` drives) sends each operation its examples,
coverage and fuzzing phases, valid and invalid data, with the admin key, and every answer must
be: no server error but the documented 503s, a status the operation documents, a body in its
documented schema and media type, a valid request accepted and an invalid one refused. A seed
and derandomized generation make a failure in CI the same failure locally.
"""

from __future__ import annotations

import asyncio
import collections
import uuid

import pytest
import schemathesis
from schemathesis.engine import StopReason, events

from escalations.codec.auth import AttemptLimiter
from tests.e2e.api_stack import ApiStack

pytestmark = pytest.mark.e2e

# What the document cannot say, so a schema-valid request may rightly get the documented 422:
# the priorities, policy files and policy versions that exist are files on the worker; list
# filters take Python-printable text, which JSON Schema has no pattern for.
_SERVER_DECIDES = [
    "GET /v1/tickets",
    "POST /v1/tickets",
    "POST /v1/tickets/{ticket_id}/change_priority",
    "POST /v1/tickets/{ticket_id}/migrate_policy",
]


def _config(token: str, ticket_id: str, fresh: list[str]) -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": 20260517,
            "headers": {"Authorization": f"Bearer {token}"},
            "request-timeout": 30,
            "continue-on-failure": True,
            "generation": {
                "max-examples": 20,
                "deterministic": True,
                "database": "none",
                # Shrinking a failure costs hundreds of calls: unshrunk, a failing run reports
                # in the time a passing one takes, not at pytest's timeout.
                "no-shrink": True,
            },
            # Stateful runs chain calls through links the document does not declare.
            "phases": {"stateful": {"enabled": False}},
            # Temporal is up, so a 503 here is a route the document says may answer one.
            "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
            "operations": [
                {
                    "include-name": _SERVER_DECIDES,
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                },
                {
                    # A fuzzed open with an undefined priority leaves a ticket that failed
                    # while opening; its status is the documented 422 `ticket_open_failed`.
                    "include-name": "GET /v1/tickets/{ticket_id}",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "401", "403", "404", "422", "429"]
                        }
                    },
                },
            ],
            # Generated ids name no ticket, or the same few ("0") again and again, and generated
            # priorities no policy's: often enough, a ticket that is open, ids never used and
            # the shipped policy's names, so opens, updates and status answer their 2xx (and
            # those bodies meet their schema) as well as their refusals.
            "dictionaries": {
                "open": {"values": [ticket_id]},
                "fresh": {"values": fresh},
                "priorities": {"values": ["P1", "P2", "P3", "P4"]},
                "policies": {"values": ["default"]},
            },
            "parameters": {
                "path.ticket_id": {"dictionary": "open", "probability": 0.5},
                "body.ticket_id": {"dictionary": "fresh", "probability": 0.5},
                "body.priority": {"dictionary": "priorities", "probability": 0.7},
                "body.policy": {"dictionary": "policies", "probability": 0.7},
            },
        }
    )


def _run(
    schema: schemathesis.BaseSchema,
) -> tuple[list[str], dict[str, collections.Counter[int]]]:
    """Every problem the engine reports, and each operation's answers by status."""
    problems: list[str] = []
    answered: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            for interaction in recorder.interactions.values():
                if interaction.response is not None:
                    answered[recorder.label][interaction.response.status_code] += 1
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    failure = check.failure_info.failure
                    sent = recorder.interactions.get(case_id)
                    response = sent.response if sent is not None else None
                    answer = f"{response.status_code} {response.text[:300]}" if response else "none"
                    problems.append(
                        f"{recorder.label} [{check.name}] {failure.title}\n{failure.message}\n"
                        f"{check.failure_info.code_sample}\nanswer: {answer}"
                    )
        elif isinstance(event, events.NonFatalError):
            problems.append(f"{event.label}: {event.info.format()}")
        elif isinstance(event, events.FatalError):
            problems.append(f"schemathesis failed: {event.exception!r}")
        elif isinstance(event, events.EngineFinished):
            problems.extend(str(failure) for failure in event.failures)
            if event.stop_reason is not StopReason.COMPLETED:
                problems.append(f"the run stopped early: {event.stop_reason}")
    return list(dict.fromkeys(problems)), answered


async def test_every_answer_is_one_the_document_lists(api_stack: ApiStack) -> None:
    # Schemathesis sends wrong keys on purpose: they must not lock the admin key out (429).
    api_stack.context.wrong_keys = AttemptLimiter(burst=1_000_000, refill_seconds=0.001)
    ticket_id = f"ST-{uuid.uuid4().hex[:8]}"
    opened = await api_stack.call(
        "POST",
        "/v1/tickets",
        {
            "ticket_id": ticket_id,
            "title": "Checkout down",
            "priority": "P2",
            "team": "payments",
            "customer": "Acme",
            "requester": "buyer@acme.example",
        },
    )
    assert opened.status == 201, opened.body
    fresh = [f"{ticket_id}-{number}" for number in range(50)]
    config = _config(api_stack.tokens["admin"], ticket_id, fresh)
    schema = schemathesis.openapi.from_url(f"{api_stack.url}/openapi.json", config=config)

    problems, answered = await asyncio.to_thread(_run, schema)

    assert not problems, f"{len(problems)} problems:\n\n" + "\n\n".join(problems[:30])
    # A run that reached nothing would pass too: every operation answered, the writes and
    # reads got past validation to Temporal, and unsigned webhooks were refused.
    documented = {
        f"{method.upper()} {path}"
        for path, item in schema.raw_schema["paths"].items()
        for method in item
    }
    assert documented <= set(answered)
    assert answered["POST /v1/tickets"][201] > 0
    assert answered["GET /v1/tickets/{ticket_id}"][200] > 0
    assert answered["POST /v1/tickets/{ticket_id}/acknowledge"][200] > 0
    assert answered["POST /v1/webhooks/{source}"][401] > 0
