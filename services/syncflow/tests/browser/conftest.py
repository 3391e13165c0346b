"""Browser tests: a live SyncFlow (worker running) on a real port, driven by Chromium
(``page`` from ``bridge_core.testing.browser``). One live server per module; setup goes
through the JSON API with the admin token."""

import uuid

import httpx
import pytest

from bridge_core.testing.live_server import live_server
from syncflow.main import build_app
from syncflow.settings import Settings

ADMIN_TOKEN = "browser-admin-token-0123456789"
PASSWORD = "browser-password-1"


@pytest.fixture(scope="module")
def live_syncflow(syncflow_database_url, tmp_path_factory):
    settings = Settings(
        environment="test",
        database_url=syncflow_database_url,
        data_dir=tmp_path_factory.mktemp("browser"),
        secret_key="browser-secret-key-with-enough-length-for-hs256",
        # the key of the other tests' apps: they share the database, and a destination one
        # of them leaves behind must still decrypt here
        encryption_key="test-encryption-key",
        admin_token=ADMIN_TOKEN,
        log_file=False,
    )
    with live_server(build_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
async def api(live_syncflow):
    async with httpx.AsyncClient(
        base_url=f"{live_syncflow}/api/v1",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture(scope="module")
async def users(api):
    """One user per role; ``users[role]`` is the username (password ``PASSWORD``)."""
    made = {}
    for role in ("operator", "viewer"):
        name = f"b-{role}-{uuid.uuid4().hex[:6]}"
        response = await api.post(
            "/users", json={"username": name, "password": PASSWORD, "role": role}
        )
        assert response.status_code == 201, response.text
        made[role] = name
    return made
