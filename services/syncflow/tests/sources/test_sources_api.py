"""The sources API: register APISmith instances, test them, discover their APIs."""

import asyncpg
import pytest

from bridge_core.db.engine import asyncpg_dsn, to_async_url
from bridge_core.testing.errors import error_message


async def test_create_returns_the_source_without_its_token(
    syncflow_client, operator_headers, fake_apismith, log_lines
):
    response = await syncflow_client.post(
        "/api/v1/sources",
        json={"name": "ifs-prod", "base_url": fake_apismith.url + "/", "token": "tok-secret-1"},
        headers=operator_headers,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "ifs-prod"
    assert body["base_url"] == fake_apismith.url
    assert body["has_token"] is True
    assert "token" not in body
    listed = await syncflow_client.get("/api/v1/sources", headers=operator_headers)
    fetched = await syncflow_client.get(f"/api/v1/sources/{body['uid']}", headers=operator_headers)
    assert fetched.json() == body
    assert body in listed.json()
    for text in (response.text, listed.text, fetched.text, *log_lines):
        assert "tok-secret-1" not in text


async def test_token_is_encrypted_at_rest(syncflow_client, operator_headers, syncflow_settings):
    await syncflow_client.post(
        "/api/v1/sources",
        json={"name": "at-rest", "base_url": "http://erp.example:8007", "token": "tok-plain-2"},
        headers=operator_headers,
    )
    conn = await asyncpg.connect(**asyncpg_dsn(to_async_url(syncflow_settings.database_url)))
    try:
        stored = await conn.fetchval("SELECT token_encrypted FROM sources WHERE name = 'at-rest'")
    finally:
        await conn.close()
    assert b"tok-plain-2" not in stored


async def test_a_name_is_unique(create_source):
    await create_source("twice")
    with pytest.raises(AssertionError, match="409"):
        await create_source("twice")


@pytest.mark.parametrize(
    ("base_url", "detail"),
    [
        ("ftp://erp:8007", "http(s) URL"),
        ("http://user:pw@erp:8007", "must not carry credentials"),
        ("http://erp:8007/api/v1", "without /api/v1"),
        ("http://erp:8007/?x=1", "query"),
    ],
)
async def test_a_bad_base_url_is_422(syncflow_client, operator_headers, base_url, detail):
    response = await syncflow_client.post(
        "/api/v1/sources",
        json={"name": "bad-url", "base_url": base_url, "token": "t"},
        headers=operator_headers,
    )
    assert response.status_code == 422
    assert detail in error_message(response)
    assert "pw" not in response.text


async def test_an_invalid_body_does_not_echo_the_token(syncflow_client, operator_headers):
    response = await syncflow_client.post(
        "/api/v1/sources",
        json={"base_url": "http://erp:8007", "token": "tok-echo-3"},
        headers=operator_headers,
    )
    assert response.status_code == 422
    assert "tok-echo-3" not in response.text


async def test_test_reports_latency_version_and_principal(
    syncflow_client, operator_headers, create_source
):
    source = await create_source()
    response = await syncflow_client.post(
        f"/api/v1/sources/{source['uid']}/test", headers=operator_headers
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["latency_ms"] >= 0
    assert body["apismith_version"] == "9.8.7"
    assert body["principal"]["name"] == "syncflow"
    assert body["principal"]["role"] == "reader"


async def test_a_refused_token_is_a_502_that_says_so(
    syncflow_client, operator_headers, fake_apismith, log_lines
):
    created = await syncflow_client.post(
        "/api/v1/sources",
        json={"name": "refused", "base_url": fake_apismith.url, "token": "tok-wrong-4"},
        headers=operator_headers,
    )
    response = await syncflow_client.post(
        f"/api/v1/sources/{created.json()['uid']}/test", headers=operator_headers
    )
    assert response.status_code == 502
    assert "refused the source's token" in error_message(response)
    assert all("tok-wrong-4" not in line for line in [response.text, *log_lines])


async def test_an_unreachable_apismith_is_a_502(syncflow_client, operator_headers):
    created = await syncflow_client.post(
        "/api/v1/sources",
        json={"name": "down", "base_url": "http://127.0.0.1:1", "token": "t"},
        headers=operator_headers,
    )
    response = await syncflow_client.post(
        f"/api/v1/sources/{created.json()['uid']}/test", headers=operator_headers
    )
    assert response.status_code == 502
    assert "ConnectError" in error_message(response)
    assert "127.0.0.1:1" in error_message(response)


async def test_rotating_the_token_makes_a_refused_source_work(
    syncflow_client, operator_headers, fake_apismith
):
    created = await syncflow_client.post(
        "/api/v1/sources",
        json={"name": "rotated", "base_url": fake_apismith.url, "token": "old-token"},
        headers=operator_headers,
    )
    uid = created.json()["uid"]
    updated = await syncflow_client.put(
        f"/api/v1/sources/{uid}", json={"token": fake_apismith.token}, headers=operator_headers
    )
    assert updated.status_code == 200
    assert updated.json()["base_url"] == fake_apismith.url
    test = await syncflow_client.post(f"/api/v1/sources/{uid}/test", headers=operator_headers)
    assert test.status_code == 200


async def test_discover_lists_apis_with_their_metadata(
    syncflow_client, operator_headers, fake_apismith, create_source
):
    fake_apismith.add_api(
        "customers",
        [("customer_no", "string"), ("name", "string"), ("rv", "integer")],
        business_keys=["customer_no"],
        rowversion_column="rv",
    )
    fake_apismith.add_api("prices", [("part_no", "string"), ("price", "number")])
    source = await create_source()
    response = await syncflow_client.post(
        f"/api/v1/sources/{source['uid']}/discover", headers=operator_headers
    )
    assert response.status_code == 200
    apis = {api["slug"]: api for api in response.json()}
    assert set(apis) == {"customers", "prices"}
    customers = apis["customers"]
    assert customers["columns"] == [
        {"name": "customer_no", "data_type": "string", "nullable": True},
        {"name": "name", "data_type": "string", "nullable": True},
        {"name": "rv", "data_type": "integer", "nullable": True},
    ]
    assert customers["business_keys"] == ["customer_no"]
    assert customers["rowversion_column"] == "rv"
    assert customers["delta_strategy"] == "rowversion"
    assert customers["version"] == 1
    assert apis["prices"]["delta_strategy"] == "hash"


async def test_discover_through_a_refused_token_is_502(
    syncflow_client, operator_headers, fake_apismith, create_source
):
    source = await create_source()
    fake_apismith.token = "rotated-on-the-apismith-side"
    response = await syncflow_client.post(
        f"/api/v1/sources/{source['uid']}/discover", headers=operator_headers
    )
    assert response.status_code == 502


async def test_delete_and_unknown_source(syncflow_client, operator_headers, create_source):
    source = await create_source()
    path = f"/api/v1/sources/{source['uid']}"
    assert (await syncflow_client.delete(path, headers=operator_headers)).status_code == 204
    assert (await syncflow_client.get(path, headers=operator_headers)).status_code == 404
    assert (await syncflow_client.delete(path, headers=operator_headers)).status_code == 404
    test = await syncflow_client.post(f"{path}/test", headers=operator_headers)
    assert test.status_code == 404


async def test_client_for_finds_a_source_by_name_or_uid(
    syncflow_settings, syncflow_client, create_source, fake_apismith
):
    from bridge_core.db.engine import create_engine
    from bridge_core.db.transaction import Database
    from bridge_core.errors import NotFound
    from syncflow.sources.service import client_for

    source = await create_source("by-name")
    engine = create_engine(to_async_url(syncflow_settings.database_url), pool_size=1)
    try:
        async with Database(engine).transaction() as conn:
            for key in (source["name"], source["uid"]):
                async with await client_for(conn, syncflow_settings, key) as client:
                    assert (await client.whoami())["role"] == "reader"
            with pytest.raises(NotFound):
                await client_for(conn, syncflow_settings, "no-such-source")
    finally:
        await engine.dispose()
