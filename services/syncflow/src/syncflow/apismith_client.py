"""The client SyncFlow uses to call APISmith (contract v1, ARCHITECTURE.md section 4).

``base_url`` is APISmith's root URL (``http://127.0.0.1:8007``); every path here
carries the ``/api/v1`` prefix. Bodies are decoded with orjson and values are passed
on as APISmith sent them: exact decimals and timestamps stay strings (normalize
converts them). Retries with backoff on connect errors, timeouts, 429 and 5xx come
from :class:`~bridge_core.http.client.ServiceClient`; anything that still fails, or
a 4xx, raises :class:`~bridge_core.http.client.ServiceClientError`.
"""

from typing import Any, NamedTuple
from urllib.parse import quote

import httpx
import orjson
import pyarrow as pa

from bridge_core.http.client import ServiceClient, ServiceClientError
from syncflow.domain import ApiColumn, api_columns

API = "/api/v1"
ARROW = "application/vnd.apache.arrow.stream"
# execute answers Arrow when it can, JSON otherwise (an older APISmith, a test double)
PAGE_ACCEPT = f"{ARROW}, application/json;q=0.5"
# APISmith caps its page size; listing APIs in pages of this size keeps each call small
LIST_PAGE_SIZE = 100


class ExecutedPage(NamedTuple):
    """One page of an API's rows; ``next_cursor`` is ``None`` on the last page. A JSON
    page holds ``rows``; an Arrow page holds ``table`` (and no ``rows``)."""

    rows: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None
    columns: tuple[ApiColumn, ...]
    table: pa.Table | None = None

    @property
    def data(self) -> list[dict[str, Any]] | pa.Table:
        """The page's rows as they came: the Arrow table or the JSON rows."""
        return self.rows if self.table is None else self.table


class ApiSmithClient(ServiceClient):
    """One APISmith instance, called with a bearer service token."""

    service = "apismith"

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.request(method, path, **kwargs)
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise ServiceClientError(
                self.service, f"{method} {path} answered with a body that is not JSON"
            ) from exc

    async def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        body = await self._json(method, path, **kwargs)
        if not isinstance(body, dict):
            raise ServiceClientError(self.service, f"{method} {path} did not answer an object")
        return body

    async def health(self) -> dict[str, Any]:
        """``GET /health`` -> ``{status, service, version, environment}``."""
        return await self._object("GET", f"{API}/health")

    async def whoami(self) -> dict[str, Any]:
        """``GET /auth/me``: the principal behind the token (``{uid, name, role, kind}``)."""
        return await self._object("GET", f"{API}/auth/me")

    async def list_apis(self) -> list[dict[str, Any]]:
        """Every API (``GET /apis``), following ``{items, total, page, page_size}`` pages."""
        apis: list[dict[str, Any]] = []
        page = 1
        while True:
            body = await self._json(
                "GET", f"{API}/apis", params={"page": page, "page_size": LIST_PAGE_SIZE}
            )
            if isinstance(body, list):
                return [api for api in body if isinstance(api, dict)]
            if not isinstance(body, dict) or not isinstance(body.get("items"), list):
                raise ServiceClientError(self.service, "GET /apis answered an unknown shape")
            items = [api for api in body["items"] if isinstance(api, dict)]
            apis.extend(items)
            total = body.get("total")
            if not items or not isinstance(total, int) or len(apis) >= total:
                return apis
            page += 1

    async def get_api(self, slug: str) -> dict[str, Any]:
        """``GET /apis/slug/{slug}``: an API with ``columns``, ``business_keys``,
        ``rowversion_column``, ``delta_strategy`` and ``version``."""
        return await self._object("GET", f"{API}/apis/slug/{quote(slug, safe='')}")

    async def execute_page(
        self,
        slug: str,
        *,
        filters: list[dict[str, Any]],
        sort: list[dict[str, str]],
        page_size: int,
        cursor: str | None,
        include_total: bool = False,
        params: dict[str, Any] | None = None,
        arrow: bool = False,
    ) -> ExecutedPage:
        """One page of rows (``POST /runtime/{slug}/execute``), in keyset order; with
        ``arrow``, asked for as an Arrow IPC stream (JSON still read if that is the answer)."""
        path = f"{API}/runtime/{quote(slug, safe='')}/execute"
        response = await self.request(
            "POST",
            path,
            json={
                "params": params or {},
                "filters": filters,
                "sort": sort,
                "page_size": page_size,
                "cursor": cursor,
                "include_total": include_total,
            },
            headers={"Accept": PAGE_ACCEPT} if arrow else None,
        )
        if response.headers.get("content-type", "").startswith(ARROW):
            return self._arrow_page(slug, response)
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise ServiceClientError(
                self.service, f"POST {path} answered with a body that is not JSON"
            ) from exc
        if not isinstance(body, dict):
            raise ServiceClientError(self.service, f"POST {path} did not answer an object")
        rows, metadata = body.get("data"), body.get("metadata")
        if not isinstance(rows, list) or not isinstance(metadata, dict):
            raise ServiceClientError(
                self.service, f"execute of {slug!r} answered without data and metadata"
            )
        total = metadata.get("total_rows")
        return ExecutedPage(
            rows=rows,
            next_cursor=metadata.get("next_cursor"),
            total=total if isinstance(total, int) else None,
            columns=api_columns(metadata.get("columns")),
        )

    def _arrow_page(self, slug: str, response: httpx.Response) -> ExecutedPage:
        """An Arrow execute answer: the rows in the IPC stream, the page's metadata in the
        ``APISmith-*`` headers and the columns in the schema's ``apismith.columns``."""
        try:
            table = pa.ipc.open_stream(response.content).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise ServiceClientError(
                self.service, f"execute of {slug!r} answered a broken Arrow stream: {exc}"
            ) from exc
        metadata = table.schema.metadata or {}
        try:
            columns = orjson.loads(metadata.get(b"apismith.columns", b"[]"))
        except orjson.JSONDecodeError:
            columns = []
        total = response.headers.get("apismith-total-rows")
        return ExecutedPage(
            rows=[],
            next_cursor=response.headers.get("apismith-next-cursor"),
            total=int(total) if total is not None and total.isdigit() else None,
            columns=api_columns(columns),
            table=table,
        )
