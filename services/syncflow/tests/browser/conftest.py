"""Browser tests: a live SyncFlow (worker running) and Debian's Chromium driven by Playwright.

Playwright's own browser download is not reachable here, so the tests launch the
system ``chromium`` through ``executable_path`` (``.ci/run`` installs it when missing);
without it they are skipped with that reason. One browser per session, one live
server per module; setup goes through the JSON API with the admin token.
"""

import shutil
import uuid

import httpx
import pytest

from bridge_core.testing.live_server import live_server
from syncflow.main import build_app
from syncflow.settings import Settings

ADMIN_TOKEN = "browser-admin-token-0123456789"
PASSWORD = "browser-password-1"
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return {"executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1280, "height": 800}, "locale": "en-US"}


@pytest.fixture(scope="module")
def live_syncflow(syncflow_database_url, tmp_path_factory):
    settings = Settings(
        environment="test",
        database_url=syncflow_database_url,
        data_dir=tmp_path_factory.mktemp("browser"),
        secret_key="browser-secret-key-with-enough-length-for-hs256",
        encryption_key="browser-encryption-key",
        admin_token=ADMIN_TOKEN,
        log_file=False,
    )
    with live_server(build_app(settings)) as url:
        yield url


@pytest.fixture(scope="module")
def api(live_syncflow):
    with httpx.Client(
        base_url=f"{live_syncflow}/api/v1",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def users(api):
    """One user per role; ``users[role]`` is the username (password ``PASSWORD``)."""
    made = {}
    for role in ("operator", "viewer"):
        name = f"b-{role}-{uuid.uuid4().hex[:6]}"
        response = api.post("/users", json={"username": name, "password": PASSWORD, "role": role})
        assert response.status_code == 201, response.text
        made[role] = name
    return made
