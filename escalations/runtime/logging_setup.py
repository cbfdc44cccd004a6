"""Log output of the long-running processes (``worker.py``, ``escalations worker``/``dev``).

``ESCALATIONS_LOG_FORMAT=text`` (the default) writes one readable line per record, for a
person at a terminal. ``json`` writes one JSON object per line, for a container platform's
log collector: the fields are the same on every line (see docs/observability.md), and a line
about a ticket carries its ``ticket_id`` wherever it comes from: our workflow and activity
code pass it (with ``escalation_level``, ``policy`` and ``priority``) in ``extra``; for the
SDK's own lines it is read from the workflow id ``ticket-<id>`` the SDK attaches.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from temporalio import activity, workflow

from escalations.runtime.config import LogFormat

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
TICKET_WORKFLOW_PREFIX = "ticket-"
"""Workflow ids of tickets (``workflow_id_for``): the JSON log reads ticket ids from them."""

# Our own ``extra`` keys, copied as they are.
_TICKET_FIELDS = ("ticket_id", "escalation_level", "policy", "priority")
# What the SDK's loggers put in ``temporal_workflow`` / ``temporal_activity``.
_WORKFLOW_FIELDS = {
    "workflow_id": "workflow_id",
    "run_id": "run_id",
    "workflow_type": "workflow_type",
    "task_queue": "task_queue",
    "attempt": "attempt",
    "update_name": "update_name",
    "update_id": "update_id",
}
_ACTIVITY_FIELDS = {
    "workflow_id": "workflow_id",
    "workflow_run_id": "run_id",
    "workflow_type": "workflow_type",
    "task_queue": "task_queue",
    "activity_type": "activity_type",
    "activity_id": "activity_id",
    "attempt": "attempt",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (tracebacks included, as ``exception``).

    Keys: ``timestamp`` (RFC 3339, UTC), ``level``, ``logger``, ``message``, then whichever
    of ``ticket_id``, ``escalation_level``, ``policy``, ``priority``, ``workflow_id``,
    ``run_id``, ``workflow_type``, ``task_queue``, ``activity_type``, ``activity_id``,
    ``attempt``, ``update_name``, ``update_id`` and ``exception`` the record has.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["exception"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _context(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for source, names in (
        (getattr(record, "temporal_workflow", None), _WORKFLOW_FIELDS),
        (getattr(record, "temporal_activity", None), _ACTIVITY_FIELDS),
        # A line from the SDK's core (forwarded): its structured fields, where it has them.
        (getattr(getattr(record, "temporal_log", None), "fields", None), _WORKFLOW_FIELDS),
    ):
        if isinstance(source, Mapping):
            fields.update({key: source[name] for name, key in names.items() if name in source})
    for name in _TICKET_FIELDS:
        value = getattr(record, name, None)
        if value is not None:
            fields[name] = value
    workflow_id = str(fields.get("workflow_id", ""))
    if "ticket_id" not in fields and workflow_id.startswith(TICKET_WORKFLOW_PREFIX):
        fields["ticket_id"] = workflow_id.removeprefix(TICKET_WORKFLOW_PREFIX)
    # The ticket fields first, as a reader scans for them.
    return dict(sorted(fields.items(), key=lambda item: item[0] not in _TICKET_FIELDS))


def configure_logging(log_format: LogFormat, stream: IO[str] | None = None) -> None:
    """Send the process's log records to ``stream`` (default stderr) in ``log_format``.

    Like ``logging.basicConfig``, it leaves a logging set-up it did not make alone (an
    application embedding the worker, pytest's capture); called again, it replaces its own.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
    json_lines = log_format == "json"
    if not root.handlers:
        handler = _Handler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    # The SDK appends a dict of workflow or activity details to each message, for text logs;
    # JSON has them as fields already.
    workflow.logger.workflow_info_on_message = not json_lines
    activity.logger.activity_info_on_message = not json_lines


class _Handler(logging.StreamHandler[IO[str]]):
    """The handler :func:`configure_logging` installs (so a second call can find it)."""
