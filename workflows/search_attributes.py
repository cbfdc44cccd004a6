"""The search attributes operators filter tickets by in the Temporal Web UI.

Registered by ``escalations dev`` and the worker at start-up; documented in the README. The dev
server's SQLite visibility allows 10 Keyword, 3 Datetime and 3 Bool attributes per namespace.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributeUpdate

TICKET_ID = SearchAttributeKey.for_keyword("TicketId")
PRIORITY = SearchAttributeKey.for_keyword("Priority")
TEAM = SearchAttributeKey.for_keyword("Team")
CUSTOMER = SearchAttributeKey.for_keyword("Customer")
SLA_STATE = SearchAttributeKey.for_keyword("SlaState")
ESCALATION_LEVEL = SearchAttributeKey.for_keyword("EscalationLevel")
RESPONSE_DUE_AT = SearchAttributeKey.for_datetime("ResponseDueAt")
RESOLUTION_DUE_AT = SearchAttributeKey.for_datetime("ResolutionDueAt")
RESPONSE_BREACHED = SearchAttributeKey.for_bool("ResponseBreached")
RESOLUTION_BREACHED = SearchAttributeKey.for_bool("ResolutionBreached")

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    TICKET_ID,
    PRIORITY,
    TEAM,
    CUSTOMER,
    SLA_STATE,
    ESCALATION_LEVEL,
    RESPONSE_DUE_AT,
    RESOLUTION_DUE_AT,
    RESPONSE_BREACHED,
    RESOLUTION_BREACHED,
)

SearchValue = str | datetime | bool | None


def changed_updates(
    previous: dict[str, SearchValue], current: dict[str, SearchValue]
) -> list[SearchAttributeUpdate[Any]]:
    """Updates for the attributes whose value changed (each upsert costs a history event)."""
    updates: list[SearchAttributeUpdate[Any]] = []
    for key in ALL_KEYS:
        value = current.get(key.name)
        if key.name in previous and previous[key.name] == value:
            continue
        updates.append(key.value_unset() if value is None else key.value_set(value))
    return updates
