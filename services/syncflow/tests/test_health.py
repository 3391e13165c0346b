"""Health, metadata, metrics and docs answer; migrations match the tables."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from bridge_core.testing.asgi import app_client
from syncflow.main import build_app
from syncflow.tables import metadata


async def test_health_names_the_service(syncflow_client):
    response = await syncflow_client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "service": "syncflow",
        "version": "0.1.0",
        "environment": "test",
    }


async def test_health_db_reports_latency(syncflow_client):
    response = await syncflow_client.get("/api/v1/health/db")
    assert response.status_code == 200
    assert response.json()["latency_ms"] >= 0


async def test_health_db_is_503_when_database_goes_away(syncflow_settings):
    app = build_app(syncflow_settings)
    async with app_client(app) as client:
        await app.state.database.engine.dispose()
        app.state.database.engine = create_async_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        )
        response = await client.get("/api/v1/health/db")
    assert response.status_code == 503
    assert "database unreachable" in response.json()["detail"]


async def test_metadata_has_no_secrets(syncflow_client, syncflow_settings):
    response = await syncflow_client.get("/api/v1/metadata")
    assert response.status_code == 200
    body = response.text
    assert response.json()["service"] == "syncflow"
    assert syncflow_settings.secret_key.get_secret_value() not in body
    assert syncflow_settings.encryption_key.get_secret_value() not in body


async def test_metrics_and_docs_are_served(syncflow_client):
    await syncflow_client.get("/api/v1/health")
    metrics = await syncflow_client.get("/metrics")
    assert metrics.status_code == 200
    assert 'bridge_http_requests_total{method="GET",route="/api/v1/health"' in metrics.text
    assert (await syncflow_client.get("/api/v1/docs")).status_code == 200
    assert (await syncflow_client.get("/api/v1/openapi.json")).json()["info"]["title"] == "syncflow"


async def test_migrations_match_tables(syncflow_client, syncflow_database_url):
    engine = create_async_engine(syncflow_database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    await engine.dispose()
    assert diff == []
