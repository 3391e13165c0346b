"""Fetch: pages of rows from APISmith, in keyset order, resumable from a page cursor.

Retries with backoff come from the client base; a page that still fails
raises and fails the batch (nothing is deleted on a failed read).
"""

from dataclasses import dataclass
from typing import Any, Protocol

from syncflow.pipeline.types import EntitySpec


class PageSource(Protocol):
    """What fetch needs of the APISmith client."""

    async def execute_page(
        self,
        slug: str,
        *,
        filters: list[dict[str, Any]],
        sort: list[dict[str, str]],
        page_size: int,
        cursor: str | None,
        include_total: bool = False,
    ) -> Any: ...


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None


def read_filters(spec: EntitySpec, *, from_rowversion: Any) -> list[dict[str, Any]]:
    """Rows at or after the committed cursor; ties at the cursor are re-read (and come out
    ``unchanged``), so rows sharing the cursor's rowversion are never skipped."""
    if spec.rowversion_field is None or from_rowversion is None:
        return []
    return [{"field": spec.rowversion_field, "operator": "gte", "value": from_rowversion}]


async def fetch_page(
    client: PageSource,
    spec: EntitySpec,
    *,
    filters: list[dict[str, Any]],
    page_cursor: str | None,
    include_total: bool = False,
) -> Page:
    """One page in APISmith's default order (rowversion column, then business keys)."""
    result = await client.execute_page(
        spec.api_slug,
        filters=filters,
        sort=[],
        page_size=spec.page_size,
        cursor=page_cursor,
        include_total=include_total,
    )
    rows, next_cursor, total = result[0], result[1], result[2]
    return Page(rows=rows, next_cursor=next_cursor, total=total)
