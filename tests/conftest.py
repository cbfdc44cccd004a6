"""Shared fixtures: the real Temporal servers from PyPI (never downloaded at run time)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.server_setup import start_time_skipping


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, with the ticket search attributes registered."""
    env = await start_time_skipping()
    yield env
    await env.shutdown()
