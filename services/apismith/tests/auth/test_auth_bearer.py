"""Bearer authentication: which tokens are refused with 401, and when a role gives 403."""

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

ME = "/api/v1/auth/me"


def _claims(**overrides):
    now = datetime.now(UTC)
    claims = {
        "sub": str(uuid.uuid4()),
        "name": "mallory",
        "role": "admin",
        "typ": "access",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "jti": str(uuid.uuid4()),
    }
    claims.update(overrides)
    return claims


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _assert_challenge(response, detail):
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_missing_header_is_401_with_bearer_challenge(apismith_client):
    _assert_challenge(await apismith_client.get(ME), "missing bearer token")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "token-without-scheme"])
async def test_malformed_header_is_401(apismith_client, header):
    response = await apismith_client.get(ME, headers={"Authorization": header})
    _assert_challenge(response, "malformed authorization header: expected 'Bearer <token>'")


async def test_expired_token_is_401_token_expired(apismith_client, apismith_settings):
    past = datetime.now(UTC) - timedelta(minutes=10)
    token = jwt.encode(
        _claims(iat=past - timedelta(minutes=30), exp=past),
        apismith_settings.secret_key.get_secret_value(),
        algorithm="HS256",
    )
    _assert_challenge(await apismith_client.get(ME, headers=_bearer(token)), "token expired")


async def test_token_signed_with_another_key_is_401(apismith_client):
    token = jwt.encode(_claims(), "some-other-key-of-a-decent-length-32b", algorithm="HS256")
    _assert_challenge(await apismith_client.get(ME, headers=_bearer(token)), "invalid token")


async def test_unsigned_alg_none_token_is_401(apismith_client):
    token = jwt.encode(_claims(), None, algorithm="none")
    _assert_challenge(await apismith_client.get(ME, headers=_bearer(token)), "invalid token")


async def test_token_signed_with_other_hmac_algorithm_is_401(apismith_client, apismith_settings):
    token = jwt.encode(
        _claims(), apismith_settings.secret_key.get_secret_value() * 2, algorithm="HS512"
    )
    _assert_challenge(await apismith_client.get(ME, headers=_bearer(token)), "invalid token")


async def test_garbage_token_is_401(apismith_client):
    _assert_challenge(await apismith_client.get(ME, headers=_bearer("garbage")), "invalid token")


async def test_refresh_token_is_not_a_bearer_token(apismith_client, create_apismith_user):
    user = await create_apismith_user("reader")
    tokens = (
        await apismith_client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": user.password}
        )
    ).json()

    response = await apismith_client.get(ME, headers=_bearer(tokens["refresh_token"]))

    _assert_challenge(response, "a refresh token is not a bearer token: use it at /auth/refresh")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        (
            "POST",
            "/api/v1/users",
            {"username": "x-reader", "password": "12345678", "role": "admin"},
        ),
        ("GET", "/api/v1/users", None),
        ("POST", "/api/v1/auth/tokens", {"name": "escalate", "role": "admin"}),
        ("GET", "/api/v1/auth/tokens", None),
        ("DELETE", f"/api/v1/auth/tokens/{uuid.uuid4()}", None),
    ],
)
async def test_reader_gets_403_on_admin_endpoints(
    apismith_client, reader_headers, method, path, body
):
    response = await apismith_client.request(method, path, json=body, headers=reader_headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "admin role required"}


async def test_reader_can_call_reader_endpoints(apismith_client, reader_headers):
    response = await apismith_client.get(ME, headers=reader_headers)
    assert response.status_code == 200
    assert response.json()["role"] == "reader"
