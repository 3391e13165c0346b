"""The destinations API: ScheduleHub and webhook destinations, credentials never echoed."""

import base64
import uuid

import asyncpg
import pytest

from bridge_core.db.engine import asyncpg_dsn, to_async_url
from bridge_core.testing.errors import error_message

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()
ROTATED_SECRET = "whsec_" + base64.b64encode(b"r" * 32).decode()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def post_destination(syncflow_client, operator_headers):
    async def post(**body):
        body.setdefault("name", _name("dest"))
        return await syncflow_client.post(
            "/api/v1/destinations", json=body, headers=operator_headers
        )

    return post


async def test_a_schedulehub_destination_is_stored_without_echoing_its_password(
    syncflow_client, operator_headers, post_destination, customers_entity, log_lines
):
    response = await post_destination(
        kind="schedulehub",
        url="http://127.0.0.1:9100/",
        entities=[customers_entity],
        entity_paths={customers_entity: "customer-master"},
        api_prefix="/api/v1/",
        username="syncflow",
        password="pw-secret-1",
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["url"] == "http://127.0.0.1:9100"
    assert body["api_prefix"] == "/api/v1"
    assert body["entity_paths"] == {customers_entity: "customer-master"}
    assert (body["has_password"], body["has_token"], body["secret_count"]) == (True, False, 0)
    assert (body["batch_size"], body["timeout_s"], body["paused"]) == (500, 30, False)
    fetched = await syncflow_client.get(
        f"/api/v1/destinations/{body['uid']}", headers=operator_headers
    )
    listed = await syncflow_client.get(
        "/api/v1/destinations", params={"kind": "schedulehub"}, headers=operator_headers
    )
    assert fetched.json() == body
    assert body in listed.json()["items"]
    for text in (response.text, fetched.text, listed.text, *log_lines):
        assert "pw-secret-1" not in text


async def test_credentials_are_encrypted_at_rest(post_destination, syncflow_settings):
    name = _name("at-rest")
    response = await post_destination(
        name=name, kind="webhook", url="https://hooks.example/in", secrets=[WEBHOOK_SECRET]
    )
    assert response.status_code == 201, response.text
    assert response.json()["secret_count"] == 1
    assert WEBHOOK_SECRET not in response.text
    conn = await asyncpg.connect(**asyncpg_dsn(to_async_url(syncflow_settings.database_url)))
    try:
        stored = await conn.fetchval(
            "SELECT credentials_encrypted FROM destinations WHERE name = $1", name
        )
    finally:
        await conn.close()
    assert WEBHOOK_SECRET.encode() not in stored
    assert WEBHOOK_SECRET.removeprefix("whsec_").encode() not in stored


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"kind": "schedulehub", "url": "http://sh:9100"}, "needs username and password, or token"),
        (
            {"kind": "schedulehub", "url": "http://sh:9100", "password": "p", "token": "t"},
            "password given without username",
        ),
        (
            {"kind": "schedulehub", "url": "http://u:p@sh:9100", "token": "t"},
            "must not carry credentials",
        ),
        ({"kind": "schedulehub", "url": "ftp://sh", "token": "t"}, "http(s) URL"),
        (
            {"kind": "schedulehub", "url": "http://sh", "token": "t", "api_prefix": "api"},
            "api_prefix must start with '/'",
        ),
        (
            {"kind": "schedulehub", "url": "http://sh", "token": "t", "secrets": [WEBHOOK_SECRET]},
            "secrets are for webhooks",
        ),
        ({"kind": "webhook", "url": "https://hooks.example"}, "at least one secret"),
        (
            {"kind": "webhook", "url": "http://hooks.example", "secrets": [WEBHOOK_SECRET]},
            "must be https",
        ),
        ({"kind": "webhook", "url": "https://h.example", "secrets": ["abc"]}, "secrets[0]"),
        (
            {"kind": "webhook", "url": "https://h.example", "secrets": ["whsec_!!"]},
            "not base64",
        ),
        (
            {"kind": "webhook", "url": "https://h.example", "secrets": ["whsec_YWJj"]},
            "24 to 64 bytes",
        ),
        (
            {
                "kind": "webhook",
                "url": "https://h.example",
                "secrets": [WEBHOOK_SECRET],
                "token": "t",
            },
            "signed with secrets",
        ),
        (
            {"kind": "schedulehub", "url": "http://sh", "token": "t", "entities": ["nope"]},
            "unknown entities: nope",
        ),
    ],
)
async def test_a_bad_destination_is_422_naming_the_problem(post_destination, body, detail):
    response = await post_destination(**body)
    assert response.status_code == 422, response.text
    assert detail in error_message(response)
    assert WEBHOOK_SECRET not in response.text


async def test_unknown_fields_and_out_of_range_values_are_422(post_destination):
    extra = await post_destination(kind="webhook", url="https://h", secrets=[], colour="red")
    too_big = await post_destination(kind="schedulehub", url="http://sh", token="t", batch_size=0)
    assert (extra.status_code, too_big.status_code) == (422, 422)


async def test_a_name_is_unique(post_destination):
    name = _name("twice")
    first = await post_destination(name=name, kind="schedulehub", url="http://sh", token="t")
    second = await post_destination(name=name, kind="schedulehub", url="http://sh", token="t")
    assert (first.status_code, second.status_code) == (201, 409)


async def test_patch_rotates_secrets_and_checks_the_whole_result(
    syncflow_client, operator_headers, post_destination, log_lines
):
    created = (
        await post_destination(kind="webhook", url="https://h.example", secrets=[WEBHOOK_SECRET])
    ).json()
    path = f"/api/v1/destinations/{created['uid']}"
    rotated = await syncflow_client.patch(
        path,
        json={"secrets": [ROTATED_SECRET, WEBHOOK_SECRET], "batch_size": 50},
        headers=operator_headers,
    )
    assert rotated.status_code == 200, rotated.text
    assert (rotated.json()["secret_count"], rotated.json()["batch_size"]) == (2, 50)
    emptied = await syncflow_client.patch(path, json={"secrets": []}, headers=operator_headers)
    assert emptied.status_code == 422
    assert "at least one secret" in error_message(emptied)
    unchanged = await syncflow_client.get(path, headers=operator_headers)
    assert unchanged.json()["secret_count"] == 2
    for text in (rotated.text, *log_lines):
        assert ROTATED_SECRET not in text


async def test_pause_shows_the_reason_until_resumed(
    syncflow_client, operator_headers, post_destination
):
    created = (await post_destination(kind="schedulehub", url="http://sh", token="t")).json()
    path = f"/api/v1/destinations/{created['uid']}"
    paused = await syncflow_client.post(
        f"{path}/pause", json={"reason": "ScheduleHub maintenance"}, headers=operator_headers
    )
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    assert paused.json()["pause_reason"] == "ScheduleHub maintenance"
    listed = await syncflow_client.get(
        "/api/v1/destinations", params={"paused": "true"}, headers=operator_headers
    )
    assert created["uid"] in [item["uid"] for item in listed.json()["items"]]
    resumed = await syncflow_client.post(f"{path}/resume", headers=operator_headers)
    assert resumed.json()["paused"] is False
    assert resumed.json()["pause_reason"] is None


async def test_listing_pages_are_bounded(syncflow_client, operator_headers, post_destination):
    for _ in range(3):
        await post_destination(kind="schedulehub", url="http://sh", token="t")
    page = await syncflow_client.get(
        "/api/v1/destinations", params={"page": 2, "page_size": 2}, headers=operator_headers
    )
    assert page.status_code == 200
    assert (page.json()["page"], page.json()["page_size"]) == (2, 2)
    assert page.json()["total"] >= 3
    assert len(page.json()["items"]) >= 1
    too_large = await syncflow_client.get(
        "/api/v1/destinations", params={"page_size": 1000}, headers=operator_headers
    )
    assert too_large.status_code == 422


async def test_unknown_uid_is_404_and_delete_removes(
    syncflow_client, operator_headers, post_destination
):
    missing = f"/api/v1/destinations/{uuid.uuid4()}"
    assert (await syncflow_client.get(missing, headers=operator_headers)).status_code == 404
    assert (
        await syncflow_client.post(f"{missing}/pause", headers=operator_headers)
    ).status_code == 404
    created = (await post_destination(kind="schedulehub", url="http://sh", token="t")).json()
    path = f"/api/v1/destinations/{created['uid']}"
    assert (await syncflow_client.delete(path, headers=operator_headers)).status_code == 204
    assert (await syncflow_client.get(path, headers=operator_headers)).status_code == 404


async def test_an_operator_token_is_required(syncflow_client):
    assert (await syncflow_client.get("/api/v1/destinations")).status_code == 401
