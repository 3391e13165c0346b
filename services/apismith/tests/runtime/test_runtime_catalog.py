"""The runtime's catalog (API + connection by slug, kept per process): a change made through
this process is seen on the very next call, one made elsewhere within the catalog's ttl."""

import re

import asyncpg
import pytest
from sqlalchemy import make_url

from apismith.apis.schemas import ApiIn
from apismith.catalog import CatalogEntry, RuntimeCatalog
from apismith.main import build_app
from bridge_core.db.engine import asyncpg_dsn
from bridge_core.testing.asgi import app_client
from services.apismith.tests.erp_fixtures import add_api, add_connection

TWO_COLUMNS = "SELECT order_no, status FROM shop_orders"
THREE_COLUMNS = "SELECT order_no, status, priority FROM shop_orders"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def app_and_client(apismith_settings):
    app = build_app(apismith_settings)
    async with app_client(app) as client:
        yield app, client


@pytest.fixture
async def admin(create_apismith_user):
    return (await create_apismith_user(role="admin")).headers


@pytest.fixture
async def orders_api(app_and_client, admin, erp_postgres):
    _, client = app_and_client
    connection = await add_connection(client, admin, erp_postgres)
    return await add_api(client, admin, connection, TWO_COLUMNS, business_keys=["order_no"])


async def _execute(client, headers, slug, **body):
    return await client.post(f"/api/v1/runtime/{slug}/execute", json=body, headers=headers)


async def _columns(client, headers, slug):
    response = await _execute(client, headers, slug, page_size=5)
    assert response.status_code == 200, response.text
    return [column["name"] for column in response.json()["metadata"]["columns"]]


def _replaced(api, **changes):
    """``PUT /apis/{uid}``'s body: the API as it is, with ``changes``."""
    return {key: api[key] for key in ApiIn.model_fields} | changes


async def test_an_api_edit_is_seen_on_the_next_call(app_and_client, admin, orders_api):
    _, client = app_and_client
    slug = orders_api["slug"]
    assert await _columns(client, admin, slug) == ["order_no", "status"]

    put = await client.put(
        f"/api/v1/apis/{orders_api['uid']}",
        json=_replaced(orders_api, sql=THREE_COLUMNS),
        headers=admin,
    )
    assert put.status_code == 200, put.text

    assert await _columns(client, admin, slug) == ["order_no", "status", "priority"]


async def test_a_disabled_api_is_refused_on_the_next_call_and_served_once_enabled(
    app_and_client, admin, orders_api
):
    _, client = app_and_client
    slug, uid = orders_api["slug"], orders_api["uid"]
    assert (await _execute(client, admin, slug)).status_code == 200

    off = _replaced(orders_api, is_active=False)
    assert (await client.put(f"/api/v1/apis/{uid}", json=off, headers=admin)).status_code == 200
    assert (await _execute(client, admin, slug)).status_code == 404

    on = _replaced(orders_api, is_active=True)
    assert (await client.put(f"/api/v1/apis/{uid}", json=on, headers=admin)).status_code == 200
    assert (await _execute(client, admin, slug)).status_code == 200


async def test_a_deleted_api_is_gone_on_the_next_call(app_and_client, admin, orders_api):
    _, client = app_and_client
    slug = orders_api["slug"]
    assert (await _execute(client, admin, slug)).status_code == 200

    deleted = await client.delete(f"/api/v1/apis/{orders_api['uid']}", headers=admin)
    assert deleted.status_code == 204

    assert (await _execute(client, admin, slug)).status_code == 404


async def test_a_connection_edit_is_seen_on_the_next_call(
    app_and_client, admin, orders_api, erp_postgres
):
    _, client = app_and_client
    slug, connection_uid = orders_api["slug"], orders_api["connection_uid"]
    assert (await _execute(client, admin, slug, page_size=50)).status_code == 200
    connection = (await client.get(f"/api/v1/connections/{connection_uid}", headers=admin)).json()

    put = await client.put(
        f"/api/v1/connections/{connection_uid}",
        json={"name": connection["name"], "dialect": "postgresql", "options": {"max_rows": 20}},
        headers=admin,
    )
    assert put.status_code == 200, put.text

    refused = await _execute(client, admin, slug, page_size=50)
    assert refused.status_code == 400
    assert "max_rows (20)" in refused.json()["detail"]


async def test_an_api_saved_in_the_console_is_seen_on_the_next_call(
    app_and_client, create_apismith_user, orders_api
):
    _, client = app_and_client
    user = await create_apismith_user(role="admin")
    slug = orders_api["slug"]
    assert await _columns(client, user.headers, slug) == ["order_no", "status"]

    page = await client.get("/console/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    signed_in = await client.post(
        "/console/login",
        data={"username": user.username, "password": user.password, "csrf_token": csrf[1]},
    )
    assert signed_in.status_code == 303
    saved = await client.post(
        "/console/apis/save",
        data={
            "connection_uid": orders_api["connection_uid"],
            "sql": THREE_COLUMNS,
            "slug": slug,
            "name": orders_api["name"],
            "business_keys": ["order_no"],
        },
        headers={"X-CSRF-Token": csrf[1], "HX-Request": "true"},
    )
    assert saved.status_code == 200, saved.text
    assert saved.headers["HX-Redirect"] == f"/console/apis/{orders_api['uid']}"

    assert await _columns(client, user.headers, slug) == ["order_no", "status", "priority"]


async def test_a_change_made_elsewhere_is_seen_once_the_ttl_has_passed(
    app_and_client, admin, orders_api, apismith_database_url
):
    """Another server process, or SQL run by hand, cannot empty this process's catalog."""
    app, client = app_and_client
    clock = Clock()
    app.state.catalog.entries.clock = clock
    slug = orders_api["slug"]
    assert (await _execute(client, admin, slug)).status_code == 200

    conn = await asyncpg.connect(**asyncpg_dsn(make_url(apismith_database_url)))
    try:
        await conn.execute("UPDATE apis SET is_active = false WHERE slug = $1", slug)
    finally:
        await conn.close()

    assert (await _execute(client, admin, slug)).status_code == 200  # from the catalog
    clock.now += app.state.catalog.entries.ttl
    assert (await _execute(client, admin, slug)).status_code == 404


def _entry(api_version):
    # the catalog only stores and hands back entries: their content does not matter here
    return CatalogEntry(api=api_version, connection=None)


def test_an_entry_read_while_a_write_runs_is_not_kept():
    catalog = RuntimeCatalog()
    read_at = catalog.generation
    catalog.write_started()
    catalog.put("orders", _entry(1), read_at=read_at)  # read before the write began
    assert catalog.get("orders") is None
    catalog.put("orders", _entry(1), read_at=catalog.generation)  # read while it runs
    assert catalog.get("orders") is None
    catalog.write_ended()

    catalog.put("orders", _entry(2), read_at=catalog.generation)
    assert catalog.get("orders") == _entry(2)


def test_an_entry_is_dropped_when_a_write_ends():
    catalog = RuntimeCatalog()
    catalog.put("orders", _entry(1), read_at=catalog.generation)
    catalog.write_started()
    catalog.write_ended()
    assert catalog.get("orders") is None
