"""The search attributes operators filter tickets by in the Temporal Web UI.

Registered by ``escalations dev`` and the worker at start-up; documented in the README. The dev
server's SQL visibility allows, per namespace, 10 Keyword, 3 KeywordList and 3 each of Int,
Double, Bool and Datetime attributes; these use 8 Keyword, 2 KeywordList, 3 Int, 1 Double,
3 Bool and 3 Datetime.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.common import (
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributeUpdate,
)

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

# Since the reporting release (patch "sla-reporting" in TicketEscalation): what a ticket took,
# so that operators can filter on outcomes and reports can group by them.
POLICY = SearchAttributeKey.for_keyword("Policy")
OPENED_AT = SearchAttributeKey.for_datetime("OpenedAt")
FIRST_RESPONSE_SECONDS = SearchAttributeKey.for_int("FirstResponseSeconds")
RESOLUTION_SECONDS = SearchAttributeKey.for_int("ResolutionSeconds")
PAUSED_SECONDS = SearchAttributeKey.for_int("PausedSeconds")
REOPENED = SearchAttributeKey.for_bool("Reopened")
CSAT = SearchAttributeKey.for_float("Csat")
ESCALATION_LEVELS = SearchAttributeKey.for_keyword_list("EscalationLevels")
BREACHED_CLOCKS = SearchAttributeKey.for_keyword_list("BreachedClocks")

BASE_KEYS: tuple[SearchAttributeKey[Any], ...] = (
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
"""The attributes every ticket publishes."""

REPORTING_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    POLICY,
    OPENED_AT,
    FIRST_RESPONSE_SECONDS,
    RESOLUTION_SECONDS,
    PAUSED_SECONDS,
    REOPENED,
    CSAT,
    ESCALATION_LEVELS,
    BREACHED_CLOCKS,
)
"""Published by tickets that run the reporting code (opened, or continued as new, since)."""

# Published only by tickets whose policy has SLA plans.
SLA_PLAN = SearchAttributeKey.for_keyword("SlaPlan")

PLAN_KEYS: tuple[SearchAttributeKey[Any], ...] = (SLA_PLAN,)
"""Published by tickets of policies with SLA plans."""

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = BASE_KEYS + REPORTING_KEYS + PLAN_KEYS
"""Every attribute to register on a namespace."""

SearchValue = str | datetime | bool | int | float | list[str] | None

_TYPE_NAMES = {
    SearchAttributeIndexedValueType.TEXT: "Text",
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.INT: "Int",
    SearchAttributeIndexedValueType.DOUBLE: "Double",
    SearchAttributeIndexedValueType.BOOL: "Bool",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


def type_name(key: SearchAttributeKey[Any]) -> str:
    """``key``'s type as the ``temporal`` CLI spells it (``start-dev --search-attribute
    Name=Type``, ``operator search-attribute create --type``)."""
    return _TYPE_NAMES[key.indexed_value_type]


def changed_updates(
    previous: dict[str, SearchValue],
    current: dict[str, SearchValue],
    keys: tuple[SearchAttributeKey[Any], ...] = BASE_KEYS,
) -> list[SearchAttributeUpdate[Any]]:
    """Updates for the attributes of ``keys`` whose value changed (each upsert costs a history
    event)."""
    updates: list[SearchAttributeUpdate[Any]] = []
    for key in keys:
        if key.name not in current and key.name not in previous:
            continue  # an attribute this ticket does not publish (SlaPlan without plans)
        value = current.get(key.name)
        if key.name in previous and previous[key.name] == value:
            continue
        updates.append(key.value_unset() if value is None else key.value_set(value))
    return updates
