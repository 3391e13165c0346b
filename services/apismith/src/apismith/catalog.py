"""What the runtime runs, by slug: an API's definition and its connection, kept per process.

Every runtime call needs the API (by slug) and its connection; reading them was a
metadata transaction on every page SyncFlow reads. A pair read once is now kept by this
process for ``ttl`` seconds (10), with the API at its ``version`` and the connection at
its ``updated_at`` (which the cursor fingerprint and the driver registry go by).

Every route that writes an API or a connection (the API, the console) depends on
:func:`catalog_write`: the catalog is emptied when the write starts, nothing read while
it runs is kept (it may be the old row), and it is emptied again once the write's
transaction has committed. So the next call in this process reads the change: an edit,
a disabled or deleted API, a changed connection. Other server processes
(``APISMITH_WORKERS``) and anything writing the database directly are seen within
``ttl`` seconds, as with revoked service tokens (``auth/token_cache.py``). Unknown or
inactive slugs are never kept: they are read again on every call.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from apismith.apis.schemas import ApiOut
from apismith.connections.repository import ConnectionRecord
from bridge_core.expiring import ExpiringCache

TTL_SECONDS = 10.0
MAX_APIS = 1_024


@dataclass(frozen=True)
class CatalogEntry:
    """An active API and the connection it runs on, as read together."""

    api: ApiOut
    connection: ConnectionRecord


class RuntimeCatalog:
    """``slug -> (API, connection)`` for ``ttl`` seconds; nothing is kept across a write."""

    def __init__(self) -> None:
        self.entries = ExpiringCache[str, CatalogEntry](ttl=TTL_SECONDS, max_entries=MAX_APIS)
        self._writes = 0  # writes to APIs or connections running in this process
        self._generation = 0  # moves at the start and the end of every write

    def get(self, slug: str) -> CatalogEntry | None:
        return self.entries.get(slug)

    @property
    def generation(self) -> int:
        """Taken before reading an entry from the database, and given back to :meth:`put`."""
        return self._generation

    def put(self, slug: str, entry: CatalogEntry, *, read_at: int) -> None:
        """Keep ``entry``, read since generation ``read_at``, unless a write ran meanwhile."""
        if self._writes == 0 and read_at == self._generation:
            self.entries.put(slug, entry)

    def write_started(self) -> None:
        self._writes += 1
        self._generation += 1
        self.entries.clear()

    def write_ended(self) -> None:
        self._writes -= 1
        self._generation += 1
        self.entries.clear()


async def get_catalog(request: Request) -> RuntimeCatalog:
    """The app's catalog (set by the app)."""
    catalog: RuntimeCatalog = request.app.state.catalog
    return catalog


Catalog = Annotated[RuntimeCatalog, Depends(get_catalog)]


async def _write_in_progress(request: Request) -> AsyncIterator[None]:
    catalog = await get_catalog(request)
    catalog.write_started()
    try:
        yield
    finally:
        catalog.write_ended()


# scope="request": it ends after the request's transaction (scope="function") committed
catalog_write = Depends(_write_in_progress, scope="request")
"""``dependencies=[catalog_write]`` on every route that writes an API or a connection."""
