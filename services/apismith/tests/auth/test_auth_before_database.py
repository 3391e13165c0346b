"""Callers are authenticated before a database connection is taken.

With the database unreachable, a missing, forged or wrong-role token still gets
its 401/403: no connection was needed to refuse it. This holds for every route in
the OpenAPI schema, whoever wrote it.
"""

import re
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from apismith.main import build_app
from bridge_core.testing.asgi import app_client

# the only routes open to anonymous callers (the contract: health, metadata, login, refresh)
OPEN_ROUTES = {
    "/api/v1/health",
    "/api/v1/health/db",
    "/api/v1/metadata",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
}


def _forged(typ):
    now = datetime.now(UTC)
    claims = {
        "sub": str(uuid.uuid4()),
        "name": "mallory",
        "role": "admin",
        "typ": typ,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    if typ != "service":
        claims["exp"] = now + timedelta(minutes=5)
    return jwt.encode(claims, "an-attacker-key-that-is-long-enough-32", algorithm="HS256")


@pytest.fixture
async def client_without_database(apismith_settings):
    app = build_app(apismith_settings)
    async with app_client(app) as client:
        await app.state.database.engine.dispose()
        app.state.database.engine = create_async_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        )
        yield client


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/auth/tokens", "/api/v1/auth/me"])
@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "missing bearer token"),
        ("Basic dXNlcjpwYXNz", "malformed authorization header: expected 'Bearer <token>'"),
        ("Bearer garbage", "invalid token"),
        (f"Bearer {_forged('access')}", "invalid token"),
        (f"Bearer {_forged('service')}", "invalid token"),
    ],
    ids=["missing", "malformed", "garbage", "forged-access", "forged-service"],
)
async def test_bad_token_is_401_while_database_is_down(
    client_without_database, path, authorization, detail
):
    headers = {"Authorization": authorization} if authorization else {}

    response = await client_without_database.get(path, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    database = await client_without_database.get("/api/v1/health/db")
    assert database.status_code == 503


async def test_reader_is_403_on_admin_endpoint_while_database_is_down(
    client_without_database, reader_headers
):
    response = await client_without_database.get("/api/v1/users", headers=reader_headers)

    assert response.status_code == 403
    assert response.json() == {"detail": "admin role required"}


async def test_every_protected_route_refuses_anonymous_callers_while_database_is_down(
    client_without_database,
):
    # any route that opened its transaction before authenticating would fail here with a
    # connection error instead of answering 401 (put Reader/Admin before Connection)
    paths = (await client_without_database.get("/api/v1/openapi.json")).json()["paths"]
    assert "/api/v1/users" in paths
    forged = {"Authorization": f"Bearer {_forged('service')}"}

    for path, operations in paths.items():
        if path in OPEN_ROUTES:
            continue
        url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
        for method in operations:
            for headers in ({}, forged):
                response = await client_without_database.request(method, url, headers=headers)
                assert response.status_code == 401, f"{method.upper()} {path}"
