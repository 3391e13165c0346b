"""The scheduler of one worker process: APScheduler runs the periodic jobs on the event loop.

Schedules themselves live in the ``schedules`` table, not in an APScheduler job
store: APScheduler 3 cannot share a job store between processes, and SyncFlow runs
any number of workers on one database. So every worker polls (``enqueue_due_runs``
every ``schedule_poll_seconds``) and ``FOR UPDATE SKIP LOCKED`` makes exactly one
of them queue each due run. The other jobs are idempotent and safe to run in every
worker at once. A process without an executor (``serve --no-worker``) only refreshes
the metrics gauges.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from loguru import logger

from syncflow.orchestration.state import RunContext
from syncflow.worker import scheduled
from syncflow.worker.executor import BatchExecutor


class WorkerScheduler:
    """The periodic jobs of this process; queued work wakes the executor at once."""

    def __init__(self, ctx: RunContext, *, executor: BatchExecutor | None) -> None:
        self.ctx = ctx
        self.executor = executor
        self._running: set[asyncio.Task[None]] = set()
        # APScheduler logs every run at INFO; a job polling each second would flood the log
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        settings = ctx.settings
        self._add(
            "refresh-metrics",
            lambda: scheduled.refresh_metrics(
                database=ctx.database, target_database=ctx.target_database
            ),
            seconds=settings.metrics_refresh_seconds,
        )
        if executor is None:
            return
        # each job is idempotent and takes this process's context
        worker_jobs: tuple[tuple[str, Callable[..., Awaitable[int | None]], float], ...] = (
            ("enqueue-due-runs", scheduled.enqueue_due_runs, settings.schedule_poll_seconds),
            ("retry-failed-records", scheduled.retry_failed_records, settings.retry_poll_seconds),
            (
                "retry-pending-children",
                scheduled.retry_pending_children,
                settings.retry_poll_seconds,
            ),
            ("prune-history", scheduled.prune_history, settings.prune_interval_seconds),
            ("prune-deliveries", scheduled.prune_deliveries, settings.prune_interval_seconds),
        )
        for name, job, seconds in worker_jobs:
            self._add(name, partial(job, ctx=ctx), seconds=seconds)

    def _add(self, name: str, job: Callable[[], Awaitable[int | None]], *, seconds: float) -> None:
        async def run() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._running.add(task)
            try:
                queued = await job()
            except Exception as exc:  # a failed run is logged; the next one tries again
                logger.opt(exception=exc).error("periodic job {} failed: {}", name, exc)
            else:
                if queued and self.executor is not None and not name.startswith("prune-"):
                    self.executor.wake()
            finally:
                self._running.discard(task)

        self.scheduler.add_job(
            run,
            IntervalTrigger(seconds=seconds, timezone=UTC),
            id=name,
            name=name,
            next_run_time=datetime.now(UTC),
        )

    def start(self) -> None:
        self.scheduler.start()
        logger.info("scheduler started: {}", ", ".join(job.id for job in self.scheduler.get_jobs()))

    async def shutdown(self) -> None:
        """Stop scheduling and cancel the jobs that are running (each is one transaction,
        which rolls back)."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
