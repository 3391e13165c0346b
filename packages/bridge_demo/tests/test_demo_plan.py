"""The demo's databases: its own three, recreated on every run; nothing else is touched."""

import uuid

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bridge_core.db.engine import asyncpg_dsn
from bridge_demo.plan import demo_plan


async def run(url, sql):
    conn = await asyncpg.connect(**asyncpg_dsn(url))
    try:
        return await conn.fetch(sql)
    finally:
        await conn.close()


@pytest.fixture
async def prefix(postgres_server_url):
    prefix = f"t_demo_{uuid.uuid4().hex[:8]}"
    yield prefix
    for name in ("apismith", "syncflow", "schedulehub", "erp"):
        await run(postgres_server_url, f'DROP DATABASE IF EXISTS "{prefix}_{name}" WITH (FORCE)')


async def test_the_plan_recreates_the_demo_databases_and_leaves_others_alone(
    create_database, postgres_server_url, prefix, monkeypatch
):
    own = await create_database("users_own")  # the services' real database
    await run(own, "CREATE TABLE keep_me (x int)")
    stale = postgres_server_url.set(database=f"{prefix}_syncflow")
    await run(postgres_server_url, f'CREATE DATABASE "{stale.database}"')
    await run(stale, "CREATE TABLE left_by_the_last_run (x int)")
    monkeypatch.setenv("APISMITH_DATABASE_URL", own.render_as_string(hide_password=False))
    monkeypatch.setenv("SYNCFLOW_DATABASE_URL", own.render_as_string(hide_password=False))
    monkeypatch.setenv("SYNCFLOW_TARGET_DATABASE_URL", "postgresql://x@schedulehub.invalid/prod")

    async with demo_plan(
        apismith_port=18107, syncflow_port=18108, schedulehub_port=18109, prefix=prefix
    ) as plan:
        assert make_url(plan.apismith.database_url).database == f"{prefix}_apismith"
        assert make_url(plan.syncflow.database_url).database == f"{prefix}_syncflow"
        assert plan.erp_url.database == f"{prefix}_erp"
        assert make_url(plan.schedulehub.database_url).database == f"{prefix}_schedulehub"
        assert plan.schedulehub.port == 18109
        assert plan.syncflow.target_database_url is None
        assert (plan.apismith.port, plan.syncflow.port) == (18107, 18108)
        assert await run(stale, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == []
        assert plan.apismith.admin_password.get_secret_value() == plan.credentials.admin_password
        assert plan.syncflow.admin_token.get_secret_value() == plan.credentials.operator_token
        # one sign-in for both consoles
        assert plan.syncflow.admin_username == plan.credentials.admin_username
        assert plan.syncflow.admin_password.get_secret_value() == plan.credentials.admin_password

    assert len(await run(own, "SELECT * FROM pg_tables WHERE tablename = 'keep_me'")) == 1
