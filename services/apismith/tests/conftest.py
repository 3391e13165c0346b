"""APISmith test fixtures: a fresh, migrated database per test session."""

import pytest
from apismith.main import build_app
from apismith.settings import Settings
from bridge_core.testing.asgi import app_client


@pytest.fixture(scope="session")
async def apismith_database_url(create_database):
    url = await create_database("apismith")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def apismith_settings(apismith_database_url, tmp_path):
    return Settings(
        environment="test",
        database_url=apismith_database_url,
        data_dir=tmp_path,
        secret_key="test-secret-key-with-enough-length-for-hs256",
        encryption_key="test-encryption-key",
        log_file=False,
    )


@pytest.fixture
async def apismith_client(apismith_settings):
    async with app_client(build_app(apismith_settings)) as client:
        yield client
