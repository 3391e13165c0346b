"""ERP failures reach the caller as 504 and 502 with a clear detail and no secrets."""

import pytest
from sqlalchemy.engine import make_url

from services.apismith.tests.erp_fixtures import ErpSource, add_api, add_connection

SECRET = "Sup3r-S3cret-pw"


@pytest.fixture(scope="module")
async def slow_function(erp_postgres):
    """``slow_identity(value, seconds)``: an ERP function that takes its time.

    The SQL policy refuses pg_sleep itself in a saved query; a database function that
    sleeps is what a slow ERP view looks like.
    """
    await erp_postgres.rows(
        "CREATE OR REPLACE FUNCTION slow_identity(value integer, seconds float8) "
        "RETURNS integer LANGUAGE plpgsql "
        "AS $$ BEGIN PERFORM pg_sleep(seconds); RETURN value; END $$"
    )


def _with_password(source: ErpSource) -> ErpSource:
    # the test server trusts local connections, so any password gets in
    url = make_url(source.url).set(password=SECRET).render_as_string(hide_password=False)
    return ErpSource(source.dialect, url)


async def _call(client, headers, slug, endpoint):
    return await client.post(f"/api/v1/runtime/{slug}/{endpoint}", json={}, headers=headers)


async def test_statement_timeout_is_504_and_the_connection_stays_usable(
    apismith_client, admin_headers, erp_postgres, slow_function
):
    connection = await add_connection(
        apismith_client, admin_headers, erp_postgres, statement_timeout_ms=200
    )
    slow = await add_api(
        apismith_client,
        admin_headers,
        connection,
        "SELECT order_no, slow_identity(priority, 1) AS priority FROM shop_orders",
        business_keys=["order_no"],
    )
    quick = await add_api(
        apismith_client,
        admin_headers,
        connection,
        "SELECT order_no FROM shop_orders",
        business_keys=["order_no"],
    )

    for endpoint in ("execute", "stream"):
        response = await _call(apismith_client, admin_headers, slow["slug"], endpoint)
        assert response.status_code == 504, response.text
        assert response.json() == {"detail": "the statement ran past 200 ms and was cancelled"}
    after = await _call(apismith_client, admin_headers, quick["slug"], "execute")

    assert after.status_code == 200
    assert len(after.json()["data"]) == 100


async def test_unreachable_erp_is_502_without_the_password(
    apismith_client, admin_headers, erp_postgres
):
    source = _with_password(erp_postgres)
    connection = await add_connection(apismith_client, admin_headers, source)
    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        "SELECT order_no FROM shop_orders",
        business_keys=["order_no"],
    )
    # the ERP moves away (nothing listens on port 1)
    gone = make_url(source.url).set(host="127.0.0.1", port=1, query={})
    moved = await apismith_client.put(
        f"/api/v1/connections/{connection['uid']}",
        json={
            "name": connection["name"],
            "dialect": "postgresql",
            "url": gone.render_as_string(hide_password=False),
        },
        headers=admin_headers,
    )
    assert moved.status_code == 200, moved.text

    for endpoint in ("execute", "stream"):
        response = await _call(apismith_client, admin_headers, api["slug"], endpoint)
        assert response.status_code == 502, response.text
        detail = response.json()["detail"]
        assert detail.startswith(f"cannot reach PostgreSQL at 127.0.0.1:1/{gone.database}")
        assert SECRET not in response.text
    audit = await apismith_client.get(
        f"/api/v1/executions?slug={api['slug']}", headers=admin_headers
    )
    assert [item["status"] for item in audit.json()["items"]] == ["error", "error"]
    assert SECRET not in audit.text


async def test_a_query_the_erp_no_longer_accepts_is_502(
    apismith_client, admin_headers, erp_postgres
):
    await erp_postgres.rows("CREATE TABLE IF NOT EXISTS short_lived (id integer, name text)")
    connection = await add_connection(apismith_client, admin_headers, erp_postgres)
    dropped = await add_api(
        apismith_client,
        admin_headers,
        connection,
        "SELECT id, name FROM short_lived",
        business_keys=["id"],
    )
    await erp_postgres.rows("DROP TABLE short_lived")

    response = await _call(apismith_client, admin_headers, dropped["slug"], "execute")

    assert response.status_code == 502
    assert 'relation "short_lived" does not exist' in response.json()["detail"]


async def test_columns_that_changed_since_the_save_are_502_asking_for_a_save(
    apismith_client, admin_headers, erp_postgres
):
    await erp_postgres.rows("CREATE TABLE IF NOT EXISTS growing (id integer PRIMARY KEY)")
    await erp_postgres.rows("INSERT INTO growing VALUES (1) ON CONFLICT DO NOTHING")
    connection = await add_connection(apismith_client, admin_headers, erp_postgres)
    api = await add_api(
        apismith_client, admin_headers, connection, "SELECT * FROM growing", business_keys=["id"]
    )
    await erp_postgres.rows("ALTER TABLE growing ADD COLUMN note text")
    try:
        response = await _call(apismith_client, admin_headers, api["slug"], "execute")
    finally:
        await erp_postgres.rows("ALTER TABLE growing DROP COLUMN note")

    assert response.status_code == 502
    assert "save the API again" in response.json()["detail"]
