"""Defining APIs: SQL checked and columns discovered on every save, versions kept, roles applied."""

import uuid

import pytest

from bridge_core.testing.errors import error_message
from services.apismith.tests.erp_fixtures import add_api, add_connection, unique

ORDERS_SQL = (
    "SELECT order_no, status, qty, due_date, released_at, priority, rowversion FROM shop_orders"
)
ORDERS_KEYS = {
    "business_keys": ["order_no"],
    "rowversion_column": "rowversion",
    "delta_strategy": "rowversion",
}


@pytest.fixture
async def pg_connection(apismith_client, admin_headers, erp_postgres):
    return await add_connection(apismith_client, admin_headers, erp_postgres)


def _body(connection, **fields):
    return {
        "slug": unique("orders"),
        "name": "Shop orders",
        "connection_uid": connection["uid"],
        "sql": ORDERS_SQL,
        **ORDERS_KEYS,
        **fields,
    }


def _columns(api):
    return [(column["name"], column["data_type"]) for column in api["columns"]]


async def test_create_discovers_columns_and_stores_version_one(
    apismith_client, admin_headers, pg_connection
):
    body = _body(pg_connection, description="open and closed orders")

    response = await apismith_client.post("/api/v1/apis", json=body, headers=admin_headers)

    assert response.status_code == 201, response.text
    api = response.json()
    assert api["version"] == 1
    assert _columns(api) == [
        ("order_no", "string"),
        ("status", "string"),
        ("qty", "number"),
        ("due_date", "date"),
        ("released_at", "timestamp"),
        ("priority", "integer"),
        ("rowversion", "integer"),
    ]
    for field in ("slug", "name", "description", "sql", "business_keys", "rowversion_column"):
        assert api[field] == body[field]
    assert api["delta_strategy"] == "rowversion"
    assert api["is_active"] is True
    fetched = await apismith_client.get(f"/api/v1/apis/{api['uid']}", headers=admin_headers)
    assert fetched.json() == api
    by_slug = await apismith_client.get(f"/api/v1/apis/slug/{api['slug']}", headers=admin_headers)
    assert by_slug.json() == api


async def test_every_update_is_checked_again_and_adds_a_version(
    apismith_client, admin_headers, pg_connection
):
    api = await add_api(apismith_client, admin_headers, pg_connection, ORDERS_SQL, **ORDERS_KEYS)
    uid = api["uid"]
    changed = _body(
        pg_connection,
        slug=api["slug"],
        sql="SELECT o.order_no, o.qty, p.description AS part, o.rowversion "
        "FROM shop_orders o JOIN parts p ON p.part_no = o.part_no WHERE o.status = :status",
        params=[{"name": "status", "type": "string", "default": "Released"}],
    )

    updated = await apismith_client.put(f"/api/v1/apis/{uid}", json=changed, headers=admin_headers)
    again = await apismith_client.put(f"/api/v1/apis/{uid}", json=changed, headers=admin_headers)

    assert updated.status_code == 200, updated.text
    assert updated.json()["version"] == 2
    assert _columns(updated.json()) == [
        ("order_no", "string"),
        ("qty", "number"),
        ("part", "string"),
        ("rowversion", "integer"),
    ]
    assert again.json()["version"] == 3
    versions = (
        await apismith_client.get(f"/api/v1/apis/{uid}/versions", headers=admin_headers)
    ).json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[2]["definition"]["sql"] == ORDERS_SQL
    assert versions[2]["definition"]["columns"] == api["columns"]
    assert versions[0]["definition"]["params"] == [
        {"name": "status", "type": "string", "required": False, "default": "Released"}
    ]
    assert versions[0]["created_by"].startswith("admin-")


async def test_an_update_that_fails_its_checks_changes_nothing(
    apismith_client, admin_headers, pg_connection, erp_postgres
):
    api = await add_api(apismith_client, admin_headers, pg_connection, ORDERS_SQL, **ORDERS_KEYS)
    bad = _body(pg_connection, slug=api["slug"], sql="DELETE FROM shop_orders")

    response = await apismith_client.put(
        f"/api/v1/apis/{api['uid']}", json=bad, headers=admin_headers
    )

    assert response.status_code == 422
    assert "DELETE" in error_message(response)
    current = await apismith_client.get(f"/api/v1/apis/{api['uid']}", headers=admin_headers)
    assert current.json() == api
    versions = await apismith_client.get(
        f"/api/v1/apis/{api['uid']}/versions", headers=admin_headers
    )
    assert len(versions.json()) == 1
    assert await erp_postgres.scalar("SELECT count(*) FROM shop_orders") == 420


async def test_columns_are_discovered_on_every_source(apismith_client, admin_headers, erp_source):
    connection = await add_connection(apismith_client, admin_headers, erp_source)

    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        "SELECT part_no, description, unit_cost, rowversion FROM parts WHERE uom = :uom",
        # describe binds the default: SQLite infers its types from the rows it returns
        params=[{"name": "uom", "type": "string", "default": "ST"}],
        business_keys=["part_no"],
        rowversion_column="rowversion",
    )

    # SQLite stores the decimals as text; the others report their exact type
    cost_type = "string" if erp_source.dialect == "sqlite" else "number"
    assert _columns(api) == [
        ("part_no", "string"),
        ("description", "string"),
        ("unit_cost", cost_type),
        ("rowversion", "integer"),
    ]


async def test_an_optional_parameter_needs_a_cast_on_postgresql(
    apismith_client, admin_headers, pg_connection
):
    """As docs/defining-apis.md says: PostgreSQL cannot type ``:p IS NULL`` by itself."""
    optional = "SELECT order_no, status FROM shop_orders WHERE ({} IS NULL OR status = :st)"
    params = [{"name": "st", "type": "string"}]
    keys = {"business_keys": ["order_no"]}

    bare = await apismith_client.post(
        "/api/v1/apis",
        json=_body(pg_connection, sql=optional.format(":st"), params=params, **keys),
        headers=admin_headers,
    )
    cast = await add_api(
        apismith_client,
        admin_headers,
        pg_connection,
        optional.format("CAST(:st AS TEXT)"),
        params=params,
        **keys,
    )
    every = await apismith_client.post(
        f"/api/v1/runtime/{cast['slug']}/execute",
        json={"include_total": True},
        headers=admin_headers,
    )
    some = await apismith_client.post(
        f"/api/v1/runtime/{cast['slug']}/execute",
        json={"params": {"st": "Closed"}, "include_total": True},
        headers=admin_headers,
    )

    assert bare.status_code == 422
    assert "could not determine data type of parameter" in error_message(bare)
    assert every.json()["metadata"]["total_rows"] == 420
    assert 0 < some.json()["metadata"]["total_rows"] < 420
    assert {row["status"] for row in some.json()["data"]} == {"Closed"}


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"sql": "DELETE FROM shop_orders"}, "DELETE"),
        ({"sql": "UPDATE shop_orders SET qty = 0"}, "UPDATE"),
        ({"sql": "SELECT 1 AS one; DROP TABLE shop_orders"}, "only one statement"),
        ({"sql": "SELECT * INTO copy_of_orders FROM shop_orders"}, "INTO"),
        ({"sql": "SELECT order_no FROM shop_orders FOR UPDATE"}, "locking"),
        ({"sql": "SELEKT order_no FROM shop_orders"}, "does not parse"),
        ({"sql": "SELECT order_no, rowversion FROM no_such_table"}, "no_such_table"),
        ({"business_keys": ["order_no", "order_nr"]}, "business key 'order_nr'"),
        ({"business_keys": ["order_no", "order_no"]}, "business key 'order_no' is listed twice"),
        ({"rowversion_column": "changed_at"}, "rowversion column 'changed_at'"),
        ({"rowversion_column": None}, "delta_strategy 'rowversion' needs a rowversion_column"),
        (
            {"sql": f"{ORDERS_SQL} WHERE status = :status"},
            "the SQL uses parameter :status, which is not declared",
        ),
        (
            {"params": [{"name": "status", "type": "string"}]},
            "parameter 'status' is declared but the SQL never uses :status",
        ),
        (
            {
                "sql": f"{ORDERS_SQL} WHERE priority = :p",
                "params": [{"name": "p", "type": "integer", "default": "high"}],
            },
            "default of parameter 'p'",
        ),
        ({"sql": "SELECT order_no, order_no, rowversion FROM shop_orders"}, "more than one column"),
    ],
)
async def test_invalid_definitions_are_refused_with_the_reason(
    apismith_client, admin_headers, pg_connection, erp_postgres, fields, detail
):
    response = await apismith_client.post(
        "/api/v1/apis", json=_body(pg_connection, **fields), headers=admin_headers
    )

    assert response.status_code == 422, response.text
    assert detail in error_message(response)
    assert await erp_postgres.scalar("SELECT count(*) FROM shop_orders") == 420


async def test_unknown_connection_is_422(apismith_client, admin_headers, pg_connection):
    body = _body(pg_connection, connection_uid=str(uuid.uuid4()))

    response = await apismith_client.post("/api/v1/apis", json=body, headers=admin_headers)

    assert response.status_code == 422
    assert "does not exist" in error_message(response)


@pytest.mark.parametrize("slug", ["Orders", "-orders", "orders/open", "", "a" * 101, "ordérs"])
async def test_slug_must_be_lowercase_url_safe(apismith_client, admin_headers, pg_connection, slug):
    response = await apismith_client.post(
        "/api/v1/apis", json=_body(pg_connection, slug=slug), headers=admin_headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "slug"]


async def test_duplicate_slug_is_409_on_create_and_update(
    apismith_client, admin_headers, pg_connection
):
    first = await add_api(apismith_client, admin_headers, pg_connection, ORDERS_SQL, **ORDERS_KEYS)
    second = await add_api(apismith_client, admin_headers, pg_connection, ORDERS_SQL, **ORDERS_KEYS)

    created = await apismith_client.post(
        "/api/v1/apis", json=_body(pg_connection, slug=first["slug"]), headers=admin_headers
    )
    updated = await apismith_client.put(
        f"/api/v1/apis/{second['uid']}",
        json=_body(pg_connection, slug=first["slug"]),
        headers=admin_headers,
    )

    assert created.status_code == 409
    assert updated.status_code == 409
    assert first["slug"] in error_message(updated)


async def test_list_pages_through_apis(apismith_client, admin_headers, pg_connection):
    for _ in range(3):
        await add_api(apismith_client, admin_headers, pg_connection, ORDERS_SQL, **ORDERS_KEYS)

    first = (await apismith_client.get("/api/v1/apis?page_size=2", headers=admin_headers)).json()
    second = (
        await apismith_client.get("/api/v1/apis?page=2&page_size=2", headers=admin_headers)
    ).json()

    assert first["total"] >= 3
    assert (first["page"], first["page_size"], len(first["items"])) == (1, 2, 2)
    assert second["page"] == 2
    slugs = [api["slug"] for api in first["items"] + second["items"]]
    assert slugs == sorted(slugs)
    assert len(set(slugs)) == len(slugs)


async def test_delete_removes_the_api_and_its_versions(
    apismith_client, admin_headers, pg_connection
):
    api = await add_api(apismith_client, admin_headers, pg_connection, ORDERS_SQL, **ORDERS_KEYS)

    deleted = await apismith_client.delete(f"/api/v1/apis/{api['uid']}", headers=admin_headers)

    assert deleted.status_code == 204
    for path in (f"/api/v1/apis/{api['uid']}", f"/api/v1/apis/{api['uid']}/versions"):
        assert (await apismith_client.get(path, headers=admin_headers)).status_code == 404
    by_slug = await apismith_client.get(f"/api/v1/apis/slug/{api['slug']}", headers=admin_headers)
    assert by_slug.status_code == 404
    again = await apismith_client.delete(f"/api/v1/apis/{api['uid']}", headers=admin_headers)
    assert again.status_code == 404


async def test_readers_read_and_admins_write(
    apismith_client, admin_headers, reader_headers, pg_connection
):
    api = await add_api(apismith_client, admin_headers, pg_connection, ORDERS_SQL, **ORDERS_KEYS)
    uid = api["uid"]

    for path in (
        "/api/v1/apis",
        f"/api/v1/apis/{uid}",
        f"/api/v1/apis/slug/{api['slug']}",
        f"/api/v1/apis/{uid}/versions",
    ):
        assert (await apismith_client.get(path, headers=reader_headers)).status_code == 200, path
    created = await apismith_client.post(
        "/api/v1/apis", json=_body(pg_connection), headers=reader_headers
    )
    updated = await apismith_client.put(
        f"/api/v1/apis/{uid}", json=_body(pg_connection), headers=reader_headers
    )
    deleted = await apismith_client.delete(f"/api/v1/apis/{uid}", headers=reader_headers)
    assert [created.status_code, updated.status_code, deleted.status_code] == [403, 403, 403]
    anonymous = await apismith_client.get("/api/v1/apis")
    assert anonymous.status_code == 401
    assert (await apismith_client.get(f"/api/v1/apis/{uid}", headers=admin_headers)).json() == api
