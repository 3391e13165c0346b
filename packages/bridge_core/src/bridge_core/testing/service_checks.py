"""The checks every service's own tests run the same way: health, metadata without
secrets, metrics and docs, the database health turning 503, migrations matching the
tables. Each service's ``test_health.py`` calls them with its own app and names."""

from typing import Any

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from bridge_core.testing.asgi import app_client


async def health_names_the_service(client: httpx.AsyncClient, service: str) -> None:
    response = await client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": service,
        "version": "0.1.0",
        "environment": "test",
    }


async def health_db_reports_latency(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/health/db")
    assert response.status_code == 200
    assert response.json()["latency_ms"] >= 0


async def health_db_is_503_when_database_goes_away(app: FastAPI) -> None:
    async with app_client(app) as client:
        await app.state.database.engine.dispose()
        app.state.database.engine = create_async_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        )
        response = await client.get("/api/v1/health/db")
    assert response.status_code == 503
    assert "database unreachable" in response.json()["detail"]


async def metadata_has_no_secrets(client: httpx.AsyncClient, settings: Any, service: str) -> None:
    response = await client.get("/api/v1/metadata")
    assert response.status_code == 200
    body = response.text
    assert response.json()["service"] == service
    assert settings.secret_key.get_secret_value() not in body
    assert settings.encryption_key.get_secret_value() not in body


async def metrics_and_docs_are_served(client: httpx.AsyncClient, service: str) -> None:
    await client.get("/api/v1/health")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'bridge_http_requests_total{method="GET",route="/api/v1/health"' in metrics.text
    assert (await client.get("/api/v1/docs")).status_code == 200
    assert (await client.get("/api/v1/openapi.json")).json()["info"]["title"] == service


async def migrations_match_tables(database_url: str, metadata: MetaData) -> None:
    engine = create_async_engine(database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    await engine.dispose()
    assert diff == []
