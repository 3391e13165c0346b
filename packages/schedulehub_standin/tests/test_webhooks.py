"""Standard Webhooks deliveries to the stand-in: verified, applied once per webhook-id."""

import base64
import json
import time

import httpx
import pytest

from schedulehub_standin.testing import WEBHOOK_SECRET, signed_headers

OTHER_SECRET = "whsec_" + base64.b64encode(b"another secret, for the rotation").decode()


def payload(*events):
    return json.dumps(
        {"type": "erp.changes", "timestamp": "2026-12-05T18:00:00Z", "data": {"events": events}}
    ).encode()


def upsert(key, data_hash="d0", rowversion=1, **data):
    return {
        "op": "upsert",
        "key_hash": key,
        "data_hash": data_hash,
        "rowversion": rowversion,
        "data": data,
        "parent_key_hashes": {},
        "id": 17,  # fields SyncFlow's events carry that the stand-in ignores
    }


@pytest.fixture
async def hooks(schedulehub_standin):
    async with httpx.AsyncClient(base_url=schedulehub_standin.url) as client:
        yield client


async def test_a_signed_webhook_is_applied_once(hooks, schedulehub_standin):
    body = payload(upsert("a1", qty=1), upsert("b2"), upsert("a1", "d1", 2, qty=2))
    headers = signed_headers(body, webhook_id="msg_1")
    first = await hooks.post("/webhooks/orders", content=body, headers=headers)
    assert first.json() == {"webhook_id": "msg_1", "duplicate": False, "applied": 3}
    # the same webhook-id again (a retry, freshly signed): nothing applied twice
    again = await hooks.post(
        "/webhooks/orders", content=body, headers=signed_headers(body, webhook_id="msg_1")
    )
    assert again.json() == {"webhook_id": "msg_1", "duplicate": True, "applied": 0}

    control = schedulehub_standin.control
    [a1, b2] = await control.records("orders")
    assert (a1["erp_key_hash"], a1["qty"], a1["erp_data_hash"]) == ("a1", 2, "d1")
    assert b2["erp_key_hash"] == "b2"
    log = await control.log(key="a1")
    assert [(e["op"], e["via"], e["erp_rowversion"]) for e in log] == [
        ("insert", "webhook", "1"),
        ("update", "webhook", "2"),
    ]
    state = await control.state()
    assert state["webhooks"] == 1
    assert state["counters"]["webhooks_duplicate"] == 1


async def test_delete_events_soft_delete_and_an_unknown_key_is_no_change(
    hooks, schedulehub_standin
):
    created = payload(upsert("a1"))
    await hooks.post("/webhooks/orders", content=created, headers=signed_headers(created))
    deleted = payload({"op": "delete", "key_hash": "a1"}, {"op": "delete", "key_hash": "ff"})
    response = await hooks.post(
        "/webhooks/orders", content=deleted, headers=signed_headers(deleted)
    )
    assert response.json()["applied"] == 1
    state = await schedulehub_standin.control.state()
    assert state["records"] == {"orders": {"live": 0, "deleted": 1}}


async def test_any_active_secret_verifies(hooks, schedulehub_standin):
    await schedulehub_standin.control.set_webhook_secrets([OTHER_SECRET, WEBHOOK_SECRET])
    body = payload(upsert("a1"))
    # signed with a retired secret and the current one: one match is enough
    retired = "whsec_" + base64.b64encode(b"a secret retired long ago.......").decode()
    headers = signed_headers(body, secrets=[retired, OTHER_SECRET])
    assert (await hooks.post("/webhooks/orders", content=body, headers=headers)).status_code == 200


async def test_bad_signatures_are_refused(hooks, schedulehub_standin):
    body = payload(upsert("a1"))
    wrong = "whsec_" + base64.b64encode(b"not the stand-in's secret at all").decode()
    refused = await hooks.post(
        "/webhooks/orders", content=body, headers=signed_headers(body, secrets=[wrong])
    )
    assert (refused.status_code, refused.json()["detail"]) == (401, "no valid webhook signature")

    tampered = await hooks.post(
        "/webhooks/orders", content=payload(upsert("b2")), headers=signed_headers(body)
    )
    assert tampered.status_code == 401

    stale = signed_headers(body, timestamp=int(time.time()) - 3600)
    too_old = await hooks.post("/webhooks/orders", content=body, headers=stale)
    assert (too_old.status_code, too_old.json()["detail"]) == (
        401,
        "webhook-timestamp too far from now",
    )

    unsigned = await hooks.post(
        "/webhooks/orders", content=body, headers={"content-type": "application/json"}
    )
    assert unsigned.status_code == 400

    state = await schedulehub_standin.control.state()
    assert state["records"] == {}
    assert state["counters"]["webhooks_bad_signature"] == 3


async def test_a_rejected_webhook_applies_nothing_and_its_id_stays_free(hooks, schedulehub_standin):
    await schedulehub_standin.control.set_rules([{"field": "status", "equals": "BAD"}])
    body = payload(upsert("a1"), upsert("b2", status="BAD"))
    headers = signed_headers(body, webhook_id="msg_r")
    refused = await hooks.post("/webhooks/orders", content=body, headers=headers)
    assert refused.status_code == 422
    assert "events[1] (b2): status 'BAD' is not accepted" in refused.text
    assert (await schedulehub_standin.control.state())["records"] == {}

    await schedulehub_standin.control.set_rules([])
    replayed = await hooks.post(
        "/webhooks/orders", content=body, headers=signed_headers(body, webhook_id="msg_r")
    )
    assert replayed.json() == {"webhook_id": "msg_r", "duplicate": False, "applied": 2}


async def test_a_body_that_is_not_change_events_is_422(hooks):
    body = json.dumps({"type": "erp.changes", "data": {"rows": []}}).encode()
    response = await hooks.post("/webhooks/orders", content=body, headers=signed_headers(body))
    assert response.status_code == 422


async def test_control_refuses_a_secret_that_is_not_base64(schedulehub_standin):
    async with httpx.AsyncClient(base_url=schedulehub_standin.url) as client:
        response = await client.post(
            "/_control/webhook-secrets", json={"secrets": ["whsec_not base64!"]}
        )
    assert response.status_code == 422
