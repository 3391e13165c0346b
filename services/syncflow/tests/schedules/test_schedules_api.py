"""The schedules API: create, list, read, replace, delete, and what it refuses."""

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bridge_core.testing.errors import error_message

CASES = json.loads((Path(__file__).parent / "schedule_422_cases.json").read_text())


async def test_create_list_read_replace_and_delete(
    syncflow_client, operator_headers, customers_entity
):
    body = {
        "entity": customers_entity,
        "mode": "full",
        "cron": "0 19 * * 1-5",
        "timezone": "Europe/Berlin",
        "window_start": "19:00",
        "window_end": "07:00",
        "days_to_complete": 3,
    }
    created = await syncflow_client.post("/api/v1/schedules", json=body, headers=operator_headers)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert {k: schedule[k] for k in body} == body
    assert schedule["interval_seconds"] is None
    assert schedule["is_active"] is True
    # the next weekday 19:00 in Berlin
    next_run = datetime.fromisoformat(schedule["next_run_at"])
    assert next_run > datetime.now(UTC)
    local = next_run.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute, local.weekday() < 5) == (19, 0, True)

    uid = schedule["uid"]
    listing = await syncflow_client.get(
        f"/api/v1/schedules?entity={customers_entity}", headers=operator_headers
    )
    assert listing.status_code == 200
    page = listing.json()
    assert (page["total"], page["page"], page["page_size"]) == (1, 1, 50)
    assert [item["uid"] for item in page["items"]] == [uid]

    replaced = await syncflow_client.put(
        f"/api/v1/schedules/{uid}",
        json={"entity": customers_entity, "interval_seconds": 1, "is_active": True},
        headers=operator_headers,
    )
    assert replaced.status_code == 200, replaced.text
    changed = replaced.json()
    assert (changed["interval_seconds"], changed["cron"], changed["window_start"]) == (
        1,
        None,
        None,
    )
    assert changed["mode"] == "incremental"
    # an interval runs at once
    assert datetime.fromisoformat(changed["next_run_at"]) <= datetime.now(UTC)

    paused = await syncflow_client.put(
        f"/api/v1/schedules/{uid}",
        json={"entity": customers_entity, "interval_seconds": 60, "is_active": False},
        headers=operator_headers,
    )
    assert paused.json()["next_run_at"] is None

    # an entity with a schedule cannot be deleted
    blocked = await syncflow_client.delete(
        f"/api/v1/entities/{customers_entity}", headers=operator_headers
    )
    assert blocked.status_code == 409
    assert "schedule" in error_message(blocked)

    deleted = await syncflow_client.delete(f"/api/v1/schedules/{uid}", headers=operator_headers)
    assert deleted.status_code == 204
    for method in ("GET", "DELETE"):
        gone = await syncflow_client.request(
            method, f"/api/v1/schedules/{uid}", headers=operator_headers
        )
        assert gone.status_code == 404
    missing = await syncflow_client.put(
        f"/api/v1/schedules/{uuid.uuid4()}",
        json={"entity": customers_entity, "interval_seconds": 60},
        headers=operator_headers,
    )
    assert missing.status_code == 404


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
async def test_invalid_schedules_are_422_saying_why(
    syncflow_client, operator_headers, customers_entity, case
):
    response = await syncflow_client.post(
        "/api/v1/schedules",
        json={"entity": customers_entity, **case["body"]},
        headers=operator_headers,
    )
    assert response.status_code == 422, response.text
    assert case["message"] in json.dumps(error_message(response))


async def test_unknown_entity_is_422(syncflow_client, operator_headers):
    response = await syncflow_client.post(
        "/api/v1/schedules",
        json={"entity": "no_such_entity", "interval_seconds": 60},
        headers=operator_headers,
    )
    assert response.status_code == 422
    assert error_message(response) == "entity: unknown entity 'no_such_entity'"


async def test_cron_that_never_fires_is_422(syncflow_client, operator_headers, customers_entity):
    response = await syncflow_client.post(
        "/api/v1/schedules",
        json={"entity": customers_entity, "cron": "0 0 31 2 *"},
        headers=operator_headers,
    )
    assert response.status_code == 422
    assert error_message(response) == "cron: the cron expression never fires"


async def test_schedules_need_a_token(syncflow_client):
    assert (await syncflow_client.get("/api/v1/schedules")).status_code == 401
