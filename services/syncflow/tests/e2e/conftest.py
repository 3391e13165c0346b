"""End-to-end world: a real APISmith (uvicorn, own database) over a messy ERP-like
PostgreSQL schema, and SyncFlow (in-process app with its worker) syncing from it.

Every test gets a fresh ERP database, fresh APIs on the shared APISmith, and a
fresh SyncFlow database, so tests never see each other's rows.
"""

import asyncio
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from apismith.main import build_app as build_apismith
from apismith.settings import Settings as ApiSmithSettings
from bridge_core.db.engine import asyncpg_dsn
from bridge_core.testing.asgi import app_client
from bridge_core.testing.live_server import live_server
from syncflow.main import build_app as build_syncflow
from syncflow.settings import Settings as SyncFlowSettings

ADMIN_TOKEN = "e2e-operator-token"

ERP_SCHEMA = """
CREATE SEQUENCE rv;
CREATE TABLE parts (
    part_no     varchar(20),
    description varchar(200),
    unit_cost   varchar(30),
    qty         numeric(18, 6),
    created     varchar(40),
    rowversion  bigint NOT NULL DEFAULT nextval('rv')
);
CREATE TABLE shop_orders (
    order_no   varchar(20) PRIMARY KEY,
    part_no    varchar(20),
    qty        numeric(18, 6),
    due_date   date,
    rowversion bigint NOT NULL DEFAULT nextval('rv')
);
CREATE TABLE operations (
    order_no    varchar(20),
    op_no       integer,
    work_center varchar(20),
    hours       numeric(10, 2),
    PRIMARY KEY (order_no, op_no)
);
"""

# messy on purpose: padding, thousands separators, currency, accounting negatives,
# exponent notation, control characters, CR LF, Oracle and German dates, non-ASCII
PARTS = [
    ("P-001", "  Schraube M8 – verzinkt  ", "10,000", "5", "31-DEC-25"),
    ("P-002", "Mutter\r\nM8\x07", "$1,000.50", "12.5", "08.12.2025 10:30"),
    ("P-003", "Größe XL", "(100)", "0", "2025-06-01T08:00:00+02:00"),
    ("P-004", "部品", "1e3", "3", "2025-01-15"),
    ("P-005", "   ", "7.25", "1", "01-JAN-99"),
]
BAD_PARTS = [
    (None, "no key", "1", "1", "2025-01-01"),  # NULL business key
    ("P-BAD", "bad cost", "ten", "1", "2025-01-01"),  # not a number
]


async def build_erp(url: Any, *, extra_parts: int = 0) -> None:
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        await conn.execute(ERP_SCHEMA)
        await conn.executemany(
            "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
            "VALUES ($1, $2, $3, $4::numeric, $5)",
            PARTS + BAD_PARTS,
        )
        if extra_parts:
            await conn.execute(
                "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
                "SELECT 'X-' || lpad(i::text, 6, '0'), 'bulk part ' || i, (i % 97)::text, i % 13, "
                "'2025-03-01' FROM generate_series(1, $1) i",
                extra_parts,
            )
        await conn.executemany(
            "INSERT INTO shop_orders (order_no, part_no, qty, due_date) VALUES ($1, $2, $3, $4)",
            [
                ("SO-1", "P-001", 10, None),
                ("SO-2", "P-002", 20, None),
                ("SO-3", "P-LATE", 5, None),  # its part arrives later: parked
            ],
        )
        await conn.executemany(
            "INSERT INTO operations VALUES ($1, $2, $3, $4)",
            [("SO-1", 10, "SAW", 1.5), ("SO-1", 20, "MILL", 2.25), ("SO-2", 10, "SAW", 0.5)],
        )
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def apismith_e2e(create_database, tmp_path_factory):
    """A real APISmith on a free port; yields (base_url, admin bearer headers)."""
    url = await create_database("apismith_e2e")
    settings = ApiSmithSettings(
        environment="test",
        database_url=url.render_as_string(hide_password=False),
        data_dir=tmp_path_factory.mktemp("apismith"),
        secret_key="e2e-secret-key-that-is-long-enough-for-hs256",
        encryption_key="e2e-encryption-key",
        admin_username="admin",
        admin_password="admin-password-e2e",
        log_file=False,
    )
    with live_server(build_apismith(settings)) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            login = await client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": "admin-password-e2e"}
            )
            login.raise_for_status()
            headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            token = await client.post(
                "/api/v1/auth/tokens",
                json={"name": "syncflow-e2e", "role": "reader"},
                headers=headers,
            )
            token.raise_for_status()
        yield base_url, headers, token.json()["token"]


class SimulatedClock:
    """The world's clock (schedules, windows, pauses, retries): the system time until a
    test sets it; then it stands still until moved, so a test can live through days."""

    def __init__(self) -> None:
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        return self.fixed if self.fixed is not None else datetime.now(UTC)

    def set(self, moment: datetime) -> None:
        self.fixed = moment

    def advance(self, delta: timedelta) -> None:
        self.fixed = self() + delta


@dataclass
class World:
    settings: SyncFlowSettings
    client: httpx.AsyncClient
    erp_url: Any
    prefix: str
    apismith_url: str
    apismith_headers: dict[str, str]
    app: Any = None
    entities: dict[str, str] = field(default_factory=dict)
    # each entity's definition as the world created it (``allow_deletes`` changes one)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    clock: SimulatedClock = field(default_factory=SimulatedClock)

    async def erp(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(**asyncpg_dsn(self.erp_url))
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    async def target(self, sql: str, *args: Any) -> list[Any]:
        database = self.app.state.target_database
        async with database.engine.connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            return list(await driver.fetch(sql, *args))

    async def key_index_is_built(self, table: str) -> bool:
        """Whether the target table has its unique key hash index (a first load defers it)."""
        rows = await self.target(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = $1::text::regclass "
            "AND contype = 'u'",
            table,
        )
        return bool(rows[0][0])

    async def start(self, entity: str, mode: str = "incremental", dry_run: bool = False) -> str:
        response = await self.client.post(
            "/api/v1/sync/start", json={"entity": entity, "mode": mode, "dry_run": dry_run}
        )
        assert response.status_code == 202, response.text
        return response.json()["batch_uid"]

    async def wait(self, batch_uid: str, timeout: float = 60) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            status = (await self.client.get(f"/api/v1/sync/status/{batch_uid}")).json()
            if status["status"] in ("completed", "failed", "cancelled"):
                return status
            assert asyncio.get_running_loop().time() < deadline, f"batch still {status}"
            await asyncio.sleep(0.05)

    async def sync(
        self, entity: str, mode: str = "incremental", dry_run: bool = False
    ) -> dict[str, Any]:
        return await self.wait(await self.start(entity, mode, dry_run))

    async def sync_with_a_worker(self, spawn_worker: Any, entity: str) -> dict[str, Any]:
        """A batch run to its end by a worker process of its own (``no_worker`` worlds)."""
        batch_uid = await self.start(entity)
        worker = spawn_worker()
        try:
            return await self.wait(batch_uid)
        finally:
            worker.terminate()
            worker.wait(timeout=30)

    async def add_api(self, name: str, sql: str, *, strategy: str = "rowversion") -> None:
        """One more APISmith API ``<prefix>-<name>`` over the world's ERP connection
        (business key ``item_no``, rowversion column ``rowversion``)."""
        async with httpx.AsyncClient(
            base_url=self.apismith_url, headers=self.apismith_headers
        ) as client:
            connections = (await client.get("/api/v1/connections")).json()
            connection = next(c for c in connections if c["name"] == f"erp-{self.prefix}")
            api = await client.post(
                "/api/v1/apis",
                json={
                    "slug": f"{self.prefix}-{name}",
                    "name": name,
                    "connection_uid": connection["uid"],
                    "sql": sql,
                    "business_keys": ["item_no"],
                    "rowversion_column": "rowversion",
                    "delta_strategy": strategy,
                },
            )
            assert api.status_code == 201, api.text

    async def set_parts_page_size(self, page_size: int, rowversion_lookback: float = 0) -> None:
        response = await self.client.put(
            "/api/v1/entities/parts",
            json={
                "source": "erp",
                "api_slug": f"{self.prefix}-parts",
                "field_mappings": PART_MAPPINGS,
                "page_size": page_size,
                "rowversion_lookback": rowversion_lookback,
            },
        )
        assert response.status_code == 200, response.text

    async def allow_deletes(self, entity: str, max_ratio: float, mode: str = "soft") -> None:
        """Give ``entity`` a delete policy (``mode``, up to ``max_ratio`` of its rows)."""
        response = await self.client.put(
            f"/api/v1/entities/{entity}",
            json={**self.bodies[entity], "delete_policy": {"mode": mode, "max_ratio": max_ratio}},
        )
        assert response.status_code == 200, response.text

    async def verify(self, entity: str) -> dict[str, Any]:
        response = await self.client.post(f"/api/v1/entities/{entity}/verify")
        assert response.status_code == 200, response.text
        return response.json()


async def register_apis(base_url: str, headers: dict[str, str], erp_url: Any, prefix: str) -> None:
    """A connection to the ERP database and one API per table, slugs prefixed."""
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as client:
        connection = await client.post(
            "/api/v1/connections",
            json={
                "name": f"erp-{prefix}",
                "dialect": "postgresql",
                "url": erp_url.render_as_string(hide_password=False),
            },
        )
        assert connection.status_code == 201, connection.text
        uid = connection.json()["uid"]
        apis = [
            (
                "parts",
                "SELECT part_no, description, unit_cost, qty, created, rowversion FROM parts",
                ["part_no"],
                "rowversion",
                "rowversion",
            ),
            (
                "shop-orders",
                "SELECT order_no, part_no, qty, due_date, rowversion FROM shop_orders",
                ["order_no"],
                "rowversion",
                "hash",
            ),
            (
                "operations",
                "SELECT order_no, op_no, work_center, hours FROM operations",
                ["order_no", "op_no"],
                None,
                "hash",
            ),
        ]
        for slug, sql, keys, rowversion, strategy in apis:
            response = await client.post(
                "/api/v1/apis",
                json={
                    "slug": f"{prefix}-{slug}",
                    "name": slug,
                    "connection_uid": uid,
                    "sql": sql,
                    "business_keys": keys,
                    "rowversion_column": rowversion,
                    "delta_strategy": strategy,
                },
            )
            assert response.status_code == 201, response.text


PART_MAPPINGS = [
    {"source_field": "part_no", "target_field": "part_no", "type": "text", "required": True},
    {"source_field": "description", "target_field": "description", "type": "text"},
    {"source_field": "unit_cost", "target_field": "unit_cost", "type": "numeric"},
    {"source_field": "qty", "target_field": "qty", "type": "numeric"},
    {"source_field": "created", "target_field": "created_at", "type": "timestamp"},
]


@pytest.fixture
def target_database_url() -> str | None:
    """The world's target database: SyncFlow's own unless a test module overrides this."""
    return None


@pytest.fixture
async def world(request, create_database, apismith_e2e, tmp_path, target_database_url):
    """The world; tests marked ``no_worker`` get a SyncFlow app without its in-process
    worker (they run workers as separate processes)."""
    base_url, headers, service_token = apismith_e2e
    erp_url = await create_database("erp")
    await build_erp(erp_url)
    prefix = uuid.uuid4().hex[:8]
    await register_apis(base_url, headers, erp_url, prefix)
    own = await create_database("syncflow_e2e")
    settings = SyncFlowSettings(
        environment="test",
        database_url=own.render_as_string(hide_password=False),
        target_database_url=target_database_url,
        data_dir=tmp_path,
        secret_key="e2e-syncflow-secret-key-long-enough",
        encryption_key="e2e-syncflow-encryption",
        admin_token=ADMIN_TOKEN,
        source_timezone="Europe/Berlin",
        lease_seconds=5,
        heartbeat_seconds=1,
        delivery_poll_seconds=0.2,
        delivery_retry_base_seconds=0.05,
        delivery_retry_max_seconds=0.5,
        log_file=False,
    )
    clock = SimulatedClock()
    app = build_syncflow(
        settings,
        run_worker=request.node.get_closest_marker("no_worker") is None,
        clock=clock,
    )
    async with app_client(app, Authorization=f"Bearer {ADMIN_TOKEN}") as client:
        world = World(
            clock=clock,
            settings=settings,
            client=client,
            erp_url=erp_url,
            prefix=prefix,
            apismith_url=base_url,
            apismith_headers=headers,
            app=app,
        )
        source = await client.post(
            "/api/v1/sources", json={"name": "erp", "base_url": base_url, "token": service_token}
        )
        assert source.status_code == 201, source.text
        for body in (
            {
                "name": "parts",
                "api_slug": f"{prefix}-parts",
                "field_mappings": PART_MAPPINGS,
                "page_size": 3,
            },
            {
                "name": "shop_orders",
                "api_slug": f"{prefix}-shop-orders",
                "page_size": 2,
                "parent_refs": [
                    {"parent_entity": "parts", "fields": ["part_no"], "parent_fields": ["part_no"]}
                ],
            },
            {
                "name": "operations",
                "api_slug": f"{prefix}-operations",
                "parent_refs": [
                    {
                        "parent_entity": "shop_orders",
                        "fields": ["order_no"],
                        "parent_fields": ["order_no"],
                    }
                ],
            },
        ):
            response = await client.post("/api/v1/entities", json={"source": "erp", **body})
            assert response.status_code == 201, response.text
            world.bodies[body["name"]] = {"source": "erp", **body}
        yield world


@pytest.fixture
def spawn_worker(world):
    """Factory: ``spawn_worker(log=None, **env)`` starts a ``syncflow worker`` process on
    the world's database (lease 2 s), with extra ``SYNCFLOW_*`` settings from ``env``."""
    processes: list[subprocess.Popen] = []

    def spawn(log: Path | None = None, **extra: str) -> subprocess.Popen:
        settings = world.settings
        env = {
            **os.environ,
            "SYNCFLOW_ENVIRONMENT": "test",
            "SYNCFLOW_DATABASE_URL": settings.database_url,
            "SYNCFLOW_SECRET_KEY": settings.secret_key.get_secret_value(),
            "SYNCFLOW_ENCRYPTION_KEY": settings.encryption_key.get_secret_value(),
            "SYNCFLOW_SOURCE_TIMEZONE": settings.source_timezone,
            "SYNCFLOW_LEASE_SECONDS": "2",
            "SYNCFLOW_HEARTBEAT_SECONDS": "1",
            "SYNCFLOW_DELIVERY_POLL_SECONDS": "0.2",
            "SYNCFLOW_DELIVERY_RETRY_BASE_SECONDS": "0.05",
            "SYNCFLOW_DELIVERY_RETRY_MAX_SECONDS": "0.5",
            "SYNCFLOW_LOG_FILE": "false",
            "SYNCFLOW_DATA_DIR": str(settings.data_dir),
            **{f"SYNCFLOW_{key.upper()}": value for key, value in extra.items()},
        }
        command = [str(Path(sys.executable).parent / "syncflow"), "worker"]
        output = log.open("wb") if log else subprocess.DEVNULL
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
        processes.append(process)
        return process

    yield spawn
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
