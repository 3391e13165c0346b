"""Fetch: pages of rows from APISmith, in keyset order, resumable from a page cursor.

Retries with backoff come from the client base; a page that still fails
raises and fails the batch (nothing is deleted on a failed read).
:func:`read_pages` keeps one page in flight while the caller works on the one
before, so APISmith reads and encodes while SyncFlow transforms and loads.
"""

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from syncflow.apismith_client import ApiSmithClient, ExecutedPage
from syncflow.domain import DeltaStrategy, EntitySpec
from syncflow.pipeline.frames.rows import last_json_value

__all__ = ["ExecutedPage", "fetch_page", "last_rowversion", "read_filters", "read_pages"]


def below_cursor(cursor: Any, lookback: float) -> Any:
    """Where an incremental read starts: ``lookback`` below the committed cursor.

    Rows that commit late (a lower rowversion committed after a higher one was read)
    are caught by re-reading this margin; re-read rows come out ``unchanged``. Numbers
    (as JSON numbers or exact decimal strings) go down by ``lookback``, ISO 8601
    timestamps by ``lookback`` seconds; other cursors (binary rowversions as hex) and a
    zero lookback are used as they are.
    """
    if cursor is None or not lookback:
        return cursor
    if isinstance(cursor, bool):
        return cursor
    if isinstance(cursor, int):
        return cursor - math.ceil(lookback)
    if isinstance(cursor, float):
        return cursor - lookback
    if isinstance(cursor, str):
        try:
            return str(Decimal(cursor) - Decimal(str(lookback)))
        except InvalidOperation:
            pass
        try:
            moment = datetime.fromisoformat(cursor)
        except ValueError:
            return cursor
        return (moment - timedelta(seconds=lookback)).isoformat()
    return cursor


def read_filters(spec: EntitySpec, *, from_rowversion: Any) -> list[dict[str, Any]]:
    """Rows at or after the committed cursor; ties at the cursor are re-read (and come out
    ``unchanged``), so rows sharing the cursor's rowversion are never skipped."""
    if spec.rowversion_field is None or from_rowversion is None:
        return []
    return [{"field": spec.rowversion_field, "operator": "gte", "value": from_rowversion}]


async def fetch_page(
    client: ApiSmithClient,
    spec: EntitySpec,
    *,
    filters: list[dict[str, Any]],
    page_cursor: str | None,
    include_total: bool = False,
) -> ExecutedPage:
    """One page in APISmith's default order (rowversion column, then business keys)."""
    return await client.execute_page(
        spec.api_slug,
        filters=filters,
        sort=[],
        page_size=spec.page_size,
        cursor=page_cursor,
        include_total=include_total,
        arrow=True,
    )


async def read_pages(
    client: ApiSmithClient,
    spec: EntitySpec,
    *,
    filters: list[dict[str, Any]],
    page_cursor: str | None,
    include_total: bool = False,
) -> AsyncGenerator[ExecutedPage]:
    """Every page from ``page_cursor`` on, the next one already requested while the caller
    handles the current one (so at most two pages are held). Closing the generator
    cancels the page in flight."""
    pending = asyncio.ensure_future(
        fetch_page(
            client, spec, filters=filters, page_cursor=page_cursor, include_total=include_total
        )
    )
    try:
        while True:
            page = await pending
            if page.next_cursor is not None:
                pending = asyncio.ensure_future(
                    fetch_page(client, spec, filters=filters, page_cursor=page.next_cursor)
                )
            yield page
            if page.next_cursor is None:
                return
    finally:
        if not pending.done():
            pending.cancel()
        # a read-ahead page that failed after the caller stopped is of no interest
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await pending


def last_rowversion(spec: EntitySpec, raws: Sequence[dict[str, Any]] | pa.Table) -> Any:
    """The cursor after a page: its last non-NULL rowversion, as APISmith sent it (in
    JSON's form, from an Arrow page).

    Pages come in rowversion order, so this is the page's highest; failed rows count
    too (they wait in failed_records), so a bad row is not re-read by every run.
    """
    if spec.delta_strategy is not DeltaStrategy.ROWVERSION or spec.rowversion_field is None:
        return None
    name = spec.rowversion_field
    if isinstance(raws, pa.Table):
        return last_json_value(raws, name)
    return next((raw[name] for raw in reversed(raws) if raw.get(name) is not None), None)
