"""A worker process from start to stop: executor, delivery runner, scheduler, metrics
endpoint, signals."""

import asyncio
import signal
from contextlib import suppress

from loguru import logger
from prometheus_client import start_http_server

from bridge_core.db.transaction import Database
from syncflow.delivery.runner import DeliveryRunner
from syncflow.orchestration.state import RunContext
from syncflow.settings import Settings
from syncflow.worker.executor import BatchExecutor, new_worker_id
from syncflow.worker.scheduler import WorkerScheduler


async def run_worker(
    *, database: Database, target_database: Database, settings: Settings, metrics_port: int | None
) -> None:
    """Run batches, deliveries and periodic jobs until SIGTERM or SIGINT; then hand the
    running batch back (its open chunk rolls back, another worker resumes it at once) and
    the delivery leases too."""
    context = RunContext(
        database=database,
        target_database=target_database,
        settings=settings,
        worker_id=new_worker_id(),
    )
    executor = BatchExecutor(context)
    delivery = DeliveryRunner(
        database=database,
        target_database=target_database,
        settings=settings,
        worker_id=context.worker_id,
        now=context.now,
    )
    scheduler = WorkerScheduler(context, executor=executor)
    if metrics_port is not None:
        start_http_server(metrics_port, addr=settings.host)
        logger.info("worker metrics on http://{}:{}/metrics", settings.host, metrics_port)
    task = asyncio.create_task(executor.run_forever())
    delivering = asyncio.create_task(delivery.run_forever())
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, task.cancel)
    scheduler.start()
    try:
        with suppress(asyncio.CancelledError):
            await task
    finally:
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(stop_signal)
        await scheduler.shutdown()
        await delivery.shutdown(delivering)
        await executor.shutdown(task)
