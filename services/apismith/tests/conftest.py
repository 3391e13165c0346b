"""APISmith test fixtures: a fresh, migrated database per test session."""

import uuid
from dataclasses import dataclass

import pytest

from apismith.auth.security import issue_access_token
from apismith.main import build_app
from apismith.settings import Settings
from apismith.tables import users
from bridge_core.auth.users.service import create_user
from bridge_core.db.engine import create_engine, to_async_url
from bridge_core.db.transaction import Database
from bridge_core.testing.asgi import app_client
from bridge_core.testing.settings import service_test_settings


@pytest.fixture(scope="session")
async def apismith_database_url(create_database):
    url = await create_database("apismith")
    return url.render_as_string(hide_password=False)


@pytest.fixture
def apismith_settings(apismith_database_url, tmp_path):
    return service_test_settings(Settings, database_url=apismith_database_url, data_dir=tmp_path)


@pytest.fixture
async def apismith_client(apismith_settings):
    async with app_client(build_app(apismith_settings)) as client:
        yield client


@dataclass(frozen=True)
class ApismithUser:
    """A user made by ``create_apismith_user``: its credentials and a valid access token."""

    uid: uuid.UUID
    username: str
    password: str
    role: str
    access_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture
async def create_apismith_user(apismith_settings, apismith_client):
    """Factory ``await create_apismith_user(role="reader") -> ApismithUser``.

    Each call stores a new user with a unique username (tests share one database)
    and returns its password and an access token signed with ``apismith_settings``.
    Depends on ``apismith_client`` so the database is migrated first.
    """

    async def create(role: str = "reader") -> ApismithUser:
        password = f"pw-{uuid.uuid4().hex}"
        engine = create_engine(to_async_url(apismith_settings.database_url), pool_size=1)
        try:
            async with Database(engine).transaction() as conn:
                user = await create_user(
                    conn=conn,
                    table=users,
                    username=f"{role}-{uuid.uuid4().hex[:12]}",
                    password=password,
                    role=role,
                )
        finally:
            await engine.dispose()
        token = issue_access_token(
            settings=apismith_settings, user_uid=user.uid, name=user.username, role=user.role
        )
        return ApismithUser(user.uid, user.username, password, user.role, token)

    return create


@pytest.fixture
async def admin_headers(create_apismith_user):
    """``{"Authorization": "Bearer <access token>"}`` of a new admin user."""
    return (await create_apismith_user("admin")).headers


@pytest.fixture
async def reader_headers(create_apismith_user):
    """``{"Authorization": "Bearer <access token>"}`` of a new reader user."""
    return (await create_apismith_user("reader")).headers
