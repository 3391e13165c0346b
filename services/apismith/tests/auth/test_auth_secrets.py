"""No password or token reaches a response it does not belong to, or any log line."""

import uuid

import pytest
from loguru import logger


@pytest.fixture
def log_lines():
    lines = []
    sink = logger.add(lines.append, level="DEBUG", format="{message} | {extra}")
    yield lines
    logger.remove(sink)


async def test_auth_flows_keep_secrets_out_of_responses_and_logs(
    apismith_client, admin_headers, log_lines
):
    username = f"alice-{uuid.uuid4().hex[:8]}"
    password = f"pw-{uuid.uuid4().hex}"
    responses = []

    async def call(method, path, **kwargs):
        response = await apismith_client.request(method, path, **kwargs)
        responses.append(response)
        return response

    await call(
        "POST",
        "/api/v1/users",
        json={"username": username, "password": password, "role": "admin"},
        headers=admin_headers,
    )
    await call("POST", "/api/v1/auth/login", json={"username": username, "password": "wrong-pw-1"})
    await call("POST", "/api/v1/auth/login", json={"username": "ghost", "password": password})
    tokens = (
        await apismith_client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
    ).json()
    await call("POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    created = (
        await apismith_client.post(
            "/api/v1/auth/tokens", json={"name": "erp-sync", "role": "reader"}, headers=bearer
        )
    ).json()
    service_bearer = {"Authorization": f"Bearer {created['token']}"}
    await call("GET", "/api/v1/auth/me", headers=service_bearer)
    await call("GET", "/api/v1/auth/tokens", headers=bearer)
    await call("GET", "/api/v1/users", headers=bearer)
    await call("DELETE", f"/api/v1/auth/tokens/{created['uid']}", headers=bearer)
    await call("GET", "/api/v1/auth/me", headers=service_bearer)

    assert [r.status_code for r in responses] == [201, 401, 401, 200, 200, 200, 200, 204, 401]
    secrets = [password, "wrong-pw-1", tokens["refresh_token"], created["token"]]
    for response in responses:
        for secret in secrets:
            assert secret not in response.text, response.request.url
    logged = "\n".join(log_lines)
    assert f"user {username} created" in logged
    assert f"service token {created['uid']} revoked" in logged
    for secret in [*secrets, tokens["access_token"]]:
        assert secret not in logged
