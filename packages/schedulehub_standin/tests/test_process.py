"""``schedulehub-standin serve`` as its own process: it makes its tables, serves, and
stops on SIGTERM; a second start on the same database keeps what the first stored."""

import httpx

from packages.schedulehub_standin.tests.standin_client import record, sign_in
from schedulehub_standin.testing import standin_process, standin_settings


async def test_the_command_serves_and_keeps_its_data_across_restarts(create_database, tmp_path):
    settings = standin_settings(
        await create_database("standin_process"), data_dir=tmp_path, api_prefix="/sh/api"
    )
    with standin_process(settings, log=tmp_path / "standin.log") as standin:
        assert standin.api_url.endswith("/sh/api")
        async with httpx.AsyncClient(base_url=standin.api_url) as client:
            tokens = await sign_in(standin, client)
            client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
            response = await client.post("/orders/batch/insert", json={"records": [record("a1")]})
            assert response.json()["success_count"] == 1

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
