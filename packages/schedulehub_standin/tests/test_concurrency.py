"""Calls that race: the database, not the order of arrival, decides that a key is
inserted once and a record deleted once."""

import asyncio

from packages.schedulehub_standin.tests.standin_client import record


async def test_racing_inserts_of_one_key_store_it_once(api, schedulehub_standin):
    batch = {"records": [record(f"{i:04x}") for i in range(200)]}
    answers = await asyncio.gather(
        *(api.post("/orders/batch/insert", json=batch) for _ in range(4))
    )
    assert sum(a.json()["success_count"] for a in answers) == 200
    assert sum(a.json()["failure_count"] for a in answers) == 600
    state = await schedulehub_standin.control.state()
    assert state["applied"] == {"orders": {"insert": 200}}
    assert state["records"] == {"orders": {"live": 200, "deleted": 0}}


async def test_racing_deletes_of_one_record_delete_it_once(api, schedulehub_standin):
    await api.post("/orders/batch/insert", json={"records": [record("a1")]})
    [held] = (await api.post("/orders/batch/query", json={"erp_key_hashes": ["a1"]})).json()[
        "records"
    ]
    answers = await asyncio.gather(
        *(api.post("/orders/batch/delete", json={"uids": [held["uid"]]}) for _ in range(4))
    )
    assert sorted(a.json()["success_count"] for a in answers) == [0, 0, 0, 1]
    log = await schedulehub_standin.control.log(key="a1")
    assert [e["op"] for e in log] == ["insert", "delete"]
