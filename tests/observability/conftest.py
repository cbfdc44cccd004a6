"""Fixtures for the observability tests: the e2e suite's dev server, fake SendGrid and log
book, and ``worker.py`` subprocesses with extra settings (metrics address, log format)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from escalations.testing.fake_sendgrid import FakeSendGrid
from tests.e2e.conftest import (  # noqa: F401 (fixtures and the hook that feeds `logs`)
    LogBook,
    Workers,
    client,
    dev_server,
    e2e_policy_dir,
    logs,
    pytest_runtest_makereport,
    sendgrid,
    shared_dev_server,
)
from tests.e2e.processes import DevServer, WorkerProcess


class ObservedWorkers(Workers):
    """``worker.py`` subprocesses on the test's own task queue, with settings of the test."""

    async def start_with(self, address: str, **settings: str) -> WorkerProcess:
        """Start a worker for ``address`` with ``settings`` added to its environment."""
        return await self.start(address, **settings)


@pytest.fixture
def observed_workers(
    tmp_path: Path,
    e2e_policy_dir: Path,  # noqa: F811
    sendgrid: FakeSendGrid,  # noqa: F811
    logs: LogBook,  # noqa: F811
    dev_server: DevServer,  # noqa: F811
) -> Iterator[ObservedWorkers]:
    # Depending on dev_server and sendgrid makes them outlive the workers that use them.
    pool = ObservedWorkers(tmp_path, e2e_policy_dir, sendgrid, logs)
    try:
        yield pool
    finally:
        pool.stop_all()
