"""Shared fixtures: the real Temporal servers from PyPI (never downloaded at run time)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.server_setup import start_time_skipping


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, with the ticket search attributes registered."""
    env = await start_time_skipping()
    yield env
    await env.shutdown()


@pytest.fixture(scope="session", autouse=True)
def _nothing_from_the_home_directory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    # The Temporal connection also reads the `temporal` CLI's config file, by default under
    # $XDG_CONFIG_HOME (or ~/.config): a developer's real profiles must not reach a test. An
    # empty directory of the session's; set before any server or worker process is started,
    # so those inherit it too (they are given the environment without TEMPORAL_* variables).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        # Likewise the report cache (under $XDG_CACHE_HOME): tests never read or write a
        # developer's real one.
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        yield


# Settings the service reads from the environment. A developer's shell may hold real ones (a
# Temporal Cloud API key, encryption keys): no test may pick them up, and no test may depend
# on them. Tests that need a setting set it themselves.
_SERVICE_ENV_PREFIXES = ("TEMPORAL_", "ESCALATIONS_", "SENDGRID_")


@pytest.fixture(autouse=True)
def _no_service_settings_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(_SERVICE_ENV_PREFIXES):
            monkeypatch.delenv(name)
