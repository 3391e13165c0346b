"""The entities API: defaults from APISmith's metadata, validation, changes, deletion."""

import json
import uuid
from pathlib import Path

import asyncpg
import pytest

from bridge_core.db.engine import asyncpg_dsn, create_engine, to_async_url
from bridge_core.db.transaction import Database
from bridge_core.errors import NotFound
from bridge_core.testing.errors import error_message
from syncflow.domain import DeleteMode, DeltaStrategy, FieldSpec, FieldType, ParentRef
from syncflow.entities.service import load_spec

CASES = json.loads((Path(__file__).parent / "entity_422_cases.json").read_text())


def _name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def source(create_source, sample_apis, fake_apismith):
    fake_apismith.add_api("prices", [("part_no", "string"), ("price", "number")])
    fake_apismith.add_api("mixed_case", [("PartNo", "string"), ("partno", "string")])
    fake_apismith.add_api("odd_columns", [("Part No", "string")], business_keys=["Part No"])
    return await create_source()


@pytest.fixture
def post_entity(syncflow_client, operator_headers, source):
    async def post(**body):
        body.setdefault("source", source["name"])
        return await syncflow_client.post("/api/v1/entities", json=body, headers=operator_headers)

    return post


async def test_unset_keys_default_from_the_api_metadata(post_entity, source):
    name = _name("customers")
    response = await post_entity(name=name, api_slug="customers")
    assert response.status_code == 201, response.text
    entity = response.json()
    assert entity["source"] == source["name"]
    assert entity["source_uid"] == source["uid"]
    assert entity["api_version"] == 1
    assert entity["business_keys"] == ["customer_no"]
    assert entity["rowversion_field"] == "rv"
    assert entity["delta_strategy"] == "rowversion"
    assert (entity["target_schema"], entity["target_table"]) == ("erp", name)
    assert entity["page_size"] == 10000
    assert entity["delete_policy"] == {"mode": "soft", "max_ratio": 0.05}
    assert entity["parent_refs"] == []
    assert [
        (f["source_field"], f["target_field"], f["type"]) for f in entity["field_mappings"]
    ] == [
        ("customer_no", "customer_no", "text"),
        ("name", "name", "text"),
        ("credit_limit", "credit_limit", "numeric"),
        ("active", "active", "boolean"),
        ("since", "since", "date"),
        ("changed_at", "changed_at", "timestamp"),
        ("rv", "rv", "integer"),
    ]
    assert entity["api_columns"][2] == {
        "name": "credit_limit",
        "data_type": "number",
        "nullable": True,
    }
    assert entity["table_created"] is True
    assert entity["retained_columns"] == []


async def test_given_keys_win_over_the_defaults(post_entity):
    response = await post_entity(
        name=_name("prices"),
        api_slug="prices",
        business_keys=["part_no"],
        delta_strategy="full",
        target_schema="planning",
        target_table="part_prices",
        page_size=250,
        field_mappings=[
            {"source_field": "part_no", "target_field": "part", "transform": "upper"},
            {"source_field": "price", "type": "text", "default_value": "0", "required": True},
        ],
        delete_policy={"mode": "hard", "max_ratio": 0.5},
    )
    assert response.status_code == 201, response.text
    entity = response.json()
    assert entity["delta_strategy"] == "full"
    assert entity["rowversion_field"] is None
    assert (entity["target_schema"], entity["target_table"]) == ("planning", "part_prices")
    assert entity["page_size"] == 250
    assert entity["delete_policy"] == {"mode": "hard", "max_ratio": 0.5}
    assert entity["field_mappings"] == [
        {
            "source_field": "part_no",
            "target_field": "part",
            "type": "text",
            "transform": "upper",
            "default_value": None,
            "required": False,
        },
        {
            "source_field": "price",
            "target_field": "price",
            "type": "text",
            "transform": None,
            "default_value": "0",
            "required": True,
        },
    ]


async def test_api_column_names_fold_to_lower_case(post_entity, fake_apismith):
    fake_apismith.add_api(
        "ifs_parts", [("PART_NO", "string"), ("DESCRIPTION", "string")], business_keys=["PART_NO"]
    )
    response = await post_entity(name=_name("parts"), api_slug="ifs_parts")
    assert response.status_code == 201, response.text
    fields = response.json()["field_mappings"]
    assert [(f["source_field"], f["target_field"]) for f in fields] == [
        ("PART_NO", "part_no"),
        ("DESCRIPTION", "description"),
    ]
    assert response.json()["business_keys"] == ["PART_NO"]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
async def test_invalid_definitions_are_422_naming_the_problem(post_entity, source, case):
    parent = _name("parent")
    created = await post_entity(name=parent, api_slug="customers")
    assert created.status_code == 201
    name = _name("child")
    text = json.dumps({"name": name, "api_slug": "customers", **case["body"]})
    names = {"{parent}": parent, "{name}": name, "{source}": source["name"]}
    for placeholder, value in names.items():
        text = text.replace(placeholder, value)
    detail = case["detail"]
    for placeholder, value in names.items():
        detail = detail.replace(placeholder, value)
    response = await post_entity(**json.loads(text))
    assert response.status_code == 422, response.text
    assert detail in response.text


async def test_every_problem_is_named_at_once(post_entity):
    response = await post_entity(
        name=_name("many"),
        api_slug="customers",
        business_keys=["cust"],
        rowversion_field="version",
        field_mappings=[{"source_field": "nope"}],
    )
    assert response.status_code == 422
    detail = error_message(response)
    assert "business_keys: 'cust'" in detail
    assert "rowversion_field: 'version'" in detail
    assert "field_mappings.source_field: 'nope'" in detail


async def test_a_name_is_unique(post_entity):
    name = _name("twice")
    assert (await post_entity(name=name, api_slug="customers")).status_code == 201
    again = await post_entity(name=name, api_slug="orders")
    assert again.status_code == 409
    assert "already exists" in error_message(again)


async def test_two_entities_cannot_share_a_target_table(post_entity):
    first = await post_entity(name=_name("first"), api_slug="customers", target_table="shared_t")
    assert first.status_code == 201
    second = await post_entity(name=_name("second"), api_slug="customers", target_table="shared_t")
    assert second.status_code == 409
    assert "belongs to entity" in error_message(second)


async def test_an_unreachable_apismith_is_a_502(syncflow_client, operator_headers):
    source = await syncflow_client.post(
        "/api/v1/sources",
        json={"name": _name("down"), "base_url": "http://127.0.0.1:1", "token": "t"},
        headers=operator_headers,
    )
    response = await syncflow_client.post(
        "/api/v1/entities",
        json={"name": _name("x"), "source": source.json()["name"], "api_slug": "customers"},
        headers=operator_headers,
    )
    assert response.status_code == 502


async def test_get_list_and_unknown(syncflow_client, operator_headers, post_entity):
    name = _name("listed")
    created = (await post_entity(name=name, api_slug="customers")).json()
    fetched = await syncflow_client.get(f"/api/v1/entities/{name}", headers=operator_headers)
    assert fetched.status_code == 200
    expected = {
        k: v
        for k, v in created.items()
        if k not in ("table_created", "added_columns", "retained_columns")
    }
    assert fetched.json() == expected
    listed = await syncflow_client.get("/api/v1/entities", headers=operator_headers)
    assert expected in listed.json()
    missing = await syncflow_client.get("/api/v1/entities/nope", headers=operator_headers)
    assert missing.status_code == 404


async def test_put_replaces_the_definition(syncflow_client, operator_headers, post_entity, source):
    name = _name("changed")
    await post_entity(name=name, api_slug="customers")
    response = await syncflow_client.put(
        f"/api/v1/entities/{name}",
        json={
            "source": source["uid"],
            "api_slug": "customers",
            "page_size": 100,
            "field_mappings": [{"source_field": "customer_no"}, {"source_field": "name"}],
        },
        headers=operator_headers,
    )
    assert response.status_code == 200, response.text
    entity = response.json()
    assert entity["page_size"] == 100
    assert [f["target_field"] for f in entity["field_mappings"]] == ["customer_no", "name"]
    assert entity["updated_at"] > entity["created_at"]


@pytest.mark.parametrize(
    ("change", "status", "detail"),
    [
        ({"name": "other_name"}, 422, "cannot be renamed"),
        ({"business_keys": ["name"]}, 409, "business keys of"),
        ({"target_table": "elsewhere"}, 409, "create a new entity instead"),
        ({"target_schema": "other_schema"}, 409, "create a new entity instead"),
    ],
)
async def test_put_refuses_changes_that_orphan_the_table(
    syncflow_client, operator_headers, post_entity, source, change, status, detail
):
    name = _name("fixed")
    await post_entity(name=name, api_slug="customers")
    response = await syncflow_client.put(
        f"/api/v1/entities/{name}",
        json={"source": source["name"], "api_slug": "customers", **change},
        headers=operator_headers,
    )
    assert response.status_code == status
    assert detail in error_message(response) if status == 409 else detail in response.text


async def test_put_of_an_unknown_entity_is_404(syncflow_client, operator_headers, source):
    response = await syncflow_client.put(
        "/api/v1/entities/nope",
        json={"source": source["name"], "api_slug": "customers"},
        headers=operator_headers,
    )
    assert response.status_code == 404


async def test_delete_refuses_a_parent_then_deletes(syncflow_client, operator_headers, post_entity):
    parent, child = _name("customers"), _name("orders")
    await post_entity(name=parent, api_slug="customers")
    created = await post_entity(
        name=child,
        api_slug="orders",
        parent_refs=[{"parent_entity": parent, "fields": ["customer_no"]}],
    )
    assert created.status_code == 201, created.text
    assert created.json()["parent_refs"] == [
        {"parent_entity": parent, "fields": ["customer_no"], "parent_fields": ["customer_no"]}
    ]
    refused = await syncflow_client.delete(f"/api/v1/entities/{parent}", headers=operator_headers)
    assert refused.status_code == 409
    assert child in error_message(refused)
    for name in (child, parent):
        response = await syncflow_client.delete(
            f"/api/v1/entities/{name}", headers=operator_headers
        )
        assert response.status_code == 204
    gone = await syncflow_client.get(f"/api/v1/entities/{parent}", headers=operator_headers)
    assert gone.status_code == 404
    again = await syncflow_client.delete(f"/api/v1/entities/{parent}", headers=operator_headers)
    assert again.status_code == 404


async def test_a_parent_cycle_is_refused(syncflow_client, operator_headers, post_entity, source):
    first, second = _name("first"), _name("second")
    await post_entity(name=first, api_slug="customers")
    await post_entity(
        name=second,
        api_slug="customers",
        parent_refs=[{"parent_entity": first, "fields": ["customer_no"]}],
    )
    response = await syncflow_client.put(
        f"/api/v1/entities/{first}",
        json={
            "source": source["name"],
            "api_slug": "customers",
            "parent_refs": [{"parent_entity": second, "fields": ["customer_no"]}],
        },
        headers=operator_headers,
    )
    assert response.status_code == 422
    assert "a cycle" in error_message(response)


async def test_delete_and_change_wait_for_a_running_batch(
    syncflow_client, operator_headers, post_entity, source, syncflow_settings
):
    name = _name("busy")
    await post_entity(name=name, api_slug="customers")
    conn = await asyncpg.connect(**asyncpg_dsn(to_async_url(syncflow_settings.database_url)))
    try:
        await conn.execute(
            "INSERT INTO sync_batches (uid, entity_name, mode, dry_run, status, counters, "
            "stage_seconds, warnings, progress, stop_requested, created_at) VALUES "
            "($1, $2, 'incremental', false, 'running', '{}', '{}', '[]', '{}', false, now())",
            uuid.uuid4(),
            name,
        )
        deleted = await syncflow_client.delete(f"/api/v1/entities/{name}", headers=operator_headers)
        changed = await syncflow_client.put(
            f"/api/v1/entities/{name}",
            json={"source": source["name"], "api_slug": "customers"},
            headers=operator_headers,
        )
    finally:
        await conn.execute("DELETE FROM sync_batches WHERE entity_name = $1", name)
        await conn.close()
    assert deleted.status_code == 409
    assert "running batch" in error_message(deleted)
    assert changed.status_code == 409


async def test_a_source_in_use_cannot_be_deleted(
    syncflow_client, operator_headers, post_entity, source
):
    await post_entity(name=_name("user"), api_slug="customers")
    response = await syncflow_client.delete(
        f"/api/v1/sources/{source['uid']}", headers=operator_headers
    )
    assert response.status_code == 409
    assert "is used by entities" in error_message(response)


async def test_load_spec_gives_the_runner_a_resolved_spec(post_entity, syncflow_settings, source):
    parent, child = _name("customers"), _name("orders")
    await post_entity(name=parent, api_slug="customers")
    await post_entity(
        name=child,
        api_slug="orders",
        field_mappings=[
            {"source_field": "order_no"},
            {"source_field": "amount", "target_field": "total", "required": True},
        ],
        parent_refs=[{"parent_entity": parent, "fields": ["customer_no"]}],
        delete_policy={"mode": "ignore"},
    )
    engine = create_engine(to_async_url(syncflow_settings.database_url), pool_size=1)
    try:
        async with Database(engine).transaction() as conn:
            spec = await load_spec(conn, child, source_timezone="Europe/Berlin")
            with pytest.raises(NotFound):
                await load_spec(conn, "nope")
    finally:
        await engine.dispose()
    assert spec.source_name == source["name"]
    assert spec.api_slug == "orders"
    assert spec.business_keys == ("order_no",)
    assert spec.rowversion_field == "rv"
    assert spec.delta_strategy is DeltaStrategy.ROWVERSION
    assert spec.fields == (
        FieldSpec("order_no", "order_no", FieldType.TEXT),
        FieldSpec("amount", "total", FieldType.NUMERIC, required=True),
    )
    assert spec.parent_refs == (ParentRef(parent, ("customer_no",), ("customer_no",)),)
    assert spec.delete_policy.mode is DeleteMode.IGNORE
    assert spec.api_type("amount") == "number"
    assert spec.source_timezone == "Europe/Berlin"
