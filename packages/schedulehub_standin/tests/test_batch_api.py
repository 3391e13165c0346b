"""ScheduleHub's batch API on the stand-in: query, insert, update, soft delete, per-record
failures, rules, parents, and the apply log."""

import httpx

from packages.schedulehub_standin.tests.standin_client import record


async def test_insert_query_update_delete_round_trip(api, schedulehub_standin):
    inserted = await api.post(
        "/orders/batch/insert",
        json={"records": [record("a1", qty=3, parents={"parts": "f0"}), record("b2", qty=5)]},
    )
    assert inserted.json() == {"success_count": 2, "failure_count": 0, "failures": []}

    found = await api.post("/orders/batch/query", json={"erp_key_hashes": ["a1", "b2", "c3"]})
    held = {r["erp_key_hash"]: r for r in found.json()["records"]}
    assert set(held) == {"a1", "b2"}
    assert held["a1"]["qty"] == 3
    assert held["a1"]["parent_refs"] == {"parts": "f0"}
    assert held["a1"]["erp_ref_str"] == "ref-a1"
    assert held["a1"]["erp_rowversion"] == "1"

    updated = await api.post(
        "/orders/batch/update",
        json={
            "updates": [{"uid": held["a1"]["uid"], "data": record("a1", "d1", qty=4, rowversion=2)}]
        },
    )
    assert updated.json()["success_count"] == 1
    deleted = await api.post("/orders/batch/delete", json={"uids": [held["b2"]["uid"]]})
    assert deleted.json()["success_count"] == 1

    found = await api.post("/orders/batch/query", json={"erp_key_hashes": ["a1", "b2"]})
    [a1] = found.json()["records"]
    assert (a1["erp_key_hash"], a1["qty"], a1["erp_data_hash"]) == ("a1", 4, "d1")
    assert a1["uid"] == held["a1"]["uid"]

    control = schedulehub_standin.control
    state = await control.state()
    assert state["records"] == {"orders": {"live": 1, "deleted": 1}}
    calls = {name: n for name, n in state["counters"].items() if name.startswith("calls_")}
    assert calls == {"calls_query": 2, "calls_insert": 1, "calls_update": 1, "calls_delete": 1}
    assert state["applied"] == {"orders": {"insert": 2, "update": 1, "delete": 1}}
    log = await control.log(entity="orders", key="a1")
    assert [(e["op"], e["erp_data_hash"], e["erp_rowversion"]) for e in log] == [
        ("insert", "d0", "1"),
        ("update", "d1", "2"),
    ]
    everything = await control.records("orders", include_deleted=True)
    assert [(r["erp_key_hash"], r["deleted_at"] is None) for r in everything] == [
        ("a1", True),
        ("b2", False),
    ]
    assert [r["erp_key_hash"] for r in await control.records("orders")] == ["a1"]


async def test_inserting_a_held_key_fails_per_record(api, schedulehub_standin):
    await api.post("/orders/batch/insert", json={"records": [record("a1")]})
    again = await api.post(
        "/orders/batch/insert", json={"records": [record("a1"), record("b2"), record("b2")]}
    )
    body = again.json()
    assert (body["success_count"], body["failure_count"]) == (1, 2)
    errors = {f["error"] for f in body["failures"]}
    assert errors == {
        "a record with erp_key_hash a1 exists already",
        "erp_key_hash appears twice in this call",
    }
    assert body["failures"][0]["record"]["erp_key_hash"] in {"a1", "b2"}
    state = await schedulehub_standin.control.state()
    assert state["applied"] == {"orders": {"insert": 2}}
    assert state["counters"]["rejected_duplicate"] == 2


async def test_entities_are_separate(api, schedulehub_standin):
    await api.post("/orders/batch/insert", json={"records": [record("a1")]})
    other = await api.post("/parts/batch/insert", json={"records": [record("a1")]})
    assert other.json()["success_count"] == 1
    assert (await schedulehub_standin.control.state())["records"] == {
        "orders": {"live": 1, "deleted": 0},
        "parts": {"live": 1, "deleted": 0},
    }


async def test_a_deleted_key_can_be_inserted_again_with_a_new_uid(api, schedulehub_standin):
    await api.post("/orders/batch/insert", json={"records": [record("a1")]})
    [held] = (await api.post("/orders/batch/query", json={"erp_key_hashes": ["a1"]})).json()[
        "records"
    ]
    await api.post("/orders/batch/delete", json={"uids": [held["uid"]]})
    again = await api.post("/orders/batch/insert", json={"records": [record("a1", "d9")]})
    assert again.json()["success_count"] == 1
    [revived] = (await api.post("/orders/batch/query", json={"erp_key_hashes": ["a1"]})).json()[
        "records"
    ]
    assert revived["uid"] != held["uid"]
    assert revived["erp_data_hash"] == "d9"
    log = await schedulehub_standin.control.log(key="a1")
    assert [e["op"] for e in log] == ["insert", "delete", "insert"]


async def test_update_and_delete_of_unknown_or_deleted_uids_fail(api):
    await api.post("/orders/batch/insert", json={"records": [record("a1"), record("b2")]})
    held = (await api.post("/orders/batch/query", json={"erp_key_hashes": ["a1", "b2"]})).json()
    uids = {r["erp_key_hash"]: r["uid"] for r in held["records"]}
    await api.post("/orders/batch/delete", json={"uids": [uids["b2"]]})
    unknown = "01900000-0000-7000-8000-000000000000"

    updated = await api.post(
        "/orders/batch/update",
        json={
            "updates": [
                {"uid": unknown, "data": record("c3")},
                {"uid": uids["b2"], "data": record("b2", "d1")},
                {"uid": uids["a1"], "data": record("ff", "d1")},
                {"uid": "not-a-uid", "data": record("a1")},
                {"uid": uids["a1"], "data": {"erp_data_hash": "d2", "qty": 1}},
            ]
        },
    )
    body = updated.json()
    assert body["success_count"] == 1
    assert [f["error"] for f in body["failures"]] == [
        "uid is not a uuid",
        "no record with this uid",
        "the record with this uid is deleted",
        "erp_key_hash cannot change (held: a1)",
    ]

    deleted = await api.post(
        "/orders/batch/delete", json={"uids": [unknown, uids["b2"], uids["a1"], uids["a1"]]}
    )
    body = deleted.json()
    assert body["success_count"] == 1
    assert [f["error"] for f in body["failures"]] == [
        "no record with this uid",
        "the record with this uid is deleted",
        "the record with this uid is deleted",
    ]
    assert body["failures"][0]["record"] == {"uid": unknown}


async def test_an_update_naming_a_uid_twice_applies_the_first_and_fails_the_second(
    api, schedulehub_standin
):
    await api.post("/orders/batch/insert", json={"records": [record("a1"), record("b2")]})
    held = (await api.post("/orders/batch/query", json={"erp_key_hashes": ["a1", "b2"]})).json()
    uids = {r["erp_key_hash"]: r["uid"] for r in held["records"]}
    updated = await api.post(
        "/orders/batch/update",
        json={
            "updates": [
                {"uid": uids["a1"], "data": record("a1", "d1", qty=1)},
                {"uid": uids["b2"], "data": record("b2", "d1", qty=2)},
                {"uid": uids["a1"], "data": record("a1", "d2", qty=3)},
            ]
        },
    )
    body = updated.json()
    assert body["success_count"] == 2
    assert [f["error"] for f in body["failures"]] == ["uid appears twice in this call"]
    found = await api.post("/orders/batch/query", json={"erp_key_hashes": ["a1", "b2"]})
    assert {r["erp_key_hash"]: (r["erp_data_hash"], r["qty"]) for r in found.json()["records"]} == {
        "a1": ("d1", 1),
        "b2": ("d1", 2),
    }
    log = await schedulehub_standin.control.log(entity="orders")
    assert [(e["erp_key_hash"], e["op"], e["erp_data_hash"]) for e in log] == [
        ("a1", "insert", "d0"),
        ("b2", "insert", "d0"),
        ("a1", "update", "d1"),
        ("b2", "update", "d1"),
    ]


async def test_records_that_are_not_records_fail_alone(api):
    response = await api.post(
        "/orders/batch/insert",
        json={
            "records": [
                {"erp_data_hash": "d0"},
                {"erp_key_hash": "not hex", "erp_data_hash": "d0"},
                {"erp_key_hash": "a1"},
                record("b2", parents=["x"]),
                record("c3", rowversion={"x": 1}),
                record("d4"),
            ]
        },
    )
    body = response.json()
    assert body["success_count"] == 1
    assert [f["error"] for f in body["failures"]] == [
        "erp_key_hash must be a hex string",
        "erp_key_hash must be a hex string",
        "erp_data_hash must be a hex string",
        "parent_refs must map parent entities to key hashes",
        "erp_rowversion must be a string or a number",
    ]


async def test_rules_reject_matching_records(api, schedulehub_standin):
    await schedulehub_standin.control.set_rules(
        [
            {"field": "status", "equals": "BROKEN", "error": "status BROKEN is not allowed"},
            {"entity": "orders", "field": "part_no", "pattern": "^X"},
            {"entity": "parts", "field": "qty", "equals": 0},
        ]
    )
    response = await api.post(
        "/orders/batch/insert",
        json={
            "records": [
                record("a1", status="BROKEN"),
                record("b2", part_no="X-17"),
                record("c3", part_no="P-17", qty=0),
            ]
        },
    )
    body = response.json()
    assert body["success_count"] == 1
    assert [f["error"] for f in body["failures"]] == [
        "status BROKEN is not allowed",
        "part_no 'X-17' is not accepted",
    ]
    [held] = (await api.post("/orders/batch/query", json={"erp_key_hashes": ["c3"]})).json()[
        "records"
    ]
    update = {"uid": held["uid"], "data": record("c3", "d1", status="BROKEN")}
    rejected = await api.post("/orders/batch/update", json={"updates": [update]})
    assert rejected.json()["failures"][0]["error"] == "status BROKEN is not allowed"

    # the cause fixed (rules cleared), the same records go in
    await schedulehub_standin.control.set_rules([])
    again = await api.post(
        "/orders/batch/insert", json={"records": [record("a1", status="BROKEN")]}
    )
    assert again.json()["success_count"] == 1
    state = await schedulehub_standin.control.state()
    assert state["counters"]["rejected_rule"] == 3


async def test_require_parents_rejects_children_before_their_parents(api, schedulehub_standin):
    await schedulehub_standin.control.set_rules(require_parents=True)
    child = record("c1", parents={"parts": "f1", "sites": None})
    early = await api.post("/orders/batch/insert", json={"records": [child]})
    assert early.json()["failures"][0]["error"] == "parent parts f1 not found"
    await api.post("/parts/batch/insert", json={"records": [record("f1")]})
    late = await api.post("/orders/batch/insert", json={"records": [child]})
    assert late.json()["success_count"] == 1


async def test_a_call_over_the_batch_limit_is_refused_whole(api, schedulehub_standin):
    keys = [f"{i:04x}" for i in range(1001)]
    response = await api.post("/orders/batch/query", json={"erp_key_hashes": keys})
    assert response.status_code == 422
    assert "at most 1000 erp_key_hashes per call" in response.text


async def test_the_api_needs_a_valid_token(schedulehub_standin):
    async with httpx.AsyncClient(base_url=schedulehub_standin.api_url) as client:
        assert (await client.get("/health")).json()["status"] == "ok"
        missing = await client.post("/orders/batch/query", json={"erp_key_hashes": []})
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = await client.post(
            "/orders/batch/query",
            json={"erp_key_hashes": []},
            headers={"Authorization": "Bearer nope"},
        )
        assert (wrong.status_code, wrong.json()["detail"]) == (401, "invalid token")
        bad_login = await client.post(
            "/auth/login", json={"username": schedulehub_standin.username, "password": "wrong"}
        )
        assert bad_login.status_code == 401
