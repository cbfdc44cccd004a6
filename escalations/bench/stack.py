"""The bench's processes: the embedded server, the fake SendGrid and the worker process.

``start_stack`` starts the embedded dev server (in memory or on a WAL file database, or uses
``TEMPORAL_ADDRESS``), a loopback fake SendGrid that answers at once, and a worker process
(``escalations.bench.worker``: the production worker plus the floors'), writes the bench's
policy files, and hands back what a scenario needs to talk to them and to read their CPU time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client

from escalations import dev
from escalations.client.tickets import TicketClient
from escalations.runtime.config import load_settings
from escalations.testing.fake_sendgrid import FakeSendGrid


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int | None) -> float | None:
    """User plus system CPU time of process ``pid`` (Linux ``/proc``), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, key: str = "VmRSS") -> float | None:
    """Resident memory (``VmRSS``) or its peak (``VmHWM``) of ``pid`` in MB, or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Stack:
    """What a scenario talks to, and the processes whose CPU time it reads."""

    client: Client
    tickets: TicketClient
    task_queue: str
    floor_queue: str
    worker: subprocess.Popen[bytes]
    server_pid: int | None
    sendgrid: FakeSendGrid


@contextlib.asynccontextmanager
async def start_stack(
    workdir: Path, policies: dict[str, str], *, db: str = "memory", address: str | None = None
) -> AsyncIterator[Stack]:
    """Start everything (or use the server at ``address``); stop it all on exit.

    Args:
        workdir: An empty directory for the server's database, the policies and the logs.
        policies: The worker's policy files: name to YAML text.
        db: The embedded server's database, ``"file"`` (WAL) or ``"memory"``.
        address: A running server to use instead of the embedded one.
    """
    server = None
    if address is None:
        server = await dev.start_dev_server(
            port=free_port(),
            ui_port=free_port(),
            data_dir=workdir / "server",
            in_memory=db == "memory",
        )
        address = server.address
    policy_dir = workdir / "policies"
    policy_dir.mkdir()
    for name, text in policies.items():
        (policy_dir / f"{name}.yaml").write_text(text)
    run = uuid.uuid4().hex[:8]
    with FakeSendGrid(keep_bodies=False) as sendgrid:
        env = {
            **os.environ,
            "TEMPORAL_ADDRESS": address,
            "ESCALATIONS_TASK_QUEUE": f"bench-{run}",
            "ESCALATIONS_BENCH_FLOOR_QUEUE": f"bench-floor-{run}",
            "ESCALATIONS_POLICY_DIR": str(policy_dir),
            "SENDGRID_API_KEY": "SG.bench",
            "SENDGRID_HOST": sendgrid.url,
            # Measured as deployed: every accepted notice is recorded in the delivery ledger.
            "ESCALATIONS_DELIVERY_LEDGER": str(workdir / "deliveries.sqlite3"),
        }
        # A separate process, so its CPU time and memory are its own; started once, before
        # any measurement, so the blocking spawn costs nothing that is measured.
        worker = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "escalations.bench.worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=(workdir / "worker.log").open("wb"),
        )
        try:
            await _wait_ready(worker, workdir)
            settings = load_settings(env)
            tickets = await TicketClient.connect(settings)
            yield Stack(
                client=tickets.client,
                tickets=tickets,
                task_queue=settings.task_queue,
                floor_queue=env["ESCALATIONS_BENCH_FLOOR_QUEUE"],
                worker=worker,
                server_pid=server.process.pid if server else None,
                sendgrid=sendgrid,
            )
        finally:
            worker.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.wait(timeout=20)
            if worker.poll() is None:
                worker.kill()
            if server is not None:
                await server.stop()


async def _wait_ready(worker: subprocess.Popen[bytes], workdir: Path) -> None:
    assert worker.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(worker.stdout.readline), timeout=60)
    if b"ready" not in line:
        log = (workdir / "worker.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the bench worker did not start:\n{log}")
