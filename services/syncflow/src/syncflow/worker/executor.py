"""The batch executor: claims queued batches under a lease and runs them.

Any number of executors (in ``serve``, in ``syncflow worker`` processes, on
several machines) share one database. A claim uses ``FOR UPDATE SKIP LOCKED``;
the lease is renewed by a heartbeat while the batch runs; a batch whose lease
expired (its worker died) is claimed again and resumes from its checkpoint. A
paused batch (``pending`` with ``not_before``) is claimed once the clock reaches it.
"""

import asyncio
import os
import socket
from contextlib import suppress
from typing import Any

from loguru import logger
from sqlalchemy.exc import SQLAlchemyError

from bridge_core.ids import new_id
from syncflow.orchestration.batch import run_batch
from syncflow.orchestration.state import RunContext
from syncflow.sync.repository import BatchRepository


def new_worker_id() -> str:
    """Host, process and a random suffix: unique across machines and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{new_id().hex[-6:]}"


class BatchExecutor:
    """Claims and runs batches one at a time until stopped."""

    def __init__(self, ctx: RunContext, *, poll_seconds: float = 1.0) -> None:
        self.ctx = ctx
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    def wake(self) -> None:
        """Look for work now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def _claim(self) -> dict[str, Any] | None:
        async with self.ctx.database.transaction() as conn:
            return await BatchRepository(conn).claim_next(
                worker_id=self.ctx.worker_id,
                lease_seconds=self.ctx.settings.lease_seconds,
                now=self.ctx.now(),
            )

    async def _heartbeat(self, batch_uid: Any) -> None:
        interval = self.ctx.settings.heartbeat_seconds
        while True:
            await asyncio.sleep(interval)
            async with self.ctx.database.transaction() as conn:
                held = await BatchRepository(conn).renew_lease(
                    batch_uid,
                    worker_id=self.ctx.worker_id,
                    lease_seconds=self.ctx.settings.lease_seconds,
                )
            if not held:
                logger.warning("lease on batch {} lost", batch_uid)
                return

    async def run_once(self) -> bool:
        """Claim one batch and run it to its end; ``False`` when nothing was queued."""
        batch = await self._claim()
        if batch is None:
            return False
        await self.run_claimed(batch)
        return True

    async def run_claimed(self, batch: dict[str, Any]) -> None:
        """Run a batch this executor has claimed, renewing its lease meanwhile."""
        heartbeat = asyncio.create_task(self._heartbeat(batch["uid"]))
        try:
            with logger.contextualize(batch=str(batch["uid"]), entity=batch["entity_name"]):
                await run_batch(batch, ctx=self.ctx)
        finally:
            heartbeat.cancel()
            with suppress(asyncio.CancelledError):
                await heartbeat

    async def shutdown(self, task: "asyncio.Task[None]") -> None:
        """Stop now: interrupt the running batch (its open chunk rolls back) and hand its
        lease back, so any worker can resume it from the last committed chunk at once."""
        self.stop()
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        try:
            async with self.ctx.database.transaction() as conn:
                released = await BatchRepository(conn).release_leases(worker_id=self.ctx.worker_id)
        except (OSError, SQLAlchemyError) as exc:
            logger.warning(
                "could not hand back leases ({}); they expire by themselves", type(exc).__name__
            )
            return
        if released:
            logger.info("handed back {} running batch(es) for another worker to resume", released)

    async def run_forever(self) -> None:
        """Run batches until :meth:`stop`; errors in one batch never stop the loop."""
        logger.info("batch executor {} started", self.ctx.worker_id)
        while not self._stopping.is_set():
            # cleared before looking, not after: a wake while this look runs (a batch
            # queued just after the claim found none) makes the wait below return at once
            self._wake.clear()
            try:
                worked = await self.run_once()
            except Exception as exc:
                logger.opt(exception=exc).error("batch executor error: {}", exc)
                worked = False
            if worked:
                continue
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
        logger.info("batch executor {} stopped", self.ctx.worker_id)
