"""The dev-server fixtures of tests/e2e, for the SLO tests that need real visibility and
schedules (the time-skipping server implements neither)."""

from __future__ import annotations

from tests.e2e.conftest import (  # noqa: F401 (fixtures and the hook that keeps test reports)
    client,
    dev_server,
    logs,
    pytest_runtest_makereport,
    shared_dev_server,
)
