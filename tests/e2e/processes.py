"""Subprocesses the e2e tests start: the Temporal dev server and ``worker.py``.

Every process writes stdout and stderr to a log file, so a failing test can show what the
process said; ``stop`` and ``kill`` always reap the process and close its log, because
``filterwarnings = error`` turns an unreaped child or an open file into a test failure.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from temporalio.client import Client

from escalations.runtime.binaries import find_binary
from escalations.runtime.data_converter import data_converter
from workflows.search_attributes import ALL_KEYS, type_name

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKER_SCRIPT = REPO_ROOT / "worker.py"
READY_TIMEOUT = 30.0
# The worker logs this line once its client is connected and it is about to poll.
WORKER_READY_LINE = "worker polling"


def free_port() -> int:
    """A loopback port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` lines of a log file (empty if it does not exist yet)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class LoggedProcess:
    """One subprocess with its output in ``log_path``; restartable with the same arguments."""

    def __init__(
        self,
        label: str,
        args: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.label = label
        self.args = list(args)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int:
        """The running process's id."""
        if self._proc is None:
            raise RuntimeError(f"{self.label} is not running")
        return self._proc.pid

    @property
    def running(self) -> bool:
        """True while the process has been started and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the process, appending to its log (a restart keeps the earlier output)."""
        if self._proc is not None:
            raise RuntimeError(f"{self.label} is already started")
        self._log = self.log_path.open("ab")
        self._log.write(f"---- {self.label}: start {time.strftime('%H:%M:%S')} ----\n".encode())
        self._log.flush()
        try:
            self._proc = subprocess.Popen(
                self.args,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        except BaseException:
            self._close_log()
            raise

    def assert_running(self) -> None:
        """Fail with the log's tail if the process exited on its own."""
        if self._proc is None:
            raise AssertionError(f"{self.label} was never started")
        code = self._proc.poll()
        if code is not None:
            raise AssertionError(
                f"{self.label} exited with code {code}; last output:\n{tail(self.log_path)}"
            )

    def kill(self) -> int | None:
        """SIGKILL the process and reap it; returns its exit code (None if not running)."""
        return self._end(signal.SIGKILL, timeout=10)

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; always reaps the process."""
        return self._end(signal.SIGTERM, timeout)

    def _end(self, sig: signal.Signals, timeout: float) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                os.kill(proc.pid, sig)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            return proc.returncode
        finally:
            self._close_log()

    def _close_log(self) -> None:
        log, self._log = self._log, None
        if log is not None:
            log.close()


class DevServer(LoggedProcess):
    """``temporal server start-dev`` on fixed loopback ports and a SQLite file.

    The ports and the database file stay the same across ``stop``/``start``, so a restart is
    the same server coming back with its state.
    """

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.ui_port = free_port()
        self.db_path = directory / "temporal.db"
        args = [
            find_binary("temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--ui-port",
            str(self.ui_port),
            "--namespace",
            "default",
            "--db-filename",
            str(self.db_path),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
            "--log-level",
            "warn",
        ]
        for key in ALL_KEYS:
            args += ["--search-attribute", f"{key.name}={type_name(key)}"]
        super().__init__("temporal dev server", args, directory / "temporal-server.log")

    @property
    def address(self) -> str:
        """The gRPC address clients and workers connect to."""
        return f"127.0.0.1:{self.port}"

    async def wait_ready(self, within: float = READY_TIMEOUT) -> Client:
        """Retry connecting until the frontend answers; returns the connected client."""
        deadline = time.monotonic() + within
        last: Exception | None = None
        while time.monotonic() < deadline:
            self.assert_running()
            try:
                client = await connect(self.address)
                # The default namespace is created during start-up: wait until it answers too.
                await client.count_workflows()
                return client
            except Exception as exc:
                last = exc
                await asyncio.sleep(0.2)
        raise AssertionError(
            f"dev server on {self.address} not ready after {within}s ({last!r}); "
            f"last output:\n{tail(self.log_path)}"
        )


async def connect(address: str) -> Client:
    """A client the way every service of the project connects: the pydantic converter."""
    return await Client.connect(address, data_converter=data_converter)


class WorkerProcess(LoggedProcess):
    """``python worker.py`` from the repository root, configured through its environment."""

    def __init__(self, label: str, env: Mapping[str, str], log_path: Path) -> None:
        super().__init__(
            label, [sys.executable, str(WORKER_SCRIPT)], log_path, cwd=REPO_ROOT, env=env
        )
        self._ready_from = 0

    def start(self) -> None:
        """Start a fresh incarnation; ``wait_ready`` looks only at what it logs."""
        self._ready_from = self.log_path.stat().st_size if self.log_path.exists() else 0
        super().start()

    async def wait_ready(self, within: float = READY_TIMEOUT) -> None:
        """Wait until this incarnation logs that it polls its task queue."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            self.assert_running()
            with self.log_path.open("rb") as log:
                log.seek(self._ready_from)
                if WORKER_READY_LINE.encode() in log.read():
                    return
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"{self.label} did not log {WORKER_READY_LINE!r} within {within}s; "
            f"last output:\n{tail(self.log_path)}"
        )
