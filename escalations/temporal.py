"""Connecting to Temporal the same way everywhere: worker, client, CLI and tests."""

from __future__ import annotations

import logging

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client

from escalations.config import Settings
from escalations.data_converter import data_converter
from workflows.search_attributes import ALL_KEYS

log = logging.getLogger(__name__)


async def connect(settings: Settings) -> Client:
    """A client with the pydantic data converter (plain JSON on the wire)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter,
    )


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the ticket search attributes that the namespace lacks; returns those added.

    Workflows upsert these attributes, and an upsert of an unregistered attribute fails the
    workflow task, so the worker makes sure of them before it polls.
    """
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = {
        key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
        for key in ALL_KEYS
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
        log.info("registered search attributes: %s", ", ".join(sorted(missing)))
    return sorted(missing)
