"""The detailed health check answers 503 when SyncFlow's own database is unreachable."""

from sqlalchemy.ext.asyncio import create_async_engine

from bridge_core.testing.asgi import app_client
from syncflow.main import build_app


async def test_unreachable_database_is_503(syncflow_settings, admin_headers):
    app = build_app(syncflow_settings, run_worker=False)
    async with app_client(app, **admin_headers) as client:
        await app.state.database.engine.dispose()
        app.state.database.engine = create_async_engine(
            "postgresql+asyncpg://nobody@127.0.0.1:1/none"
        )
        response = await client.get("/api/v1/monitoring/health/detailed")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == {
        "ok": False,
        "latency_ms": None,
        "detail": "unreachable: ConnectionRefusedError",
    }
    assert body["apismith"] == []
