"""APISmith SIGKILLed while SyncFlow reads from it, then started again: SyncFlow's batch
retries its page or fails with a clear error; the next sync resumes from the committed
cursor, and the target ends equal to the source, nothing lost, nothing twice."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bridge_core.testing.live_server import free_port

BULK = 1500
ADMIN = {"username": "kill-admin", "password": "kill-admin-password"}


def start_apismith(port: int, database_url: str, data_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "APISMITH_ENVIRONMENT": "test",
        "APISMITH_DATABASE_URL": database_url,
        "APISMITH_SECRET_KEY": "kill-test-secret-key-long-enough-for-hs256",
        "APISMITH_ENCRYPTION_KEY": "kill-test-encryption-key",
        "APISMITH_ADMIN_USERNAME": ADMIN["username"],
        "APISMITH_ADMIN_PASSWORD": ADMIN["password"],
        "APISMITH_LOG_FILE": "false",
        "APISMITH_DATA_DIR": str(data_dir),
    }
    command = [str(Path(sys.executable).parent / "apismith"), "serve", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_healthy(base_url: str, process: subprocess.Popen) -> None:
    deadline = asyncio.get_running_loop().time() + 60
    async with httpx.AsyncClient(base_url=base_url) as client:
        while True:
            assert process.poll() is None, "APISmith exited while starting"
            assert asyncio.get_running_loop().time() < deadline, "APISmith did not start"
            try:
                if (await client.get("/api/v1/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)


async def register(base_url: str, erp_url, slug: str) -> str:
    """The ERP connection, the parts API and a reader token on the APISmith at ``base_url``."""
    async with httpx.AsyncClient(base_url=base_url) as client:
        login = await client.post("/api/v1/auth/login", json=ADMIN)
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        connection = await client.post(
            "/api/v1/connections",
            json={
                "name": "erp-killable",
                "dialect": "postgresql",
                "url": erp_url.render_as_string(hide_password=False),
            },
        )
        assert connection.status_code == 201, connection.text
        api = await client.post(
            "/api/v1/apis",
            json={
                "slug": slug,
                "name": "parts",
                "connection_uid": connection.json()["uid"],
                "sql": "SELECT part_no, description, unit_cost, qty, created, rowversion "
                "FROM parts",
                "business_keys": ["part_no"],
                "rowversion_column": "rowversion",
                "delta_strategy": "rowversion",
            },
        )
        assert api.status_code == 201, api.text
        token = await client.post("/api/v1/auth/tokens", json={"name": "sf", "role": "reader"})
        return str(token.json()["token"])


@pytest.mark.timeout(300)
async def test_apismith_killed_mid_read_loses_and_doubles_nothing(world, create_database, tmp_path):
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "SELECT 'A-' || lpad(i::text, 5, '0'), 'bulk ' || i, (i % 90)::text, i % 7, '2025-03-01' "
        "FROM generate_series(1, $1) i",
        BULK,
    )
    own = (await create_database("apismith_killable")).render_as_string(hide_password=False)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    apismith = start_apismith(port, own, tmp_path)
    try:
        await wait_healthy(base_url, apismith)
        token = await register(base_url, world.erp_url, "killable-parts")
        parts = (await world.client.get("/api/v1/entities/parts")).json()
        source = await world.client.post(
            "/api/v1/sources", json={"name": "killable", "base_url": base_url, "token": token}
        )
        assert source.status_code == 201, source.text
        entity = await world.client.post(
            "/api/v1/entities",
            json={
                "name": "killable_parts",
                "source": "killable",
                "api_slug": "killable-parts",
                "field_mappings": parts["field_mappings"],
                "page_size": 50,
                "target_table": "killable_parts",
            },
        )
        assert entity.status_code == 201, entity.text

        batch_uid = await world.start("killable_parts")
        deadline = asyncio.get_running_loop().time() + 60
        while True:
            status = (await world.client.get(f"/api/v1/sync/status/{batch_uid}")).json()
            if status["counters"]["fetched"] >= 300:
                break
            assert status["status"] in ("pending", "running"), status
            assert asyncio.get_running_loop().time() < deadline, "the batch made no progress"
            await asyncio.sleep(0.02)
        apismith.send_signal(signal.SIGKILL)
        apismith.wait(timeout=10)
        apismith = start_apismith(port, own, tmp_path)
        await wait_healthy(base_url, apismith)

        first = await world.wait(batch_uid, timeout=120)
        assert first["status"] in ("completed", "failed"), first
        if first["status"] == "failed":
            assert "apismith" in (first["error"] or "").lower(), first
        again = await world.sync("killable_parts")
        assert again["status"] == "completed", again
        report = await world.verify("killable_parts")
    finally:
        apismith.kill()
        apismith.wait(timeout=10)

    rows = await world.target(
        "SELECT count(*), count(DISTINCT _bridge_key_hash) FROM erp.killable_parts"
    )
    assert tuple(rows[0]) == (BULK + 5, BULK + 5)
    inserted = first["counters"]["inserted"] + again["counters"]["inserted"]
    assert inserted == BULK + 5
    assert (report["missing"], report["extra"], report["different"]) == (2, 0, 0), report
