"""The connections API: CRUD, masking, conflicts, roles and connectivity tests."""

import os
import sqlite3
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from apismith.tables import apis, connections
from bridge_core.crypto import SecretBox
from bridge_core.testing.errors import error_message
from bridge_core.testing.logs import captured_log_lines

SECRET = "Sup3r-S3cret-pw"
BASE = "/api/v1/connections"


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "erp.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE parts (id INTEGER PRIMARY KEY)")
    conn.close()
    return path


@pytest.fixture(scope="module")
async def erp_postgres_url(create_database):
    """A PostgreSQL ERP database (on the test server, not APISmith's own database)."""
    url = await create_database("erp_api")
    return url.set(password=SECRET).render_as_string(hide_password=False)


@pytest.fixture
def logged():
    """Every log message written while the test runs."""
    with captured_log_lines() as messages:
        yield messages


def _name() -> str:
    return f"erp-{uuid.uuid4().hex[:8]}"


async def _create(client, headers, **body):
    return await client.post(BASE, json=body, headers=headers)


async def _create_sqlite(client, headers, sqlite_file):
    """A connection to ``sqlite_file`` under a new name."""
    return await _create(
        client, headers, name=_name(), dialect="sqlite", url=f"sqlite:///{sqlite_file}"
    )


async def test_create_read_update_delete(apismith_client, admin_headers, sqlite_file, tmp_path):
    name = _name()
    created = await _create(
        apismith_client, admin_headers, name=name, dialect="sqlite", url=f"sqlite:///{sqlite_file}"
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == name
    assert body["dialect"] == "sqlite"
    assert body["url"] == f"sqlite:///{sqlite_file}"
    assert body["options"] == {
        "statement_timeout_ms": 30_000,
        "max_rows": 10_000_000,
        "pool_size": 5,
        "timezone": "UTC",
    }
    uid = body["uid"]

    listed = await apismith_client.get(BASE, headers=admin_headers)
    assert uid in [c["uid"] for c in listed.json()]
    fetched = await apismith_client.get(f"{BASE}/{uid}", headers=admin_headers)
    assert fetched.json() == body

    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    updated = await apismith_client.put(
        f"{BASE}/{uid}",
        json={
            "name": f"{name}-renamed",
            "dialect": "sqlite",
            "url": f"sqlite:///{other}",
            "options": {"statement_timeout_ms": 1_500, "max_rows": 50, "timezone": "Europe/Berlin"},
        },
        headers=admin_headers,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["url"] == f"sqlite:///{other}"
    assert updated.json()["options"] == {
        "statement_timeout_ms": 1_500,
        "max_rows": 50,
        "pool_size": 5,
        "timezone": "Europe/Berlin",
    }
    assert updated.json()["updated_at"] > body["updated_at"]

    assert (await apismith_client.delete(f"{BASE}/{uid}", headers=admin_headers)).status_code == 204
    missing = await apismith_client.get(f"{BASE}/{uid}", headers=admin_headers)
    assert missing.status_code == 404
    assert (await apismith_client.delete(f"{BASE}/{uid}", headers=admin_headers)).status_code == 404


async def test_password_is_encrypted_and_never_shown(
    apismith_client, admin_headers, apismith_settings, erp_postgres_url, logged
):
    created = await _create(
        apismith_client, admin_headers, name=_name(), dialect="postgresql", url=erp_postgres_url
    )
    assert created.status_code == 201, created.text
    uid = created.json()["uid"]
    assert created.json()["url"] == erp_postgres_url.replace(f":{SECRET}@", ":***@")

    renamed = await apismith_client.put(
        f"{BASE}/{uid}",
        json={"name": _name(), "dialect": "postgresql", "options": {"pool_size": 2}},
        headers=admin_headers,
    )
    responses = [
        created,
        renamed,
        await apismith_client.get(BASE, headers=admin_headers),
        await apismith_client.get(f"{BASE}/{uid}", headers=admin_headers),
    ]
    for response in responses:
        assert response.status_code in (200, 201)
        assert SECRET not in response.text
    assert "***" in renamed.json()["url"]
    assert logged, "creating and updating a connection is logged"
    assert not [message for message in logged if SECRET in message]

    engine = create_async_engine(apismith_settings.database_url)
    async with engine.connect() as conn:
        stored = (
            await conn.execute(select(connections).where(connections.c.uid == uuid.UUID(uid)))
        ).one()
    await engine.dispose()
    assert SECRET.encode() not in stored.url_encrypted
    assert SECRET not in stored.url_masked
    # the URL kept on update is the one given on create
    box = SecretBox(apismith_settings.encryption_key.get_secret_value())
    assert box.decrypt(stored.url_encrypted) == erp_postgres_url


async def test_validation_errors_do_not_echo_the_url(apismith_client, admin_headers):
    response = await apismith_client.post(
        BASE,
        json={"dialect": "postgresql", "url": f"postgresql://erp:{SECRET}@db/erp"},
        headers=admin_headers,
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "name"]
    assert SECRET not in response.text


@pytest.mark.parametrize(
    ("dialect", "url", "detail"),
    [
        (
            "postgresql",
            f"mysql://erp:{SECRET}@db/erp",
            "the URL is a mysql URL but the connection's dialect is postgresql",
        ),
        ("mysql", f"mysql://erp:{SECRET}@db", "the URL names no database"),
        ("oracle", f"oracle://erp:{SECRET}@ora:1521/", "the URL names no Oracle database"),
        ("mssql", f"mssql+pymssql://erp:{SECRET}@sql/erp", "APISmith reaches mssql with pyodbc"),
        ("postgresql", f"postgresql://erp:{SECRET}@db:port/erp", "url is not a database URL"),
    ],
)
async def test_unusable_urls_are_422_without_the_password(
    apismith_client, admin_headers, dialect, url, detail
):
    response = await _create(apismith_client, admin_headers, name=_name(), dialect=dialect, url=url)
    assert response.status_code == 422
    assert detail in error_message(response)
    assert SECRET not in response.text


async def test_duplicate_names_are_409(apismith_client, admin_headers, sqlite_file):
    url = f"sqlite:///{sqlite_file}"
    first, second = _name(), _name()
    assert (
        await _create(apismith_client, admin_headers, name=first, dialect="sqlite", url=url)
    ).status_code == 201
    again = await _create(apismith_client, admin_headers, name=first, dialect="sqlite", url=url)
    assert again.status_code == 409
    assert error_message(again) == f"a connection named {first!r} already exists"

    other = await _create(apismith_client, admin_headers, name=second, dialect="sqlite", url=url)
    renamed = await apismith_client.put(
        f"{BASE}/{other.json()['uid']}",
        json={"name": first, "dialect": "sqlite"},
        headers=admin_headers,
    )
    assert renamed.status_code == 409


async def test_delete_is_refused_while_apis_use_the_connection(
    apismith_client, admin_headers, apismith_settings, sqlite_file
):
    created = await _create_sqlite(apismith_client, admin_headers, sqlite_file)
    uid = uuid.UUID(created.json()["uid"])
    slug = f"parts-{uuid.uuid4().hex[:6]}"
    now = datetime.now(UTC)
    engine = create_async_engine(apismith_settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(
            insert(apis).values(
                uid=uuid.uuid4(),
                slug=slug,
                name="Parts",
                description="",
                connection_uid=uid,
                sql="SELECT id FROM parts",
                params=[],
                business_keys=["id"],
                rowversion_column=None,
                delta_strategy="hash",
                columns=[],
                is_active=True,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
    try:
        refused = await apismith_client.delete(f"{BASE}/{uid}", headers=admin_headers)
        assert refused.status_code == 409
        assert slug in error_message(refused)
        assert (
            await apismith_client.get(f"{BASE}/{uid}", headers=admin_headers)
        ).status_code == 200
    finally:
        async with engine.begin() as conn:
            await conn.execute(delete(apis).where(apis.c.slug == slug))
        await engine.dispose()
    assert (await apismith_client.delete(f"{BASE}/{uid}", headers=admin_headers)).status_code == 204


async def test_the_dialect_cannot_change_under_saved_apis(
    apismith_client, admin_headers, sqlite_file, erp_postgres_url
):
    created = await _create_sqlite(apismith_client, admin_headers, sqlite_file)
    uid = created.json()["uid"]
    slug = f"parts-{uuid.uuid4().hex[:6]}"
    api = await apismith_client.post(
        "/api/v1/apis",
        json={"slug": slug, "name": "Parts", "connection_uid": uid, "sql": "SELECT id FROM parts"},
        headers=admin_headers,
    )
    assert api.status_code == 201, api.text
    postgres = {"name": _name(), "dialect": "postgresql", "url": erp_postgres_url}
    same_dialect = {"name": _name(), "dialect": "sqlite"}

    refused = await apismith_client.put(f"{BASE}/{uid}", json=postgres, headers=admin_headers)
    renamed = await apismith_client.put(f"{BASE}/{uid}", json=same_dialect, headers=admin_headers)
    await apismith_client.delete(f"/api/v1/apis/{api.json()['uid']}", headers=admin_headers)
    moved = await apismith_client.put(f"{BASE}/{uid}", json=postgres, headers=admin_headers)

    assert refused.status_code == 409
    assert slug in error_message(refused)
    assert SECRET not in refused.text
    assert renamed.status_code == 200, renamed.text
    assert (moved.status_code, moved.json()["dialect"]) == (200, "postgresql")


async def test_readers_and_strangers_are_turned_away(apismith_client, reader_headers):
    uid = uuid.uuid4()
    calls = [
        ("GET", BASE, None),
        ("POST", BASE, {"name": "x", "dialect": "sqlite", "url": "sqlite:///x.db"}),
        ("GET", f"{BASE}/{uid}", None),
        ("PUT", f"{BASE}/{uid}", {"name": "x", "dialect": "sqlite"}),
        ("DELETE", f"{BASE}/{uid}", None),
        ("POST", f"{BASE}/{uid}/test", None),
    ]
    for method, path, body in calls:
        as_reader = await apismith_client.request(method, path, json=body, headers=reader_headers)
        assert as_reader.status_code == 403, (method, path)
        anonymous = await apismith_client.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, path)


async def test_test_reports_latency_and_version(
    apismith_client, admin_headers, erp_postgres_url, sqlite_file
):
    for dialect, url, version in [
        ("postgresql", erp_postgres_url, "PostgreSQL "),
        ("sqlite", f"sqlite:///{sqlite_file}", "SQLite "),
    ]:
        created = await _create(
            apismith_client, admin_headers, name=_name(), dialect=dialect, url=url
        )
        tested = await apismith_client.post(
            f"{BASE}/{created.json()['uid']}/test", headers=admin_headers
        )
        assert tested.status_code == 200, tested.text
        assert tested.json()["ok"] is True
        assert tested.json()["latency_ms"] > 0
        assert tested.json()["server_version"].startswith(version)


@pytest.mark.skipif(
    not os.environ.get("APISMITH_TEST_MYSQL_URL"),
    reason="APISMITH_TEST_MYSQL_URL is not set (e.g. mysql://root@127.0.0.1:3306/test)",
)
async def test_test_reaches_mariadb(apismith_client, admin_headers):
    url = os.environ["APISMITH_TEST_MYSQL_URL"]
    created = await _create(apismith_client, admin_headers, name=_name(), dialect="mysql", url=url)
    tested = await apismith_client.post(
        f"{BASE}/{created.json()['uid']}/test", headers=admin_headers
    )
    assert tested.status_code == 200, tested.text
    assert tested.json()["server_version"].startswith(("MariaDB ", "MySQL "))


async def test_unreachable_database_is_502_without_the_password(apismith_client, admin_headers):
    created = await _create(
        apismith_client,
        admin_headers,
        name=_name(),
        dialect="postgresql",
        url=f"postgresql://erp:{SECRET}@127.0.0.1:1/erp",
    )
    tested = await apismith_client.post(
        f"{BASE}/{created.json()['uid']}/test", headers=admin_headers
    )
    assert tested.status_code == 502
    assert error_message(tested).startswith("cannot reach PostgreSQL at 127.0.0.1:1/erp")
    assert SECRET not in tested.text


async def test_an_edited_connection_is_reopened(
    apismith_client, admin_headers, sqlite_file, tmp_path
):
    name = _name()
    created = await _create(
        apismith_client,
        admin_headers,
        name=name,
        dialect="sqlite",
        url=f"sqlite:///{tmp_path}/no.db",
    )
    uid = created.json()["uid"]
    assert (
        await apismith_client.post(f"{BASE}/{uid}/test", headers=admin_headers)
    ).status_code == 502
    await apismith_client.put(
        f"{BASE}/{uid}",
        json={"name": name, "dialect": "sqlite", "url": f"sqlite:///{sqlite_file}"},
        headers=admin_headers,
    )
    assert (
        await apismith_client.post(f"{BASE}/{uid}/test", headers=admin_headers)
    ).status_code == 200


def _own_database(apismith_database_url):
    url = make_url(apismith_database_url)
    host = url.query.get("host") or url.host
    return url.database, url.port or 5432, host


async def test_own_metadata_database_is_refused_under_every_alias(
    apismith_client, admin_headers, apismith_database_url, sqlite_file
):
    import socket

    database, port, _ = _own_database(apismith_database_url)
    aliases = [
        f"postgresql://postgres:{SECRET}@localhost:{port}/{database}",
        f"postgresql://postgres@127.0.0.1:{port}/{database}",
        f"postgresql+asyncpg://postgres@[::1]:{port}/{database}",
        f"postgres://postgres@0.0.0.0:{port}/{database}",
        f"postgresql://postgres@{socket.gethostname()}:{port}/{database}",
        f"postgresql://postgres@LOCALHOST.:{port}/{database}",
        f"postgresql://postgres@ignored/{database}?host=/var/run/postgresql&port={port}",
    ]
    if port == 5432:
        aliases.append(f"postgresql://postgres@127.0.0.1/{database}")
    refusal = "connection points at APISmith's own metadata database"
    for url in aliases:
        response = await _create(
            apismith_client, admin_headers, name=_name(), dialect="postgresql", url=url
        )
        assert response.status_code == 422, url
        assert error_message(response) == refusal
        assert SECRET not in response.text

    created = await _create_sqlite(apismith_client, admin_headers, sqlite_file)
    for url in aliases[:3]:
        response = await apismith_client.put(
            f"{BASE}/{created.json()['uid']}",
            json={"name": created.json()["name"], "dialect": "postgresql", "url": url},
            headers=admin_headers,
        )
        assert response.status_code == 422, url
        assert error_message(response) == refusal


async def test_other_databases_on_the_same_server_are_allowed(
    apismith_client, admin_headers, apismith_database_url
):
    database, port, _ = _own_database(apismith_database_url)
    for url in [
        f"postgresql://postgres@localhost:{port}/{database}_erp",
        f"postgresql://postgres@localhost:{port + 1}/{database}",
    ]:
        response = await _create(
            apismith_client, admin_headers, name=_name(), dialect="postgresql", url=url
        )
        assert response.status_code == 201, url
