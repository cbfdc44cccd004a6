"""The benchmark's worker process: the production worker plus the floors'.

Run as ``python -m escalations.bench.worker`` by ``escalations bench`` with the usual
environment (``TEMPORAL_ADDRESS``, ``ESCALATIONS_TASK_QUEUE``, ...) and
``ESCALATIONS_BENCH_FLOOR_QUEUE``. The ticket worker is built exactly as ``escalations worker``
builds it, so what the benchmark measures is what production runs; the floors' worker
(``BenchFloor`` and ``BenchFloorTicket``) gets the same options on its own task queue.
"""

from __future__ import annotations

import asyncio
import os
import signal
from concurrent.futures import ThreadPoolExecutor

from temporalio.worker import Worker

from escalations.bench.floor import BenchFloor, BenchFloorTicket, bench_noop
from escalations.runtime import worker
from escalations.runtime.config import load_settings
from escalations.runtime.connection import connect


async def _run() -> None:
    settings = load_settings()
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=worker.ACTIVITY_THREADS) as executor:
        tickets = worker.build_worker(client, settings, executor)
        floor = Worker(
            client,
            task_queue=os.environ["ESCALATIONS_BENCH_FLOOR_QUEUE"],
            workflows=[BenchFloor, BenchFloorTicket],
            activities=[bench_noop],
            activity_executor=executor,
            **worker.worker_tuning(settings),
        )
        async with tickets, floor:
            print("bench worker ready", flush=True)
            await stop.wait()


def main() -> None:
    """Entry point of ``python -m escalations.bench.worker``."""
    asyncio.run(_run())


if __name__ == "__main__":
    main()
