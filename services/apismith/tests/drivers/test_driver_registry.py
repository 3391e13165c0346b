"""The driver registry: one driver per stored connection, reopened after an edit."""

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from apismith.connections.repository import ConnectionRecord
from apismith.drivers.base import ConnectionOptions, Dialect
from apismith.drivers.mssql import MssqlDriver
from apismith.drivers.mysql import MysqlDriver
from apismith.drivers.oracle import OracleDriver
from apismith.drivers.postgresql import PostgresDriver
from apismith.drivers.registry import DriverRegistry, open_driver
from apismith.drivers.sqlite import SqliteDriver
from bridge_core.crypto import SecretBox
from bridge_core.db.engine import asyncpg_dsn
from bridge_core.errors import Unprocessable

BOX = SecretBox("registry-test-key")


@pytest.mark.parametrize(
    ("dialect", "url", "driver_class"),
    [
        ("postgresql", "postgresql://u:p@db/erp", PostgresDriver),
        ("mysql", "mariadb://u:p@db/erp", MysqlDriver),
        ("sqlite", "sqlite:///erp.db", SqliteDriver),
        ("oracle", "oracle://u:p@ora/ORCL", OracleDriver),
        ("mssql", "mssql://u:p@sql/erp", MssqlDriver),
    ],
)
def test_open_driver_picks_the_dialect_driver(dialect, url, driver_class):
    driver = open_driver(dialect, url, ConnectionOptions(), executor=None)
    assert type(driver) is driver_class
    assert driver.dialect == dialect


def test_open_driver_checks_the_url():
    with pytest.raises(Unprocessable, match="the URL is a mysql URL"):
        open_driver(Dialect.POSTGRESQL, "mysql://u:p@db/erp", ConnectionOptions(), executor=None)


async def _sessions(server_url, database: str) -> int:
    conn = await asyncpg.connect(**asyncpg_dsn(server_url))
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name = 'apismith'",
            database,
        )
    finally:
        await conn.close()


async def _eventually_no_sessions(server_url, database: str) -> None:
    for _ in range(50):
        if await _sessions(server_url, database) == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the replaced driver's connections are still open")


async def test_one_driver_per_connection_version(create_database, postgres_server_url):
    erp = await create_database("erp_registry")
    now = datetime.now(UTC)
    record = ConnectionRecord(
        uid=uuid.uuid4(),
        name="erp",
        dialect=Dialect.POSTGRESQL,
        url_encrypted=BOX.encrypt(erp.render_as_string(hide_password=False)),
        url_masked="",
        options=ConnectionOptions(),
        created_at=now,
        updated_at=now,
    )
    registry = DriverRegistry(secret_box=BOX, executor_threads=2)
    try:
        driver = registry.get(record)
        assert registry.get(record) is driver
        await driver.ping()
        assert await _sessions(postgres_server_url, erp.database) == 1

        edited = dataclasses.replace(record, updated_at=now + timedelta(seconds=1))
        reopened = registry.get(edited)
        assert reopened is not driver
        assert registry.get(edited) is reopened
        await _eventually_no_sessions(postgres_server_url, erp.database)

        await reopened.ping()
        registry.discard(record.uid)
        await _eventually_no_sessions(postgres_server_url, erp.database)
        assert registry.get(edited) is not reopened
    finally:
        await registry.close()
