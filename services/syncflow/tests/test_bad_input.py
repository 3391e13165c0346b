"""Input a fuzzer (or a typo) sends: every one a 4xx that names the problem, never a 500,
and never an echo of more than a bounded piece of what was sent."""

import pytest

from bridge_core.testing.errors import error_message


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/sync/history?page=1152921504606846977",
        "/api/v1/schedules?page=1152921504606846977",
        "/api/v1/monitoring/pending-children?page=1152921504606846977",
        "/api/v1/monitoring/failed-records?page=1152921504606846977",
        "/api/v1/monitoring/failed-records?page_size=100000",
    ],
)
async def test_absurd_pages_are_422_naming_the_parameter(syncflow_client, operator_headers, path):
    response = await syncflow_client.get(path, headers=operator_headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "query"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/monitoring/failed-records?entity=%00", None),
        ("GET", "/api/v1/entities/a%00b", None),
        ("POST", "/api/v1/sync/start", {"entity": "parts\u0000"}),
        ("POST", "/api/v1/tokens", '{"name": "ops\\ud800"}'),
        ("POST", "/api/v1/entities", {"name": "x", "source": "s\u0000", "api_slug": "a"}),
    ],
)
async def test_nul_and_lone_surrogates_are_422(
    syncflow_client, operator_headers, method, path, body
):
    # a lone surrogate cannot be encoded by a client: it travels as a JSON escape
    content = body if isinstance(body, str) else None
    response = await syncflow_client.request(
        method,
        path,
        json=None if content else body,
        content=content,
        headers={**operator_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert "NUL" in error_message(response)


async def test_unknown_keys_are_refused_by_name(syncflow_client, operator_headers):
    response = await syncflow_client.post(
        "/api/v1/tokens", json={"name": "ops", "roel": "admin"}, headers=operator_headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "roel"]


async def test_a_body_over_the_limit_is_413_before_it_is_read(syncflow_client, operator_headers):
    huge = {"entity": "x" * (2 * 1024 * 1024)}
    response = await syncflow_client.post("/api/v1/sync/start", json=huge, headers=operator_headers)
    assert response.status_code == 413, response.text[:200]
    assert len(response.content) < 1000


async def test_a_long_name_is_not_echoed_whole(syncflow_client, operator_headers):
    response = await syncflow_client.post(
        "/api/v1/sync/start", json={"entity": "x" * 100_000}, headers=operator_headers
    )
    assert 400 <= response.status_code < 500, response.text[:200]
    assert len(response.content) < 2000


async def test_a_source_token_that_cannot_travel_in_a_header_is_422(
    syncflow_client, operator_headers
):
    response = await syncflow_client.post(
        "/api/v1/sources",
        json={"name": "erp2", "base_url": "http://127.0.0.1:9", "token": "tökén"},
        headers=operator_headers,
    )
    assert response.status_code == 422, response.text
    assert "visible ASCII" in error_message(response)
    assert "tökén" not in response.text


async def test_an_interval_of_25_digits_is_422(syncflow_client, operator_headers):
    response = await syncflow_client.post(
        "/api/v1/schedules",
        json={"entity": "parts", "interval_seconds": 10**25},
        headers=operator_headers,
    )
    assert response.status_code == 422, response.text


async def test_every_operation_documents_its_errors_in_one_shape(syncflow_client):
    spec = (await syncflow_client.get("/api/v1/openapi.json")).json()
    start = spec["paths"]["/api/v1/sync/start"]["post"]["responses"]
    assert {"401", "403", "409", "413", "422", "429"} <= set(start)
    status = spec["paths"]["/api/v1/sync/status/{batch_uid}"]["get"]["responses"]
    assert "404" in status
    assert spec["components"]["schemas"]["InvalidRequest"]["properties"]["detail"]["type"] == (
        "array"
    )
