"""SyncFlow test fixtures: a fresh, migrated database per test session, operator
credentials, and a fake APISmith served over real HTTP.

Fixtures others reuse:

- ``syncflow_client``: in-process client of the app (lifespan running).
- ``admin_headers``: ``Authorization`` with the configured ``SYNCFLOW_ADMIN_TOKEN``.
- ``operator_token`` / ``operator_headers``: a real operator token stored in the database.
- ``fake_apismith``: a :class:`FakeApiSmith` on a live uvicorn server that answers
  APISmith's v1 contract (health, auth/me, apis, apis/slug, runtime execute);
  add APIs with ``fake_apismith.add_api(...)``; reset for every test.
- ``create_source``: ``await create_source(name)`` registers ``fake_apismith`` as a source.
"""

import base64
import logging
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from loguru import logger

from bridge_core.db.engine import create_engine, to_async_url
from bridge_core.db.transaction import Database
from bridge_core.testing.asgi import app_client
from bridge_core.testing.live_server import live_server
from bridge_core.testing.logs import captured_log_lines
from bridge_core.testing.settings import service_test_settings
from syncflow.auth.service import create_token
from syncflow.main import build_app
from syncflow.settings import Settings

ADMIN_TOKEN = "test-admin-token-0123456789"
FAKE_APISMITH_TOKEN = "apismith-service-token-for-tests"


@pytest.fixture(scope="session")
async def syncflow_database_url(create_database):
    url = await create_database("syncflow")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def syncflow_settings(syncflow_database_url, tmp_path):
    return service_test_settings(
        Settings, database_url=syncflow_database_url, data_dir=tmp_path, admin_token=ADMIN_TOKEN
    )


@pytest.fixture
async def syncflow_client(syncflow_settings):
    async with app_client(build_app(syncflow_settings)) as client:
        yield client


@pytest.fixture
def log_lines():
    """Every log line (DEBUG and up) written during the test."""
    with captured_log_lines() as lines:
        yield lines


@pytest.fixture
def cli_logging():
    """For tests that invoke the command line in-process: Loguru back on stderr after."""
    yield
    # the command points Loguru at the runner's captured stderr, which is closed afterwards
    logger.remove()
    logger.add(sys.stderr)


@pytest.fixture
def admin_headers():
    """``Authorization`` with the admin token configured in ``syncflow_settings``."""
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def operator_token(syncflow_settings, syncflow_client):
    """A new operator token, stored in the (migrated) test database."""
    engine = create_engine(to_async_url(syncflow_settings.database_url), pool_size=1)
    try:
        async with Database(engine).transaction() as conn:
            created = await create_token(
                conn, settings=syncflow_settings, name="tests", created_by="tests"
            )
    finally:
        await engine.dispose()
    return created.token


@pytest.fixture
def operator_headers(operator_token):
    """``Authorization`` with a real operator token."""
    return {"Authorization": f"Bearer {operator_token}"}


# --- a fake APISmith ------------------------------------------------------------------


@dataclass
class FakeApi:
    """One API of the fake: APISmith's metadata and the rows it serves."""

    slug: str
    columns: list[dict[str, Any]]
    business_keys: list[str]
    rowversion_column: str | None
    delta_strategy: str
    rows: list[dict[str, Any]]
    version: int = 1

    def metadata(self, *, with_columns: bool = True) -> dict[str, Any]:
        api = {
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, self.slug)),
            "slug": self.slug,
            "name": self.slug.replace("-", " ").title(),
            "description": f"fake API {self.slug}",
            "business_keys": self.business_keys,
            "rowversion_column": self.rowversion_column,
            "delta_strategy": self.delta_strategy,
            "is_active": True,
            "params": [],
            "version": self.version,
        }
        if with_columns:
            api["columns"] = self.columns
        return api


def _sort_key(value: Any) -> tuple[int, Any]:
    return (1, "") if value is None else (0, value)


_OPERATORS = {
    "eq": lambda v, x: v == x,
    "ne": lambda v, x: v != x,
    "gt": lambda v, x: v is not None and v > x,
    "gte": lambda v, x: v is not None and v >= x,
    "lt": lambda v, x: v is not None and v < x,
    "lte": lambda v, x: v is not None and v <= x,
    "in": lambda v, x: v in x,
    "not_in": lambda v, x: v not in x,
    "is_null": lambda v, x: v is None,
    "not_null": lambda v, x: v is not None,
}


@dataclass
class FakeApiSmith:
    """What the fake APISmith serves and what it was asked (state is reset per test).

    ``list_shape``: ``"paged"`` (``{items, total, page, page_size}``) or ``"list"``;
    ``list_with_columns``: whether listed APIs carry ``columns``;
    ``fail_next``: statuses answered (with a ``detail``) before any real answer;
    ``requests``: ``(method, path)`` of every call received.
    """

    url: str = ""
    token: str = FAKE_APISMITH_TOKEN
    version: str = "9.8.7"
    apis: dict[str, FakeApi] = field(default_factory=dict)
    list_shape: str = "paged"
    list_with_columns: bool = False
    fail_next: list[int] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def reset(self) -> None:
        self.token = FAKE_APISMITH_TOKEN
        self.apis.clear()
        self.list_shape = "paged"
        self.list_with_columns = False
        self.fail_next.clear()
        self.requests.clear()

    def add_api(
        self,
        slug: str,
        columns: list[tuple[str, str]] | list[dict[str, Any]],
        *,
        business_keys: list[str] | None = None,
        rowversion_column: str | None = None,
        delta_strategy: str | None = None,
        rows: list[dict[str, Any]] | None = None,
    ) -> FakeApi:
        """Serve an API; ``columns`` as ``[(name, data_type), ...]`` or APISmith's dicts."""
        described = [
            c if isinstance(c, dict) else {"name": c[0], "data_type": c[1], "nullable": True}
            for c in columns
        ]
        strategy = delta_strategy or ("rowversion" if rowversion_column else "hash")
        api = FakeApi(slug, described, business_keys or [], rowversion_column, strategy, rows or [])
        self.apis[slug] = api
        return api

    def selected_rows(self, api: FakeApi, body: dict[str, Any]) -> list[dict[str, Any]]:
        rows = api.rows
        for condition in body.get("filters") or []:
            check = _OPERATORS[condition["operator"]]
            rows = [r for r in rows if check(r.get(condition["field"]), condition.get("value"))]
        sort = body.get("sort") or [
            {"field": name, "direction": "asc"}
            for name in ([api.rowversion_column] if api.rowversion_column else [])
            + api.business_keys
        ]
        for order in reversed(sort):
            rows = sorted(
                rows,
                key=lambda r, f=order["field"]: _sort_key(r.get(f)),
                reverse=order.get("direction") == "desc",
            )
        return rows


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"offset": offset})).decode()


def _offset(cursor: str | None) -> int:
    return int(orjson.loads(base64.urlsafe_b64decode(cursor))["offset"]) if cursor else 0


def _fake_apismith_app(fake: FakeApiSmith) -> FastAPI:
    async def contract(request: Request) -> None:
        fake.requests.append((request.method, request.url.path))
        if fake.fail_next:
            status = fake.fail_next.pop(0)
            raise HTTPException(status, detail=f"injected {status}")
        if request.url.path != "/api/v1/health" and (
            request.headers.get("Authorization") != f"Bearer {fake.token}"
        ):
            raise HTTPException(401, detail="invalid token")

    app = FastAPI(dependencies=[Depends(contract)])

    def api_or_404(slug: str) -> FakeApi | JSONResponse:
        api = fake.apis.get(slug)
        return api if api else JSONResponse({"detail": f"API {slug!r} not found"}, 404)

    @app.get("/api/v1/health")
    async def health() -> dict[str, str]:
        return {
            "status": "ok",
            "service": "apismith",
            "version": fake.version,
            "environment": "test",
        }

    @app.get("/api/v1/auth/me")
    async def me() -> dict[str, str]:
        return {"uid": str(uuid.uuid4()), "name": "syncflow", "role": "reader", "kind": "token"}

    @app.get("/api/v1/apis")
    async def list_apis(page: int = 1, page_size: int = 100) -> Any:
        apis = [a.metadata(with_columns=fake.list_with_columns) for a in fake.apis.values()]
        if fake.list_shape == "list":
            return apis
        start = (page - 1) * page_size
        return {
            "items": apis[start : start + page_size],
            "total": len(apis),
            "page": page,
            "page_size": page_size,
        }

    @app.get("/api/v1/apis/slug/{slug}")
    async def get_api(slug: str) -> Any:
        api = api_or_404(slug)
        return api if isinstance(api, JSONResponse) else api.metadata()

    @app.post("/api/v1/runtime/{slug}/execute")
    async def execute(slug: str, request: Request) -> Any:
        api = api_or_404(slug)
        if isinstance(api, JSONResponse):
            return api
        body = orjson.loads(await request.body())
        rows = fake.selected_rows(api, body)
        start, size = _offset(body.get("cursor")), int(body.get("page_size") or 100)
        page = rows[start : start + size]
        more = start + size < len(rows)
        return {
            "data": page,
            "metadata": {
                "columns": api.columns,
                "row_count": len(page),
                "page_size": size,
                "next_cursor": _cursor(start + size) if more else None,
                "total_rows": len(rows) if body.get("include_total") else None,
                "execution_time_ms": 1.0,
            },
        }

    return app


@pytest.fixture(scope="session")
def fake_apismith_server() -> Iterator[FakeApiSmith]:
    fake = FakeApiSmith()
    with live_server(_fake_apismith_app(fake)) as url:
        fake.url = url
        yield fake
        # the shutdown notices would reach a log sink that pytest has closed by now
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


@pytest.fixture
def fake_apismith(fake_apismith_server) -> FakeApiSmith:
    """The fake APISmith, emptied for this test (see :class:`FakeApiSmith`)."""
    fake_apismith_server.reset()
    return fake_apismith_server


@pytest.fixture
def create_source(syncflow_client, operator_headers, fake_apismith):
    """Factory ``await create_source(name) -> dict``: ``fake_apismith`` as a source."""

    async def create(name: str | None = None) -> dict[str, Any]:
        response = await syncflow_client.post(
            "/api/v1/sources",
            json={
                "name": name or f"erp-{uuid.uuid4().hex[:8]}",
                "base_url": fake_apismith.url,
                "token": fake_apismith.token,
            },
            headers=operator_headers,
        )
        assert response.status_code == 201, response.text
        return response.json()

    return create


CUSTOMER_COLUMNS = [
    ("customer_no", "string"),
    ("name", "string"),
    ("credit_limit", "number"),
    ("active", "boolean"),
    ("since", "date"),
    ("changed_at", "timestamp"),
    ("rv", "integer"),
]
ORDER_COLUMNS = [
    ("order_no", "string"),
    ("customer_no", "string"),
    ("amount", "number"),
    ("rv", "integer"),
]


@pytest.fixture
async def customers_entity(syncflow_client, operator_headers, create_source, sample_apis):
    """An entity (its name) over ``sample_apis``' ``customers``, from a new source."""
    source = await create_source()
    name = f"customers_{uuid.uuid4().hex[:8]}"
    response = await syncflow_client.post(
        "/api/v1/entities",
        json={"name": name, "source": source["name"], "api_slug": "customers"},
        headers=operator_headers,
    )
    assert response.status_code == 201, response.text
    return name


@pytest.fixture
def sample_apis(fake_apismith):
    """Two APIs on ``fake_apismith``: ``customers`` (key ``customer_no``) and ``orders``
    (key ``order_no``, ``customer_no`` points at a customer), both with rowversion ``rv``."""
    customers = fake_apismith.add_api(
        "customers", CUSTOMER_COLUMNS, business_keys=["customer_no"], rowversion_column="rv"
    )
    orders = fake_apismith.add_api(
        "orders", ORDER_COLUMNS, business_keys=["order_no"], rowversion_column="rv"
    )
    return {"customers": customers, "orders": orders}
