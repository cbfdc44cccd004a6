"""JSON logs of a real ``worker.py``: one object per line, each line about a ticket carries it."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest
from temporalio.client import Client

from escalations.runtime.config import ConfigError, load_settings
from escalations.runtime.logging_setup import JsonFormatter
from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.e2e.helpers import LEVELS, new_ticket, open_ticket, wait_for_notices
from tests.e2e.processes import DevServer
from tests.observability.conftest import ObservedWorkers
from workflows.ticket_messages import AcknowledgeRequest, TicketStatus, workflow_id_for

FIRST_TWO = LEVELS[:2]


@pytest.mark.e2e
@pytest.mark.timeout(120)
async def test_every_log_line_about_a_ticket_is_json_and_names_it(
    dev_server: DevServer,
    client: Client,
    observed_workers: ObservedWorkers,
    sendgrid: FakeSendGrid,
) -> None:
    worker = await observed_workers.start_with(dev_server.address, ESCALATIONS_LOG_FORMAT="json")
    # The first notice fails once (the SDK logs the failure with its traceback), then is sent.
    sendgrid.answer_next(500)
    ticket = new_ticket("P3")  # levels at 3 s and 6 s; the first-response clock breaches
    handle = await open_ticket(client, ticket, observed_workers.task_queue)
    await wait_for_notices(sendgrid, ticket.ticket_id, FIRST_TWO, within=60,
                           watch=worker.assert_running)  # fmt: skip
    await handle.execute_update(
        "acknowledge", AcknowledgeRequest(by="agent@example.com"), result_type=TicketStatus
    )
    worker.stop()  # flushes its output

    # The marker lines are the test harness's own (LoggedProcess), not the worker's.
    lines = [
        line
        for line in worker.log_path.read_text(encoding="utf-8").splitlines()
        if not line.startswith("---- ")
    ]
    records = [_parse(line) for line in lines]
    assert records, "the worker logged nothing"
    about = [r for r, line in zip(records, lines, strict=True) if ticket.ticket_id in line]
    assert len(about) >= 6, [r["message"] for r in about]
    for record in about:
        assert record.get("ticket_id") == ticket.ticket_id, record
        assert "{'attempt'" not in record["message"], "the SDK's text-log suffix in JSON"

    fired = [r for r in about if " fired " in r["message"]]
    assert [r.get("escalation_level") for r in fired] == list(FIRST_TWO), fired
    for record in fired:
        assert record["logger"] == "temporalio.workflow"
        assert record["policy"] == "e2e"
        assert record["priority"] == "P3"
        assert record["workflow_id"] == workflow_id_for(ticket.ticket_id)
        assert record["run_id"]

    sent = [
        r for r in about if r.get("activity_type") == "send_notification" and r["level"] == "INFO"
    ]
    assert {r.get("escalation_level") for r in sent} == set(FIRST_TWO), sent
    # The SDK's own line about the failed attempt: its ticket id comes from the workflow id.
    sdk_failure = [r for r in about if r["message"].startswith("Completing activity as failed")]
    assert len(sdk_failure) == 1, about
    assert "SendGridUnavailable" in sdk_failure[0]["exception"]
    assert sdk_failure[0]["attempt"] == 1

    breach = [r for r in about if "first_response SLA breached" in r["message"]]
    assert len(breach) == 1, about
    update = [r for r in about if r.get("update_name") == "acknowledge"]
    assert len(update) == 1, about
    assert update[0]["message"].endswith("acknowledge applied")


def _parse(line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        raise AssertionError(f"not a JSON log line: {line!r}") from None
    assert isinstance(record, dict), line
    assert {"timestamp", "level", "logger", "message"} <= record.keys(), line
    return record


def test_json_lines_hold_a_traceback_and_the_extra_fields_on_one_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed: %s", ("it",), sys.exc_info()
        )
    record.ticket_id = "T-1"
    record.escalation_level = "manager"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "failed: it"
    assert parsed["ticket_id"] == "T-1"
    assert parsed["escalation_level"] == "manager"
    assert "ValueError: boom" in parsed["exception"]
    assert parsed["timestamp"].endswith("+00:00")


def test_a_bad_log_format_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^ESCALATIONS_LOG_FORMAT='yaml': use text or json$"):
        load_settings({"ESCALATIONS_LOG_FORMAT": "yaml"})
    assert load_settings({}).log_format == "text"
