"""Query and insert bodies, read by the stand-in itself (no body model): a body that is
not a batch gets a 422 naming the problem, PostgreSQL's checks of an insert's records
say what ``parse_record`` says of an update's, and the bodies are still documented."""

import json

import httpx
import pytest

from packages.schedulehub_standin.tests.standin_client import record

UNKNOWN_UID = "01900000-0000-7000-8000-000000000000"


@pytest.mark.parametrize(
    ("body", "loc", "msg"),
    [
        (b'{"records": [', ["body"], "the body is not valid JSON"),
        (b'{"records": [{"qty": NaN}]}', ["body"], "the body is not valid JSON"),
        (b"\xff\xfe", ["body"], "the body is not valid JSON"),
        (b"[]", ["body"], "the body must be an object: {records: [...]}"),
        (b'{"record": []}', ["body", "records"], "records is required"),
        (b'{"records": {}}', ["body", "records"], "records must be a list of records"),
        (b'{"records": [{}, 7]}', ["body", "records", 1], "records[1] must be an object"),
    ],
)
async def test_an_insert_body_that_is_not_a_batch_is_refused(
    api, schedulehub_standin, body, loc, msg
):
    response = await api.post(
        "/orders/batch/insert", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": [{"loc": loc, "msg": msg, "type": "value_error"}]}
    state = await schedulehub_standin.control.state()
    assert state["records"] == {}
    assert "calls_insert" not in state["counters"]


@pytest.mark.parametrize(
    ("body", "loc", "msg"),
    [
        (b'{"erp_key_hashes": [', ["body"], "the body is not valid JSON"),
        (b'"a1"', ["body"], "the body must be an object: {erp_key_hashes: [...]}"),
        (b"{}", ["body", "erp_key_hashes"], "erp_key_hashes is required"),
        (
            b'{"erp_key_hashes": "a1"}',
            ["body", "erp_key_hashes"],
            "erp_key_hashes must be a list of key hashes",
        ),
        (
            b'{"erp_key_hashes": ["a1", 12]}',
            ["body", "erp_key_hashes", 1],
            "erp_key_hashes[1] must be a string",
        ),
    ],
)
async def test_a_query_body_that_is_not_a_list_of_keys_is_refused(api, body, loc, msg):
    response = await api.post(
        "/orders/batch/query", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json() == {"detail": [{"loc": loc, "msg": msg, "type": "value_error"}]}


async def test_an_insert_over_the_batch_limit_changes_nothing(api, schedulehub_standin):
    records = [record(f"{i:04x}") for i in range(1001)]
    response = await api.post("/orders/batch/insert", json={"records": records})
    assert response.status_code == 422
    assert "at most 1000 records per call, got 1001" in response.text
    state = await schedulehub_standin.control.state()
    assert (state["records"], state["applied"]) == ({}, {})
    assert state["counters"]["calls_insert"] == 1


# records PostgreSQL accepts or refuses as records._parse does (a falsy parent_refs is
# no parent; a bool rowversion is a number to Python)
ODD_RECORDS = [
    record("a1", parents=[]),
    record("a2", parents=0),
    record("a3", parents=""),
    record("a4", parents=None),
    record("a5", parents={"parts": None}),
    record("a6", parents={"parts": 5}),
    record("a7", parents="parts"),
    record("a8", parents=[1]),
    record("b1", rowversion=True),
    record("b2", rowversion=None),
    record("b3", rowversion=[1]),
    record("b4", ref=5),
    record("b5", ref=None),
    record("ABCdef"),
    record("ab\n"),
    record("ab cd"),
    {**record("c1"), "erp_key_hash": 12},
    record("c2", data_hash=""),
    record("c3", data_hash="D0"),
    {**record("c4"), "erp_data_hash": None},
    {**record("c5"), "uid": UNKNOWN_UID},
]


async def test_insert_checks_records_as_update_does(api, schedulehub_standin):
    inserted = (await api.post("/orders/batch/insert", json={"records": ODD_RECORDS})).json()
    counters = (await schedulehub_standin.control.state())["counters"]
    updates = [{"uid": UNKNOWN_UID, "data": sent} for sent in ODD_RECORDS]
    updated = (await api.post("/orders/batch/update", json={"updates": updates})).json()

    insert_errors = [(f["record"]["erp_key_hash"], f["error"]) for f in inserted["failures"]]
    update_errors = [
        (f["record"]["data"]["erp_key_hash"], f["error"])
        for f in updated["failures"]
        if f["error"] != "no record with this uid"
    ]
    assert insert_errors == update_errors
    refused = ["a6", "a7", "a8", "b3", "b4", "ab\n", "ab cd", 12, "c2", "c4"]
    assert [key for key, _ in insert_errors] == refused
    assert inserted["success_count"] == len(ODD_RECORDS) - len(refused)
    assert counters["rejected_invalid"] == len(refused)

    held = {r["erp_key_hash"]: r for r in await schedulehub_standin.control.records("orders")}
    assert held["a1"]["parent_refs"] == held["a2"]["parent_refs"] == {}
    assert held["a5"]["parent_refs"] == {"parts": None}
    assert held["b1"]["erp_rowversion"] == "True"
    assert held["b2"]["erp_rowversion"] is None
    assert held["b5"]["erp_ref_str"] is None
    assert held["c5"]["uid"] != UNKNOWN_UID
    assert "ABCdef" in held


async def test_failures_come_in_the_order_they_were_found(api, schedulehub_standin):
    await schedulehub_standin.control.set_rules(
        [{"field": "qty", "equals": 0, "error": "no zero"}], require_parents=True
    )
    await api.post("/orders/batch/insert", json={"records": [record("a1")]})
    response = await api.post(
        "/orders/batch/insert",
        json={
            "records": [
                record("a1"),  # held already: found last
                record("b2", parents={"parts": "f1"}),  # no parent: found after the checks
                record("c3", qty=0),
                record("d4", erp_ref_str=1),
                record("c3"),
                record("e5", qty=1),
                record("e5"),
            ]
        },
    )
    body = response.json()
    assert body["success_count"] == 2
    assert [(f["record"]["erp_key_hash"], f["error"]) for f in body["failures"]] == [
        ("c3", "no zero"),
        ("d4", "erp_ref_str must be a string"),
        ("e5", "erp_key_hash appears twice in this call"),
        ("b2", "parent parts f1 not found"),
        ("a1", "a record with erp_key_hash a1 exists already"),
    ]
    counters = (await schedulehub_standin.control.state())["counters"]
    assert {name: n for name, n in counters.items() if name.startswith("rejected_")} == {
        "rejected_rule": 1,
        "rejected_invalid": 1,
        "rejected_duplicate": 2,
        "rejected_parent": 1,
    }


async def test_a_failed_record_is_answered_digit_for_digit(api):
    body = json.dumps({"records": [record("a1", rowversion=1), record("a1", rowversion=2)]})
    body = body.replace('"erp_rowversion": 2', '"erp_rowversion": 2, "qty": 123456789012.345678')
    response = await api.post(
        "/orders/batch/insert", content=body, headers={"content-type": "application/json"}
    )
    assert '"qty": 123456789012.345678' in response.text
    assert response.json()["failure_count"] == 1


async def test_the_bodies_are_documented(schedulehub_standin):
    async with httpx.AsyncClient(base_url=schedulehub_standin.api_url) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    for call, field in (("insert", "records"), ("query", "erp_key_hashes")):
        body = paths[f"/api/v1/{{entity}}/batch/{call}"]["post"]["requestBody"]
        schema = body["content"]["application/json"]["schema"]
        assert schema["required"] == [field]
