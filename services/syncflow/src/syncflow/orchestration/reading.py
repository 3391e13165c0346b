"""The batch loop of a read (``incremental``, ``full``): the API's pages, in order,
through the stages and into the target, pausing where the pacing says so."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from datetime import UTC, datetime

from syncflow.domain import Stage
from syncflow.faults import crash_point
from syncflow.orchestration.chunk import ChunkWriter
from syncflow.orchestration.setup import EntityPlan
from syncflow.orchestration.state import BatchState
from syncflow.pipeline import fetch
from syncflow.pipeline.frames import ahead
from syncflow.pipeline.prepare import PreparedPage

# ... prepared in a worker thread, with the seconds each stage took there
Timed = tuple[PreparedPage, dict[str, float]]


class PageReader:
    """Reads the batch's entity from its checkpoint to the last page."""

    def __init__(
        self,
        state: BatchState,
        plan: EntityPlan,
        writer: ChunkWriter,
        pace: Callable[[], Awaitable[None]],
    ) -> None:
        self.state = state
        self.plan = plan
        self.writer = writer
        # between chunks: pauses the batch (raises) when its window or portion is used up
        self.pace = pace

    async def read(self) -> None:
        checkpoint = self.state.checkpoint
        spec = self.plan.spec
        filters = fetch.read_filters(spec, from_rowversion=checkpoint["from_rowversion"])
        pages = fetch.read_pages(
            self.plan.client,
            spec,
            filters=filters,
            page_cursor=checkpoint["page_cursor"],
            include_total="total" not in checkpoint,
        )
        async with aclosing(pages):
            await self.read_pages(pages)

    async def read_pages(self, pages: AsyncIterator[fetch.ExecutedPage]) -> None:
        """Every page through the stages and into the target, in order. A page's pure
        stages run in a worker thread while the page before it is written, so the
        transforms of one chunk overlap the database's work on the last."""
        state = self.state
        await self.pace()  # a closed window pauses before the ERP is read at all
        before = dict(state.seconds)  # a chunk's metrics: from its page's fetch on
        page = await self.next_page(pages)
        prepared = self.prepare_in_thread(page)
        while True:
            await self.pace()
            state.stage = Stage.NORMALIZE
            ready = await self.prepared(prepared)
            if page.total is not None:
                state.checkpoint["total"] = page.total
                self.writer.session.pacing.plan_total(page.total)
            state.checkpoint["page_cursor"] = page.next_cursor
            if page.next_cursor is None:
                state.checkpoint["phase"] = "deletes" if self.plan.detect_deletes else "done"
                await self.writer.write_chunk(page.data, ready, before=before)
                return
            following_before = dict(state.seconds)
            following = await self.next_page(pages)
            prepared = self.prepare_in_thread(following)
            # the next page's fetch is that chunk's, not this one's
            before[Stage.FETCH] = before.get(Stage.FETCH, 0.0) + (
                state.seconds[Stage.FETCH] - following_before.get(Stage.FETCH, 0.0)
            )
            await self.writer.write_chunk(page.data, ready, before=before)
            page, before = following, following_before

    async def next_page(self, pages: AsyncIterator[fetch.ExecutedPage]) -> fetch.ExecutedPage:
        self.state.stage = Stage.FETCH
        start = time.perf_counter()  # only the wait: the next page is read ahead
        page = await anext(pages)
        self.state.seconds[Stage.FETCH] += time.perf_counter() - start
        crash_point("fetch")
        return page

    def prepare_in_thread(self, page: fetch.ExecutedPage) -> "asyncio.Future[Timed]":
        """The page's pure stages in a worker thread, with the stage seconds they took
        (kept apart from the batch's, which the event loop adds to meanwhile)."""
        future = asyncio.ensure_future(asyncio.to_thread(self.prepare_timed, page))
        # a batch that ends early leaves the result unread; it holds nothing to clean up
        future.add_done_callback(lambda done: done.cancelled() or done.exception())
        return future

    def prepare_timed(self, page: fetch.ExecutedPage) -> Timed:
        seconds: dict[str, float] = {}
        prepared = self.plan.pipeline.prepare_page(page.data, seconds, as_records=self.as_records)
        if prepared.lane is None:
            return prepared, seconds
        start = time.perf_counter()
        payloads = ahead.encode_ahead(
            prepared.lane,
            self.plan.spec,
            batch_uid=self.state.uid,
            now=datetime.now(UTC),
            fresh=bool(self.state.checkpoint.get("fresh_target")),
            seen=self.plan.detect_deletes,
            known=self.writer.known is not None,
        )
        seconds[Stage.LOAD] = seconds.get(Stage.LOAD, 0.0) + time.perf_counter() - start
        return prepared._replace(payloads=payloads), seconds

    @property
    def as_records(self) -> bool:
        """Whether the writes need every row as a record: a dry run, or an entity with
        parent refs (resolve)."""
        return self.state.dry_run or bool(self.plan.spec.parent_refs)

    async def prepared(self, future: "asyncio.Future[Timed]") -> PreparedPage:
        prepared, seconds = await future
        for stage, spent in seconds.items():
            self.state.seconds[stage] += spent
        crash_point("prepare")
        return prepared
