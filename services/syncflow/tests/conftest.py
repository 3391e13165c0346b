"""SyncFlow test fixtures: a fresh, migrated database per test session."""

import pytest

from bridge_core.testing.asgi import app_client
from syncflow.main import build_app
from syncflow.settings import Settings


@pytest.fixture(scope="session")
async def syncflow_database_url(create_database):
    url = await create_database("syncflow")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def syncflow_settings(syncflow_database_url, tmp_path):
    return Settings(
        environment="test",
        database_url=syncflow_database_url,
        data_dir=tmp_path,
        secret_key="test-secret-key-with-enough-length-for-hs256",
        encryption_key="test-encryption-key",
        log_file=False,
    )


@pytest.fixture
async def syncflow_client(syncflow_settings):
    async with app_client(build_app(syncflow_settings)) as client:
        yield client
