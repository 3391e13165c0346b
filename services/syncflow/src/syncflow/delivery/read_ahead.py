"""The next window of a straight stream, read while the current window's batches are out.

A straight step (:mod:`.straight`) reads a window of events from the target database,
then waits while ScheduleHub applies its batches. Reading the next window in that wait
keeps both sides busy: a first load of ``orders`` (300,000 events, batches of 5,000)
spent 0.2-0.4 s reading and 0.6-0.8 s sending each window of 20,000, one after the
other (bench/RESULTS.md).

A window read ahead starts at the end of the window being sent, and is used only by the
stream's next step on this worker, and only if that step starts there: the current
window was recorded and the cursor moved to its end, and neither the destination nor the
entity was changed meanwhile. Otherwise (the recording was fenced off, another worker
moved the cursor, the destination or the entity was edited) it is dropped and the step
reads afresh. One not taken within the lease (the stream's next step went to another
worker) is dropped before this worker's next step. A window read ahead is
the same query a step would run; it is only read earlier, as any window is read some
time before it is sent: a row changed since then has a newer event, which follows.
"""

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from loguru import logger

Events = list[dict[str, Any]]
StreamKey = tuple[UUID, str]


@dataclass(frozen=True, slots=True)
class _Read:
    """A window being read ahead: where it starts, what it was read under, when."""

    after: int
    version: Any
    began: float
    task: "asyncio.Task[Events]"


class WindowsAhead:
    """At most one window read ahead per stream (destination uid, entity)."""

    def __init__(self) -> None:
        self._ahead: dict[StreamKey, _Read] = {}
        # reads dropped while running: kept until they end (not cancelled mid-query, which
        # would leave the database connection in doubt; only shutdown cancels them)
        self._dropped: set[asyncio.Task[Events]] = set()

    def start(
        self,
        stream: StreamKey,
        *,
        after: int,
        version: Any,
        read: Callable[[], Coroutine[Any, Any, Events]],
    ) -> None:
        """Read the stream's events after ``after`` now; ``version``: what the read
        depends on besides the cursor (the destination's ``updated_at`` and the
        entity's spec: paths, batch size, mapped fields)."""
        self._drop(stream)
        began = asyncio.get_running_loop().time()
        self._ahead[stream] = _Read(after, version, began, asyncio.create_task(read()))

    async def take(self, stream: StreamKey, *, after: int, version: Any) -> Events | None:
        """The window read ahead for the stream if it starts at ``after`` (the cursor
        now) under the same ``version``; ``None`` when there is none, it starts
        elsewhere (dropped), or the read failed (the step reads again)."""
        read = self._ahead.get(stream)
        if read is None:
            return None
        if read.after != after or read.version != version:
            self._drop(stream)
            return None
        del self._ahead[stream]
        try:
            return await read.task
        except Exception as exc:  # the step reads the window itself, and fails if it must
            logger.warning("reading the next window ahead failed ({}); reading it again", exc)
            return None

    def drop_older(self, seconds: float) -> None:
        """Drop the windows whose read began more than ``seconds`` ago: their stream's
        next step went to another worker, or is not coming (a stream this worker steps
        is stepped again at once while it has more). Called before every step."""
        now = asyncio.get_running_loop().time()
        for stream, read in list(self._ahead.items()):
            if now - read.began > seconds:
                self._drop(stream)

    async def close(self) -> None:
        """Stop every read (the worker is shutting down: its connections go too)."""
        tasks = [read.task for read in self._ahead.values()] + list(self._dropped)
        self._ahead.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError, Exception):
                await task

    def _drop(self, stream: StreamKey) -> None:
        read = self._ahead.pop(stream, None)
        if read is not None:
            self._dropped.add(read.task)
            read.task.add_done_callback(self._forget)  # also called for a read that ended

    def _forget(self, task: "asyncio.Task[Events]") -> None:
        """A dropped read ended: let it go, its outcome taken (a failure is not then
        reported as never retrieved)."""
        self._dropped.discard(task)
        with suppress(asyncio.CancelledError, Exception):
            task.result()
