"""Target tables: created with the section-6 shape, migrated by the rules, never dropped."""

import uuid

import asyncpg
import pytest

from bridge_core.db.engine import asyncpg_dsn, to_async_url
from bridge_core.testing.asgi import app_client
from syncflow.main import build_app

BRIDGE = {
    "_bridge_uid": ("uuid", "NO"),
    "_bridge_key_hash": ("uuid", "NO"),
    "_bridge_data_hash": ("bytea", "NO"),
    "_bridge_rowversion": ("text", "YES"),
    "_bridge_ref": ("text", "YES"),
    "_bridge_batch_uid": ("uuid", "YES"),
    "_bridge_created_at": ("timestamp with time zone", "NO"),
    "_bridge_updated_at": ("timestamp with time zone", "NO"),
    "_bridge_deleted_at": ("timestamp with time zone", "YES"),
}


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


class TargetDatabase:
    """Reads (and writes) the target database directly, as ScheduleHub would."""

    def __init__(self, url: str) -> None:
        self.dsn = asyncpg_dsn(to_async_url(url))

    async def fetch(self, sql: str, *args):
        conn = await asyncpg.connect(**self.dsn)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    async def columns(self, schema: str, table: str) -> dict[str, tuple[str, str]]:
        """``column -> (type, is_nullable)`` from information_schema, in column order."""
        rows = await self.fetch(
            "SELECT column_name, data_type, character_maximum_length, is_nullable "
            "FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 "
            "ORDER BY ordinal_position",
            schema,
            table,
        )
        return {
            r["column_name"]: (
                f"{r['data_type']}({r['character_maximum_length']})"
                if r["data_type"] == "character"
                else r["data_type"],
                r["is_nullable"],
            )
            for r in rows
        }

    async def constraints(self, schema: str, table: str) -> set[tuple[str, str]]:
        rows = await self.fetch(
            "SELECT tc.constraint_type, kcu.column_name "
            "FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu "
            "USING (constraint_schema, constraint_name) "
            "WHERE tc.table_schema = $1 AND tc.table_name = $2",
            schema,
            table,
        )
        return {(r["constraint_type"], r["column_name"]) for r in rows}


@pytest.fixture
def target(syncflow_settings) -> TargetDatabase:
    return TargetDatabase(syncflow_settings.database_url)


@pytest.fixture
async def source(create_source, sample_apis):
    return await create_source()


@pytest.fixture
def entities(syncflow_client, operator_headers, source):
    """``await entities.post(**body)`` / ``put(name, **body)`` / ``delete(name)``."""

    class Entities:
        async def post(self, **body):
            body.setdefault("source", source["name"])
            return await syncflow_client.post(
                "/api/v1/entities", json=body, headers=operator_headers
            )

        async def put(self, name, **body):
            body.setdefault("source", source["name"])
            return await syncflow_client.put(
                f"/api/v1/entities/{name}", json=body, headers=operator_headers
            )

        async def delete(self, name):
            return await syncflow_client.delete(
                f"/api/v1/entities/{name}", headers=operator_headers
            )

        async def get(self, name):
            return await syncflow_client.get(f"/api/v1/entities/{name}", headers=operator_headers)

    return Entities()


async def test_a_new_entity_gets_exactly_the_section_6_columns(entities, target):
    name = _name("customers")
    response = await entities.post(name=name, api_slug="customers")
    assert response.status_code == 201, response.text
    assert await target.columns("erp", name) == {
        "customer_no": ("text", "YES"),
        "name": ("text", "YES"),
        "credit_limit": ("numeric", "YES"),
        "active": ("boolean", "YES"),
        "since": ("date", "YES"),
        "changed_at": ("timestamp with time zone", "YES"),
        "rv": ("bigint", "YES"),
        **BRIDGE,
    }
    assert await target.constraints("erp", name) == {
        ("PRIMARY KEY", "_bridge_uid"),
        ("UNIQUE", "_bridge_key_hash"),
    }


async def test_a_parent_ref_adds_a_uid_column(entities, target):
    parent, child = _name("customers"), _name("orders")
    await entities.post(name=parent, api_slug="customers")
    response = await entities.post(
        name=child,
        api_slug="orders",
        field_mappings=[{"source_field": "order_no"}, {"source_field": "amount"}],
        parent_refs=[{"parent_entity": parent, "fields": ["customer_no"]}],
    )
    assert response.status_code == 201, response.text
    columns = await target.columns("erp", child)
    assert list(columns)[:3] == ["order_no", "amount", f"{parent}_uid"]
    assert columns[f"{parent}_uid"] == ("uuid", "YES")


async def test_a_missing_schema_is_created_and_reserved_words_are_quoted(entities, target):
    schema = _name("planning")
    response = await entities.post(
        name=_name("orders"),
        api_slug="orders",
        target_schema=schema,
        target_table="order",
        field_mappings=[
            {"source_field": "order_no", "target_field": "select"},
            {"source_field": "amount", "target_field": "user"},
        ],
    )
    assert response.status_code == 201, response.text
    columns = await target.columns(schema, "order")
    assert list(columns)[:2] == ["select", "user"]


async def test_a_new_mapping_adds_a_nullable_column(entities, target):
    name = _name("customers")
    mappings = [{"source_field": "customer_no"}, {"source_field": "name"}]
    await entities.post(name=name, api_slug="customers", field_mappings=mappings)
    await target.fetch(
        f'INSERT INTO erp."{name}" (customer_no, name, _bridge_uid, _bridge_key_hash, '
        "_bridge_data_hash, _bridge_created_at, _bridge_updated_at) "
        "VALUES ('C1', 'Acme', gen_random_uuid(), repeat('a', 32)::uuid, "
        "decode(repeat('b', 64), 'hex'), now(), now())"
    )
    response = await entities.put(
        name,
        api_slug="customers",
        field_mappings=[*mappings, {"source_field": "credit_limit", "target_field": "credit"}],
    )
    assert response.status_code == 200, response.text
    assert response.json()["table_created"] is False
    assert response.json()["added_columns"] == ["credit"]
    assert response.json()["retained_columns"] == []
    assert (await target.columns("erp", name))["credit"] == ("numeric", "YES")
    rows = await target.fetch(f'SELECT customer_no, credit FROM erp."{name}"')
    assert [tuple(r) for r in rows] == [("C1", None)]


async def test_a_removed_field_keeps_its_column_and_data(entities, target):
    name = _name("customers")
    await entities.post(name=name, api_slug="customers")
    await target.fetch(
        f'INSERT INTO erp."{name}" (customer_no, credit_limit, _bridge_uid, _bridge_key_hash, '
        "_bridge_data_hash, _bridge_created_at, _bridge_updated_at) "
        "VALUES ('C1', 12.5, gen_random_uuid(), repeat('a', 32)::uuid, "
        "decode(repeat('b', 64), 'hex'), now(), now())"
    )
    response = await entities.put(
        name, api_slug="customers", field_mappings=[{"source_field": "customer_no"}]
    )
    assert response.status_code == 200, response.text
    assert response.json()["retained_columns"] == [
        "name",
        "credit_limit",
        "active",
        "since",
        "changed_at",
        "rv",
    ]
    assert "credit_limit" in await target.columns("erp", name)
    rows = await target.fetch(f'SELECT credit_limit FROM erp."{name}"')
    assert str(rows[0]["credit_limit"]) == "12.5"


async def test_a_changed_type_is_409_and_nothing_changes(entities, target):
    name = _name("customers")
    await entities.post(name=name, api_slug="customers")
    response = await entities.put(
        name,
        api_slug="customers",
        page_size=10,
        field_mappings=[
            {"source_field": "customer_no"},
            {"source_field": "credit_limit", "type": "text"},
            {"source_field": "rv", "target_field": "new_column"},
        ],
    )
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "credit_limit is numeric, the entity now needs text" in detail
    assert "never rewrites a column" in detail
    entity = (await entities.get(name)).json()
    assert entity["page_size"] == 10000
    assert {f["target_field"]: f["type"] for f in entity["field_mappings"]}["credit_limit"] == (
        "numeric"
    )
    columns = await target.columns("erp", name)
    assert columns["credit_limit"] == ("numeric", "YES")
    assert "new_column" not in columns


async def test_a_hand_set_precision_is_kept(entities, target):
    name = _name("customers")
    await entities.post(name=name, api_slug="customers")
    await target.fetch(f'ALTER TABLE erp."{name}" ALTER COLUMN credit_limit TYPE numeric(18, 4)')
    response = await entities.put(name, api_slug="customers", page_size=10)
    assert response.status_code == 200, response.text
    assert (await target.columns("erp", name))["credit_limit"] == ("numeric", "YES")


async def _fillfactor(target, name: str) -> list[str] | None:
    rows = await target.fetch(
        "SELECT reloptions FROM pg_class WHERE oid = to_regclass($1)", f'erp."{name}"'
    )
    return rows[0]["reloptions"]


async def test_targets_leave_room_for_updates_and_a_hand_set_fillfactor_is_kept(entities, target):
    name = _name("customers")
    await entities.post(name=name, api_slug="customers")
    assert await _fillfactor(target, name) == ["fillfactor=90"]
    # a table from before (no fillfactor) gets it with the entity's next change
    await target.fetch(f'ALTER TABLE erp."{name}" RESET (fillfactor)')
    assert await _fillfactor(target, name) is None
    response = await entities.put(name, api_slug="customers", page_size=10)
    assert response.status_code == 200, response.text
    assert await _fillfactor(target, name) == ["fillfactor=90"]
    # an operator's own choice stays
    await target.fetch(f'ALTER TABLE erp."{name}" SET (fillfactor = 70)')
    response = await entities.put(name, api_slug="customers", page_size=20)
    assert response.status_code == 200, response.text
    assert await _fillfactor(target, name) == ["fillfactor=70"]


async def test_deleting_an_entity_keeps_its_table_and_rows(entities, target):
    name = _name("customers")
    await entities.post(name=name, api_slug="customers")
    await target.fetch(
        f'INSERT INTO erp."{name}" (customer_no, _bridge_uid, _bridge_key_hash, '
        "_bridge_data_hash, _bridge_created_at, _bridge_updated_at) "
        "VALUES ('C1', gen_random_uuid(), repeat('a', 32)::uuid, "
        "decode(repeat('b', 64), 'hex'), now(), now())"
    )
    assert (await entities.delete(name)).status_code == 204
    assert len(await target.fetch(f'SELECT * FROM erp."{name}"')) == 1
    # re-created, the entity adopts its old table
    again = await entities.post(name=name, api_slug="customers")
    assert again.status_code == 201
    assert again.json()["table_created"] is False


async def test_a_foreign_table_is_never_adopted(entities, target):
    table = _name("schedulehub_own")
    await target.fetch(f'CREATE TABLE erp."{table}" (id int primary key, customer_no text)')
    name = _name("customers")
    response = await entities.post(name=name, api_slug="customers", target_table=table)
    assert response.status_code == 409
    assert "is not a SyncFlow target table" in response.json()["detail"]
    assert (await entities.get(name)).status_code == 404
    assert list(await target.columns("erp", table)) == ["id", "customer_no"]


async def test_syncflow_own_tables_are_safe_as_targets(entities, target):
    response = await entities.post(
        name=_name("clash"), api_slug="customers", target_schema="public", target_table="sources"
    )
    assert response.status_code == 409
    assert "_bridge_key_hash" not in await target.columns("public", "sources")


async def test_a_separate_target_database_gets_the_tables(
    syncflow_settings, create_database, operator_headers, fake_apismith, sample_apis
):
    target_url = (await create_database("target")).render_as_string(hide_password=False)
    settings = syncflow_settings.model_copy(update={"target_database_url": target_url})
    own, target = TargetDatabase(settings.database_url), TargetDatabase(target_url)
    async with app_client(build_app(settings)) as client:
        source = await client.post(
            "/api/v1/sources",
            json={
                "name": _name("erp"),
                "base_url": fake_apismith.url,
                "token": fake_apismith.token,
            },
            headers=operator_headers,
        )
        name = _name("customers")
        body = {"name": name, "source": source.json()["name"], "api_slug": "customers"}
        created = await client.post("/api/v1/entities", json=body, headers=operator_headers)
        assert created.status_code == 201, created.text
        assert "_bridge_uid" in await target.columns("erp", name)
        assert await own.columns("erp", name) == {}

        # a failed migration in the target leaves the entity as it was in SyncFlow's database
        changed = await client.put(
            f"/api/v1/entities/{name}",
            json={
                **body,
                "page_size": 7,
                "field_mappings": [{"source_field": "customer_no", "type": "integer"}],
            },
            headers=operator_headers,
        )
        assert changed.status_code == 409
        kept = await client.get(f"/api/v1/entities/{name}", headers=operator_headers)
        assert kept.json()["page_size"] == 10000

        foreign = _name("foreign")
        await target.fetch(f'CREATE TABLE erp."{foreign}" (id int)')
        refused = await client.post(
            "/api/v1/entities",
            json={**body, "name": _name("other"), "target_table": foreign},
            headers=operator_headers,
        )
        assert refused.status_code == 409
        listed = await client.get("/api/v1/entities", headers=operator_headers)
        assert [e["name"] for e in listed.json()].count(name) == 1
        assert all(e["target_table"] != foreign for e in listed.json())
