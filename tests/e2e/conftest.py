"""Fixtures for the e2e scenarios: real dev servers, ``worker.py`` subprocesses, fake SendGrid.

Teardown order matters and follows fixture dependencies: workers stop before the servers they
talk to and before the fake SendGrid they post to; the log book prints last, so a failing test
shows the tail of every log, including what the processes said while stopping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from escalations.testing.fake_sendgrid import FakeSendGrid
from policies.loader import default_policy_dir, parse_policy
from tests.e2e.api_stack import ApiStack
from tests.e2e.helpers import POLICY_NAME, POLICY_YAML
from tests.e2e.processes import DevServer, LoggedProcess, WorkerProcess, connect, tail

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
# Variables the worker reads: the tests set every one they need, and none may leak in from
# the shell that runs pytest.
_WORKER_ENV_PREFIXES = ("TEMPORAL_", "ESCALATIONS_", "SENDGRID_")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Keep each phase's report on the item, so fixtures can tell in teardown whether it failed.
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


class LogBook:
    """The logs of one test's processes, printed (tails) when the test fails."""

    def __init__(self) -> None:
        self._processes: list[LoggedProcess] = []

    def add(self, process: LoggedProcess) -> None:
        if process not in self._processes:
            self._processes.append(process)

    def print_tails(self) -> None:
        for process in self._processes:
            print(f"\n==== {process.label}: {process.log_path} (tail) ====")
            print(tail(process.log_path, 80))


@pytest.fixture
def logs(request: pytest.FixtureRequest) -> Iterator[LogBook]:
    book = LogBook()
    yield book
    reports = request.node.stash.get(_REPORTS, {})
    if any(report.failed for report in reports.values()):
        book.print_tails()


@pytest.fixture(scope="session")
def e2e_policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("policies")
    path = directory / f"{POLICY_NAME}.yaml"
    path.write_text(POLICY_YAML, encoding="utf-8")
    # Fail here, with the loader's message, rather than as a ticket that cannot open.
    parse_policy(POLICY_YAML, str(path))
    return directory


@pytest.fixture(scope="session")
async def shared_dev_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DevServer]:
    """One dev server for the scenarios that do not restart it (each uses its own queue)."""
    server = DevServer(tmp_path_factory.mktemp("temporal"))
    server.start()
    try:
        await server.wait_ready()
        yield server
    finally:
        server.stop(timeout=15)


@pytest.fixture
def dev_server(shared_dev_server: DevServer, logs: LogBook) -> DevServer:
    logs.add(shared_dev_server)
    return shared_dev_server


@pytest.fixture
async def client(dev_server: DevServer) -> Client:
    """A client of the shared dev server with the pydantic converter, as services use."""
    return await connect(dev_server.address)


class PrivateServers:
    """Dev servers of one test alone (for the scenarios that stop and restart a server)."""

    def __init__(self, directory: Path, logs: LogBook) -> None:
        self._directory = directory
        self._logs = logs
        self._servers: list[DevServer] = []

    async def start(self) -> DevServer:
        directory = self._directory / f"temporal-{len(self._servers) + 1}"
        directory.mkdir()
        server = DevServer(directory)
        self._servers.append(server)
        self._logs.add(server)
        server.start()
        await server.wait_ready()
        return server

    def stop_all(self) -> None:
        for server in self._servers:
            server.stop(timeout=15)


@pytest.fixture
def private_servers(tmp_path: Path, logs: LogBook) -> Iterator[PrivateServers]:
    servers = PrivateServers(tmp_path, logs)
    try:
        yield servers
    finally:
        servers.stop_all()


@pytest.fixture
def sendgrid() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as fake:
        yield fake


class Workers:
    """``worker.py`` subprocesses for one test, all on the test's own task queue."""

    def __init__(
        self, directory: Path, policy_dir: Path, sendgrid: FakeSendGrid, logs: LogBook
    ) -> None:
        self.task_queue = f"e2e-{uuid.uuid4()}"
        self._directory = directory
        self._policy_dir = policy_dir
        self._sendgrid = sendgrid
        self._logs = logs
        self._started: list[WorkerProcess] = []

    def environment(self, address: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_WORKER_ENV_PREFIXES)}
        env.update(
            {
                "TEMPORAL_ADDRESS": address,
                "ESCALATIONS_TASK_QUEUE": self.task_queue,
                "ESCALATIONS_POLICY_DIR": str(self._policy_dir),
                "ESCALATIONS_OUTBOX": str(self._directory / "outbox"),
                "ESCALATIONS_DELIVERY_LEDGER": str(self._directory / "deliveries.sqlite3"),
                # A killed worker's sticky queue then hands its tickets back within a second.
                "ESCALATIONS_STICKY_QUEUE_TIMEOUT": "1",
                "SENDGRID_API_KEY": "SG.e2e-test-key",
                "SENDGRID_HOST": self._sendgrid.url,
                "SENDGRID_FROM": "escalations@example.com",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    async def start(self, address: str, **settings: str) -> WorkerProcess:
        """Start a worker for ``address`` (with ``settings`` added to its environment) and wait
        until it polls."""
        number = len(self._started) + 1
        worker = WorkerProcess(
            f"worker #{number}",
            {**self.environment(address), **settings},
            self._directory / f"worker-{number}.log",
        )
        self._started.append(worker)
        self._logs.add(worker)
        worker.start()
        await worker.wait_ready()
        return worker

    def stop_all(self) -> None:
        for worker in self._started:
            worker.stop(timeout=10)


@pytest.fixture
def workers(
    tmp_path: Path,
    e2e_policy_dir: Path,
    sendgrid: FakeSendGrid,
    logs: LogBook,
    private_servers: PrivateServers,
) -> Iterator[Workers]:
    # Depending on private_servers makes those servers outlive the workers that talk to them.
    pool = Workers(tmp_path, e2e_policy_dir, sendgrid, logs)
    try:
        yield pool
    finally:
        pool.stop_all()


@pytest.fixture
async def api_stack(
    dev_server: DevServer, tmp_path: Path, sendgrid: FakeSendGrid, logs: LogBook
) -> AsyncIterator[ApiStack]:
    """A worker process under the shipped policies and the HTTP API, on the shared server."""
    pool = Workers(tmp_path, default_policy_dir(), sendgrid, logs)
    try:
        await pool.start(dev_server.address)
        stack = ApiStack(dev_server.address, pool.task_queue, tmp_path)
        try:
            yield stack
        finally:
            stack.stop()
    finally:
        pool.stop_all()
