"""Health, metadata, metrics and docs answer; migrations match the tables."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from apismith.main import build_app
from apismith.tables import metadata
from bridge_core.testing.asgi import app_client


async def test_health_names_the_service(apismith_client):
    response = await apismith_client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": "apismith",
        "version": "0.1.0",
        "environment": "test",
    }


async def test_health_db_reports_latency(apismith_client):
    response = await apismith_client.get("/api/v1/health/db")
    assert response.status_code == 200
    assert response.json()["latency_ms"] >= 0


async def test_health_db_is_503_when_database_goes_away(apismith_settings):
    app = build_app(apismith_settings)
    async with app_client(app) as client:
        await app.state.database.engine.dispose()
        app.state.database.engine = create_async_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        )
        response = await client.get("/api/v1/health/db")
    assert response.status_code == 503
    assert "database unreachable" in response.json()["detail"]


async def test_metadata_has_no_secrets(apismith_client, apismith_settings):
    response = await apismith_client.get("/api/v1/metadata")
    assert response.status_code == 200
    body = response.text
    assert response.json()["service"] == "apismith"
    assert apismith_settings.secret_key.get_secret_value() not in body
    assert apismith_settings.encryption_key.get_secret_value() not in body


async def test_metrics_and_docs_are_served(apismith_client):
    await apismith_client.get("/api/v1/health")
    metrics = await apismith_client.get("/metrics")
    assert metrics.status_code == 200
    assert 'bridge_http_requests_total{method="GET",route="/api/v1/health"' in metrics.text
    assert (await apismith_client.get("/api/v1/docs")).status_code == 200
    assert (await apismith_client.get("/api/v1/openapi.json")).json()["info"]["title"] == "apismith"


async def test_migrations_match_tables(apismith_client, apismith_database_url):
    engine = create_async_engine(apismith_database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    await engine.dispose()
    assert diff == []
