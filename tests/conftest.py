"""Shared fixtures: the real Temporal servers from PyPI (never downloaded at run time)."""

from __future__ import annotations

import os
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


# Settings the service reads from the environment. A developer's shell may hold real ones (a
# Temporal Cloud API key, encryption keys): no test may pick them up, and no test may depend
# on them. Tests that need a setting set it themselves.
_SERVICE_ENV_PREFIXES = ("TEMPORAL_", "ESCALATIONS_", "SENDGRID_")


@pytest.fixture(autouse=True)
def _no_service_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_SERVICE_ENV_PREFIXES):
            monkeypatch.delenv(name)
