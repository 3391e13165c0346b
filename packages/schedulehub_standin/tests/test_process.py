"""``schedulehub-standin serve`` as its own process: it makes its tables and serves; after
a kill -9, a second start on the same database keeps what the first stored."""

import asyncpg
import httpx

from bridge_core.db.engine import asyncpg_dsn
from packages.schedulehub_standin.tests.standin_client import record, sign_in
from schedulehub_standin.testing import standin_process, standin_settings


async def test_the_command_serves_and_keeps_its_data_across_restarts(create_database, tmp_path):
    database_url = await create_database("standin_process")
    settings = standin_settings(database_url, data_dir=tmp_path, api_prefix="/sh/api")
    with standin_process(settings, log=tmp_path / "standin.log") as standin:
        assert standin.api_url.endswith("/sh/api")
        async with httpx.AsyncClient(base_url=standin.api_url) as client:
            tokens = await sign_in(standin, client)
            client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
            response = await client.post("/orders/batch/insert", json={"records": [record("a1")]})
            assert response.json()["success_count"] == 1
        standin.process.kill()  # kill -9: what it committed stays
        standin.process.wait()

    with standin_process(settings) as standin:
        async with httpx.AsyncClient(base_url=standin.api_url) as client:
            # tokens live in memory: the restarted stand-in knows none of them
            stale = await client.post(
                "/orders/batch/query",
                json={"erp_key_hashes": ["a1"]},
                headers={"Authorization": f"Bearer {tokens['access_token']}"},
            )
            assert stale.status_code == 401
            tokens = await sign_in(standin, client)
            client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
            found = await client.post("/orders/batch/query", json={"erp_key_hashes": ["a1"]})
            assert [r["erp_key_hash"] for r in found.json()["records"]] == ["a1"]
        assert (await standin.control.state())["applied"] == {"orders": {"insert": 1}}

    # the database's sessions plan for their parameters and commit without a disk wait
    conn = await asyncpg.connect(**asyncpg_dsn(database_url))
    try:
        assert await conn.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
        assert await conn.fetchval("SHOW synchronous_commit") == "off"
    finally:
        await conn.close()
