"""The execution audit: every runtime call is recorded, failures included, and counted."""

import re

import pytest

from services.apismith.tests.erp_fixtures import add_api, add_connection

ORDERS_SQL = "SELECT order_no, status, priority, rowversion FROM shop_orders"


@pytest.fixture
async def orders_api(apismith_client, admin_headers, erp_postgres):
    connection = await add_connection(apismith_client, admin_headers, erp_postgres)
    return await add_api(
        apismith_client,
        admin_headers,
        connection,
        ORDERS_SQL,
        business_keys=["order_no"],
        rowversion_column="rowversion",
    )


async def _run(client, headers, slug, endpoint, **body):
    return await client.post(f"/api/v1/runtime/{slug}/{endpoint}", json=body, headers=headers)


async def _audit(client, headers, **query):
    response = await client.get("/api/v1/executions", params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_call_is_recorded_with_its_outcome(
    apismith_client, admin_headers, create_apismith_user, orders_api
):
    reader = await create_apismith_user("reader")
    slug = orders_api["slug"]

    executed = await _run(apismith_client, reader.headers, slug, "execute", page_size=5)
    streamed = await _run(
        apismith_client,
        reader.headers,
        slug,
        "stream",
        filters=[{"field": "status", "operator": "eq", "value": "Closed"}],
    )
    refused = await _run(
        apismith_client,
        reader.headers,
        slug,
        "execute",
        filters=[{"field": "colour", "operator": "eq", "value": "red"}],
    )
    unknown_param = await _run(apismith_client, reader.headers, slug, "stream", params={"x": 1})

    assert [executed.status_code, streamed.status_code, refused.status_code] == [200, 200, 400]
    assert unknown_param.status_code == 400
    audit = await _audit(apismith_client, admin_headers, slug=slug)
    assert audit["total"] == 4
    items = audit["items"]
    assert [(i["kind"], i["status"], i["row_count"]) for i in items] == [
        ("stream", "error", 0),
        ("execute", "error", 0),
        ("stream", "ok", 84),
        ("execute", "ok", 5),
    ]
    assert items[0]["error"] == "unknown parameter 'x'"
    assert items[1]["error"] == "unknown filter field 'colour'"
    for item in items:
        assert item["principal"] == reader.username
        assert item["principal_kind"] == "user"
        assert item["api_uid"] == orders_api["uid"]
        assert item["api_version"] == 1
        assert item["duration_ms"] >= 0
    assert [i["created_at"] for i in items] == sorted(
        (i["created_at"] for i in items), reverse=True
    )


async def test_unknown_apis_and_service_tokens_are_audited(
    apismith_client, admin_headers, orders_api
):
    created = await apismith_client.post(
        "/api/v1/auth/tokens",
        json={"name": "syncflow-audit", "role": "reader"},
        headers=admin_headers,
    )
    token = {"Authorization": f"Bearer {created.json()['token']}"}

    ok = await _run(apismith_client, token, orders_api["slug"], "execute", page_size=2)
    missing = await _run(apismith_client, token, "no-such-api", "execute")
    overlong = await _run(apismith_client, token, "x" * 300, "stream")

    assert (ok.status_code, missing.status_code, overlong.status_code) == (200, 404, 404)
    [call] = (await _audit(apismith_client, admin_headers, slug=orders_api["slug"]))["items"]
    assert (call["principal"], call["principal_kind"], call["row_count"]) == (
        "syncflow-audit",
        "token",
        2,
    )
    unknown = (await _audit(apismith_client, admin_headers, slug="no-such-api"))["items"][0]
    assert (unknown["status"], unknown["api_uid"], unknown["api_version"]) == ("error", None, None)
    assert unknown["error"] == "api not found or inactive"
    # a path longer than any slug is still audited, under its first 150 characters
    [cut] = (await _audit(apismith_client, admin_headers, slug="x" * 150))["items"]
    assert (cut["kind"], cut["status"], cut["principal"]) == ("stream", "error", "syncflow-audit")


async def test_audit_outlives_the_api_and_pages_newest_first(
    apismith_client, admin_headers, orders_api
):
    slug = orders_api["slug"]
    for size in (1, 2, 3):
        await _run(apismith_client, admin_headers, slug, "execute", page_size=size)
    await apismith_client.delete(f"/api/v1/apis/{orders_api['uid']}", headers=admin_headers)

    first = await _audit(apismith_client, admin_headers, slug=slug, page_size=2)
    second = await _audit(apismith_client, admin_headers, slug=slug, page=2, page_size=2)

    assert (first["total"], first["page"], first["page_size"]) == (3, 1, 2)
    assert [i["row_count"] for i in first["items"] + second["items"]] == [3, 2, 1]
    everything = await _audit(apismith_client, admin_headers)
    assert everything["total"] >= 3


async def test_only_admins_read_the_audit(apismith_client, reader_headers):
    assert (
        await apismith_client.get("/api/v1/executions", headers=reader_headers)
    ).status_code == 403
    assert (await apismith_client.get("/api/v1/executions")).status_code == 401


def _sample(metrics: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent)."""
    for line in metrics.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and dict(re.findall(r'(\w+)="([^"]*)"', match.group(1))) == labels:
            return float(match.group(2))
    return 0.0


async def test_calls_are_counted_in_prometheus_metrics(apismith_client, admin_headers, orders_api):
    slug = orders_api["slug"]

    await _run(apismith_client, admin_headers, slug, "execute", page_size=4)
    await _run(apismith_client, admin_headers, slug, "stream")
    await _run(apismith_client, admin_headers, slug, "execute", sort=[{"field": "nope"}])
    await _run(apismith_client, admin_headers, "missing-api-for-metrics", "execute")

    metrics = (await apismith_client.get("/metrics")).text
    counts = {
        (kind, status): _sample(
            metrics, "apismith_executions_total", slug=slug, kind=kind, status=status
        )
        for kind, status in (("execute", "ok"), ("stream", "ok"), ("execute", "error"))
    }
    assert counts == {("execute", "ok"): 1, ("stream", "ok"): 1, ("execute", "error"): 1}
    assert _sample(metrics, "apismith_rows_total", slug=slug, kind="execute") == 4
    assert _sample(metrics, "apismith_rows_total", slug=slug, kind="stream") == 420
    assert (
        _sample(metrics, "apismith_execution_duration_seconds_count", slug=slug, kind="stream") == 1
    )
    # unknown slugs share one label value, so callers cannot grow the series without bound
    assert "missing-api-for-metrics" not in metrics
    assert (
        _sample(
            metrics, "apismith_executions_total", slug="unknown", kind="execute", status="error"
        )
        >= 1
    )
