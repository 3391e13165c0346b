"""Fetch: pages of rows from APISmith, in keyset order, resumable from a page cursor.

Retries with backoff come from the client base; a page that still fails
raises and fails the batch (nothing is deleted on a failed read).
"""

from typing import Any

from syncflow.apismith_client import ApiSmithClient, ExecutedPage
from syncflow.pipeline.types import EntitySpec


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
    )
