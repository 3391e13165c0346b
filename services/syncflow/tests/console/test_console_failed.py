"""Failed records in the console (HTTP, the real app, its worker and database): retry the
ticked ones only, dismiss others, and the batch list's date filter."""

import asyncio
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest


async def _finished(client, headers, batch_uid):
    for _ in range(300):
        status = (await client.get(f"/api/v1/sync/status/{batch_uid}", headers=headers)).json()
        if status["status"] not in ("pending", "running"):
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(status)


async def _failed(client, headers, entity):
    page = await client.get(
        f"/api/v1/monitoring/failed-records?entity={entity}&include_resolved=true",
        headers=headers,
    )
    return {r["raw_data"]["part_no"]: r for r in page.json()["items"]}


@pytest.fixture
async def parts(syncflow_client, admin_headers, define_parts):
    """An entity whose first full sync failed three rows (no description, required);
    then the mapping stops requiring it, so a retry loads them."""
    rows = [
        {"part_no": f"P{i}", "description": None if i in (2, 3, 4) else f"part {i}", "rv": i}
        for i in range(1, 6)
    ]
    body = await define_parts(
        rows,
        [
            {"source_field": "part_no", "required": True},
            {"source_field": "description", "required": True},
            {"source_field": "rv"},
        ],
    )
    name = body["name"]
    batch = await syncflow_client.post(
        "/api/v1/sync/start", json={"entity": name, "mode": "full"}, headers=admin_headers
    )
    assert (await _finished(syncflow_client, admin_headers, batch.json()["batch_uid"]))["counters"][
        "failed"
    ] == 3
    body["field_mappings"][1]["required"] = False
    changed = await syncflow_client.put(
        f"/api/v1/entities/{name}", json=body, headers=admin_headers
    )
    assert changed.status_code == 200, changed.text
    return name


async def test_retry_the_ticked_records_and_dismiss_another(
    syncflow_client, sign_in, admin_headers, parts
):
    csrf = await sign_in("operator")
    page = await syncflow_client.get(f"/console/failed?entity={parts}")
    assert page.text.count('name="record_uid"') == 3
    assert "Retry selected" in page.text
    assert "Dismiss selected" in page.text
    failed = await _failed(syncflow_client, admin_headers, parts)

    retried = await syncflow_client.post(
        "/console/failed/selected",
        data={"action": "retry", "record_uid": [failed["P2"]["uid"]], "csrf_token": csrf},
    )
    assert retried.status_code == 303
    batch_uid = retried.headers["location"].rsplit("/", 1)[1]
    batch = await _finished(syncflow_client, admin_headers, batch_uid)
    assert (batch["mode"], batch["counters"]["fetched"]) == ("retry", 1)

    back = f"/console/failed?entity={parts}"
    dismissed = await syncflow_client.post(
        "/console/failed/selected",
        data={
            "action": "dismiss",
            "record_uid": [failed["P3"]["uid"], failed["P2"]["uid"]],
            "back": back,
            "csrf_token": csrf,
        },
    )
    assert (dismissed.status_code, dismissed.headers["location"]) == (303, back)

    after = await _failed(syncflow_client, admin_headers, parts)
    assert after["P2"]["resolved_at"]
    assert after["P2"]["dismissed_at"] is None
    assert after["P3"]["dismissed_at"]
    assert after["P3"]["dismissed_by"].startswith("c-operator")
    assert after["P4"]["resolved_at"] is None
    shown = await syncflow_client.get(f"/console/failed?entity={parts}&include_resolved=true")
    assert "dismissed" in shown.text
    assert "resolved" in shown.text
    assert shown.text.count('name="record_uid"') == 1


async def test_nothing_ticked_is_refused_and_a_viewer_cannot_retry(
    syncflow_client, sign_in, admin_headers, parts
):
    csrf = await sign_in("operator")
    nothing = await syncflow_client.post(
        "/console/failed/selected", data={"action": "retry", "csrf_token": csrf}
    )
    assert nothing.status_code == 400
    viewer_csrf = await sign_in("viewer")
    page = await syncflow_client.get(f"/console/failed?entity={parts}")
    assert 'name="record_uid"' not in page.text
    assert "Retry selected" not in page.text
    record = next(iter((await _failed(syncflow_client, admin_headers, parts)).values()))
    refused = await syncflow_client.post(
        "/console/failed/selected",
        data={"action": "dismiss", "record_uid": [record["uid"]], "csrf_token": viewer_csrf},
    )
    assert refused.status_code == 403


async def test_batches_filter_by_date_in_the_url(syncflow_client, sign_in, parts):
    await sign_in("viewer")
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    listed = await syncflow_client.get(
        f"/console/batches?entity={parts}&status=&date_from={today}&date_to="
    )
    assert listed.status_code == 200
    assert len(re.findall(r'href="/console/batches/[0-9a-f-]{36}"', listed.text)) == 1
    assert f'value="{today}"' in listed.text
    before = await syncflow_client.get(
        f"/console/batches?entity={parts}&date_from={yesterday}&date_to={yesterday}"
    )
    assert "No batches match." in before.text


async def test_the_json_api_retries_and_dismisses_chosen_records_too(
    syncflow_client, operator_headers, admin_headers, parts
):
    failed = await _failed(syncflow_client, admin_headers, parts)
    queued = await syncflow_client.post(
        "/api/v1/sync/retry-records",
        json={"record_uids": [failed["P4"]["uid"]]},
        headers=operator_headers,
    )
    assert queued.status_code == 202, queued.text
    [batch] = queued.json()
    assert (await _finished(syncflow_client, admin_headers, batch["batch_uid"]))["counters"][
        "fetched"
    ] == 1
    dismissed = await syncflow_client.post(
        "/api/v1/monitoring/failed-records/dismiss",
        json={"record_uids": [failed["P2"]["uid"], failed["P4"]["uid"]]},
        headers=operator_headers,
    )
    assert dismissed.json() == {"dismissed": 1}  # P4 went through meanwhile
    after = await _failed(syncflow_client, admin_headers, parts)
    assert after["P2"]["dismissed_by"] == "tests"
    assert after["P3"]["resolved_at"] is None
    empty = await syncflow_client.post(
        "/api/v1/monitoring/failed-records/dismiss",
        json={"record_uids": []},
        headers=operator_headers,
    )
    assert empty.status_code == 422


async def test_a_refused_post_is_a_page_saying_why(syncflow_client, sign_in, admin_headers):
    csrf = await sign_in("operator")
    missing = uuid.uuid4()
    refused = await syncflow_client.post(
        f"/console/batches/{missing}/stop",
        data={"csrf_token": csrf},
        headers={"Referer": "http://testserver/console/batches?status=running"},
    )
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("text/html")
    assert f"batch {missing} not found" in refused.text
    assert 'href="/console/batches?status=running"' in refused.text
    partial = await syncflow_client.post(
        f"/console/batches/{missing}/stop",
        data={"csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert partial.json() == {"detail": f"batch {missing} not found"}
    api = await syncflow_client.post(
        "/api/v1/sync/start", json={"entity": "no-such"}, headers=admin_headers
    )
    assert api.json() == {"detail": "entity 'no-such' not found"}
