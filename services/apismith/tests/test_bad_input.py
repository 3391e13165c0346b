"""Input a fuzzer (or a typo) sends to APISmith: a 4xx naming the problem, never a 500."""

import pytest

from bridge_core.testing.errors import error_message


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/apis?page=1152921504606846977",
        "/api/v1/executions?page=1152921504606846977",
        "/api/v1/executions?page_size=0",
    ],
)
async def test_absurd_pages_are_422(apismith_client, admin_headers, path):
    response = await apismith_client.get(path, headers=admin_headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"][0] == "query"


async def test_unknown_keys_in_a_token_request_are_refused_by_name(apismith_client, admin_headers):
    response = await apismith_client.post(
        "/api/v1/auth/tokens",
        json={"name": "sync", "role": "reader", "expires": "never"},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "expires"]


async def test_a_huge_login_body_is_413_without_reading_it(apismith_client):
    response = await apismith_client.post(
        "/api/v1/auth/login",
        content=b'{"username": "' + b"a" * (5 * 1024 * 1024) + b'", "password": "x"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert "bytes" in response.json()["detail"]


async def test_nul_in_a_token_name_is_422(apismith_client, admin_headers):
    response = await apismith_client.post(
        "/api/v1/auth/tokens", json={"name": "a\u0000b", "role": "reader"}, headers=admin_headers
    )
    assert response.status_code == 422, response.text
    assert "NUL" in error_message(response)


async def test_a_domain_422_has_the_same_shape_as_a_validation_422(apismith_client, admin_headers):
    response = await apismith_client.post(
        "/api/v1/users",
        json={"username": "shorty", "password": "short", "role": "reader"},
        headers=admin_headers,
    )
    assert response.status_code == 422, response.text
    problem = response.json()["detail"][0]
    assert set(problem) == {"loc", "msg", "type"}
