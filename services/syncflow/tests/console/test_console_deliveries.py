"""The Deliveries page over HTTP (the real app, its worker and PostgreSQL, a real ScheduleHub
stand-in): filters in the URL, dead letters with ScheduleHub's answer, replay the ticked
events and everything a filter matches (pending again, then delivered, same ids), a list
that polls only while events are on their way, the overview's delivery columns, a viewer
without buttons, and posts without a CSRF token refused."""

import asyncio
import re
import uuid
from typing import Any

import pytest

from bridge_core.testing.live_server import free_port
from schedulehub_standin.testing import (
    schedulehub_standin,  # noqa: F401 - fixture
    schedulehub_standin_server,  # noqa: F401 - fixture
)
from syncflow.console.deliveries import back_with
from syncflow.console.overview import EntityDelivery, delivery_by_entity
from syncflow.monitoring.schemas import DeliveryStats

POLLS = 'hx-trigger="every 2s'


@pytest.fixture
async def standin(schedulehub_standin):  # noqa: F811 - the fixture imported above
    yield schedulehub_standin
    await schedulehub_standin.control.set_rules([])


@pytest.fixture
async def parts(define_parts):
    """An entity of five parts (P1..P5) that has not been synced yet."""
    rows = [{"part_no": f"P{i}", "description": f"part {i}", "rv": i} for i in range(1, 6)]
    return (await define_parts(rows))["name"]


async def add_destination(client, headers, entity: str, url: str, **extra: Any) -> dict[str, Any]:
    body = {
        "name": f"hub-{uuid.uuid4().hex[:6]}",
        "kind": "schedulehub",
        "url": url,
        "entities": [entity],
        "timeout_s": 2,
        **extra,
    }
    created = await client.post("/api/v1/destinations", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def add_unreachable_destination(client, headers, entity: str) -> dict[str, Any]:
    """A ScheduleHub destination of ``entity`` on a port nobody listens on."""
    return await add_destination(
        client,
        headers,
        entity,
        f"http://127.0.0.1:{free_port()}",
        username="nobody",
        password="nothing",
    )


async def sync(client, headers, entity: str) -> None:
    batch = await client.post(
        "/api/v1/sync/start", json={"entity": entity, "mode": "full"}, headers=headers
    )
    for _ in range(300):
        status = await client.get(
            f"/api/v1/sync/status/{batch.json()['batch_uid']}", headers=headers
        )
        if status.json()["status"] not in ("pending", "running"):
            assert status.json()["status"] == "completed", status.json()
            return
        await asyncio.sleep(0.05)
    raise AssertionError(status.json())


async def listed(client, headers, destination: str, **params: Any) -> dict[str, Any]:
    response = await client.get(
        "/api/v1/deliveries",
        params={"destination": destination, "page_size": 500, **params},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


async def until(client, headers, destination: str, **counts: int) -> None:
    """Wait until the destination holds exactly ``counts`` deliveries per state."""
    for _ in range(400):
        totals = {
            state: (await listed(client, headers, destination, state=state, page_size=1))["total"]
            for state in counts
        }
        if totals == counts:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(totals)


def ticks(html: str) -> list[str]:
    return re.findall(r'name="uid" value="([0-9a-f-]{36})"', html)


async def test_dead_letters_show_the_answer_and_replay_selected_then_all_matching(
    syncflow_client, sign_in, admin_headers, parts, standin
):
    blocked = [
        {"entity": parts, "field": "part_no", "equals": key, "error": f"part {key} is blocked"}
        for key in ("P2", "P3")
    ]
    await standin.control.set_rules(blocked)
    hub = await add_destination(
        syncflow_client,
        admin_headers,
        parts,
        standin.url,
        api_prefix=standin.api_prefix,
        username=standin.username,
        password=standin.password,
    )
    name = hub["name"]
    await sync(syncflow_client, admin_headers, parts)
    await until(syncflow_client, admin_headers, name, dead=2, delivered=3, pending=0, delivering=0)
    csrf = await sign_in("operator")

    dead = await syncflow_client.get(f"/console/deliveries?destination={name}&state=dead")
    assert dead.status_code == 200
    assert len(ticks(dead.text)) == 2
    assert "rejected by ScheduleHub: part P2 is blocked" in dead.text
    assert f"POST {standin.api_prefix}/{parts}/batch/insert" in dead.text  # the last answer's
    assert "Attempts" in dead.text
    assert 'id="replay-selected"' in dead.text
    assert 'id="replay-matching"' in dead.text
    assert f"<option selected>{name}</option>" in dead.text  # the filter, kept
    assert POLLS not in dead.text  # nothing on its way
    delivered = await syncflow_client.get(
        f"/console/deliveries?entity={parts}&state=delivered&destination="
    )
    assert len(ticks(delivered.text)) == 3
    assert "rejected by ScheduleHub" not in delivered.text  # their batch's answer is in
    overview = await syncflow_client.get("/console")
    row = re.search(
        rf"<tr>\s*<td><a href=\"/console/batches\?entity={parts}\".*?</tr>", overview.text, re.S
    )
    assert row is not None
    assert "dead letters" in row.group(0)
    assert f'href="/console/deliveries?entity={parts}&amp;state=dead">2</a>' in row.group(0)

    # paused (from the Deliveries page, which it returns to) so that "pending" can be seen
    back = f"/console/deliveries?destination={name}&state=dead"
    paused = await syncflow_client.post(
        f"/console/destinations/{hub['uid']}/pause",
        data={"reason": "console test", "back": back, "csrf_token": csrf},
    )
    assert (paused.status_code, paused.headers["location"]) == (303, back)
    await standin.control.set_rules([])
    before = {
        d["uid"]: d["event_id"]
        for d in (await listed(syncflow_client, admin_headers, name))["items"]
    }
    p2 = next(
        d["uid"]
        for d in (await listed(syncflow_client, admin_headers, name, state="dead"))["items"]
        if "P2" in d["last_error"]
    )
    one = await syncflow_client.post(
        "/console/deliveries/replay-selected",
        data={"uid": [p2], "destination": name, "back": back, "csrf_token": csrf},
    )
    assert (one.status_code, one.headers["location"]) == (303, f"{back}&replayed=1")
    await until(syncflow_client, admin_headers, name, pending=1, dead=1)
    waiting = await syncflow_client.get(
        f"/console/deliveries?destination={name}&state=pending&replayed=1"
    )
    assert ticks(waiting.text) == [p2]
    assert "Events sent again: 1" in waiting.text
    assert "its events wait until it is resumed" in waiting.text
    assert POLLS not in waiting.text  # the destination is paused: nothing moves

    # no destination in the filter: every destination is asked, only this one has any
    everywhere = f"/console/deliveries?entity={parts}&state=dead"
    rest = await syncflow_client.post(
        "/console/deliveries/replay-matching",
        data={"entity": parts, "state": "dead", "back": everywhere, "csrf_token": csrf},
    )
    assert rest.headers["location"] == f"{everywhere}&replayed=1"
    await until(syncflow_client, admin_headers, name, pending=2, dead=0)
    resumed = await syncflow_client.post(
        f"/console/destinations/{hub['uid']}/resume", data={"back": back, "csrf_token": csrf}
    )
    assert (resumed.status_code, resumed.headers["location"]) == (303, back)
    await until(syncflow_client, admin_headers, name, delivered=5, pending=0, delivering=0)

    after = {
        d["uid"]: d["event_id"]
        for d in (await listed(syncflow_client, admin_headers, name))["items"]
    }
    assert after == before  # the same deliveries and events, none added
    log = await standin.control.log(entity=parts)
    assert sorted(e["op"] for e in log) == ["insert"] * 5
    assert len(await standin.control.records(parts)) == 5
    done = await syncflow_client.get(f"/console/deliveries?destination={name}")
    assert POLLS not in done.text
    assert "No deliveries match." in (await syncflow_client.get(back)).text
    overview = await syncflow_client.get("/console")
    row = re.search(
        rf"<tr>\s*<td><a href=\"/console/batches\?entity={parts}\".*?</tr>", overview.text, re.S
    )
    assert row is not None
    assert "dead letters" not in row.group(0)


async def test_the_list_polls_while_events_wait_and_a_viewer_cannot_replay(
    syncflow_client, sign_in, admin_headers, parts
):
    # nobody listens there: every attempt is refused, so the events wait for retries
    hub = await add_unreachable_destination(syncflow_client, admin_headers, parts)
    name = hub["name"]
    await sync(syncflow_client, admin_headers, parts)
    await until(syncflow_client, admin_headers, name, pending=5)
    operator_csrf = await sign_in("operator")
    page = await syncflow_client.get(f"/console/deliveries?entity={parts}")
    assert POLLS in page.text
    assert f'hx-get="/console/deliveries/live?entity={parts}&amp;page=1"' in page.text
    assert len(ticks(page.text)) == 5
    overview = await syncflow_client.get("/console")
    row = re.search(
        rf"<tr>\s*<td><a href=\"/console/batches\?entity={parts}\".*?</tr>", overview.text, re.S
    )
    assert row is not None
    assert re.search(r'class="num delivery-lag">\d+ (second|minute)', row.group(0))
    assert f'href="/console/deliveries?entity={parts}">5</a>' in row.group(0)

    no_token = await syncflow_client.post(
        "/console/deliveries/replay-matching", data={"destination": name}
    )
    assert no_token.status_code == 403
    wrong = await syncflow_client.post(
        "/console/deliveries/replay-selected",
        data={"uid": ticks(page.text)[:1], "csrf_token": "not-the-token"},
    )
    assert wrong.status_code == 403
    nothing = await syncflow_client.post(
        "/console/deliveries/replay-selected", data={"csrf_token": operator_csrf}
    )
    assert nothing.status_code == 400

    viewer_csrf = await sign_in("viewer")
    seen = await syncflow_client.get(f"/console/deliveries?entity={parts}&destination={name}")
    assert seen.status_code == 200
    assert POLLS in seen.text
    assert ticks(seen.text) == []
    for control in ("replay-selected", "replay-matching", "pause-destination"):
        assert f'id="{control}"' not in seen.text
    for path, data in (
        ("/console/deliveries/replay-matching", {"destination": name}),
        ("/console/deliveries/replay-selected", {"uid": ticks(page.text)[:1]}),
        (f"/console/destinations/{hub['uid']}/pause", {}),
    ):
        refused = await syncflow_client.post(path, data={**data, "csrf_token": viewer_csrf})
        assert refused.status_code == 403, path

    operator_csrf = await sign_in("operator")
    live = await syncflow_client.get(f"/console/deliveries/live?destination={name}")
    assert live.text.startswith('<section id="deliveries-live"')
    assert POLLS in live.text
    paused = await syncflow_client.post(
        f"/console/destinations/{hub['uid']}/pause", data={"csrf_token": operator_csrf}
    )
    assert paused.headers["location"] == "/console/destinations"
    # an attempt already under way when the pause came still ends (its row shows no
    # box while it is delivering); no new one starts
    for _ in range(100):
        still = await syncflow_client.get(f"/console/deliveries/live?destination={name}")
        if 'data-state="delivering"' not in still.text:
            break
        await asyncio.sleep(0.1)
    assert POLLS not in still.text  # paused: nothing will move until it is resumed
    assert len(ticks(still.text)) == 5


def test_an_entity_sums_its_destinations_and_lags_by_the_oldest():
    streams = [
        DeliveryStats(
            destination="a", entity="parts", pending=3, delivering=1, dead=0, lag_seconds=5
        ),
        DeliveryStats(
            destination="b", entity="parts", pending=0, delivering=0, dead=2, lag_seconds=0
        ),
        DeliveryStats(
            destination="c", entity="parts", pending=1, delivering=0, dead=0, lag_seconds=90
        ),
        DeliveryStats(
            destination="a", entity="orders", pending=0, delivering=0, dead=1, lag_seconds=0
        ),
    ]
    assert delivery_by_entity(streams) == {
        "parts": EntityDelivery(undelivered=5, dead=2, lag_seconds=90),
        "orders": EntityDelivery(undelivered=0, dead=1, lag_seconds=0),
    }


def test_a_replay_returns_to_the_deliveries_page_only():
    page = "/console/deliveries?entity=parts&replayed=3"
    assert back_with(page, 2) == "/console/deliveries?entity=parts&replayed=2"
    assert back_with("https://elsewhere.test/console/deliveries", 1) == (
        "/console/deliveries?replayed=1"
    )
    assert back_with("/console/failed", 0) == "/console/deliveries?replayed=0"


async def test_the_progress_of_a_stream_shows_what_it_has_not_read_yet(
    syncflow_client, sign_in, admin_headers, parts
):
    hub = await add_unreachable_destination(syncflow_client, admin_headers, parts)
    paused = await syncflow_client.post(
        f"/api/v1/destinations/{hub['uid']}/pause", json={}, headers=admin_headers
    )
    assert paused.status_code == 200
    await sync(syncflow_client, admin_headers, parts)
    await sign_in("viewer")
    row = None
    for _ in range(100):  # until a worker has opened the stream
        page = await syncflow_client.get(f"/console/deliveries?destination={hub['name']}")
        row = re.search(rf'<tr class="stream" data-entity="{parts}">.*?</tr>', page.text, re.S)
        if row:
            break
        await asyncio.sleep(0.1)
    assert row is not None
    assert 'class="num unread">5<' in row.group(0)
    assert POLLS not in page.text  # paused: nothing moves until it is resumed
    assert ticks(page.text) == []  # nothing in the ledger: the events wait in the outbox
