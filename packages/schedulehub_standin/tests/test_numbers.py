"""Numbers keep every digit through the stand-in: sent, stored, queried, listed."""

import json
from decimal import Decimal

import httpx

from packages.schedulehub_standin.tests.standin_client import record
from schedulehub_standin.testing import signed_headers

QTY = "123456789012.345678"  # 18 significant digits: a float keeps 17
BIG = "123456789012345678901234567890"


def exact(response: httpx.Response):
    return json.loads(response.text, parse_float=Decimal)


async def test_batch_records_keep_every_digit(api, schedulehub_standin):
    body = json.dumps({"records": [record("a1", rowversion=1)]})
    body = body.replace('"erp_rowversion": 1', f'"erp_rowversion": {BIG}, "qty": {QTY}')
    inserted = await api.post(
        "/orders/batch/insert", content=body, headers={"content-type": "application/json"}
    )
    assert inserted.json()["success_count"] == 1, inserted.text

    found = await api.post("/orders/batch/query", json={"erp_key_hashes": ["a1"]})
    [held] = exact(found)["records"]
    assert held["qty"] == Decimal(QTY)
    assert f'"qty": {QTY}' in found.text
    assert held["erp_rowversion"] == BIG

    update = json.dumps({"updates": [{"uid": held["uid"], "data": record("a1", "d1")}]})
    update = update.replace(
        '"erp_rowversion": 1', '"erp_rowversion": 2, "qty": 0.1000000000000000055'
    )
    updated = await api.post(
        "/orders/batch/update", content=update, headers={"content-type": "application/json"}
    )
    assert updated.json()["success_count"] == 1, updated.text
    async with httpx.AsyncClient(base_url=schedulehub_standin.url) as control:
        [row] = exact(await control.get("/_control/records/orders"))
    assert row["qty"] == Decimal("0.1000000000000000055")


async def test_webhook_events_keep_every_digit(schedulehub_standin):
    body = (
        '{"type": "syncflow.changes", "data": {"events": [{"op": "upsert", "key_hash": "a1",'
        f' "data_hash": "d0", "rowversion": 7, "data": {{"qty": {QTY}}}}}]}}}}'
    ).encode()
    async with httpx.AsyncClient(base_url=schedulehub_standin.url) as client:
        response = await client.post("/webhooks/orders", content=body, headers=signed_headers(body))
        assert response.status_code == 200, response.text
        [row] = exact(await client.get("/_control/records/orders"))
    assert row["qty"] == Decimal(QTY)


async def test_nan_is_not_a_number_it_accepts(api):
    response = await api.post(
        "/orders/batch/insert",
        content=b'{"records": [{"erp_key_hash": "a1", "erp_data_hash": "d0", "qty": NaN}]}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
