"""SyncFlow's console in Chromium: sign in, sync and watch it finish, retry failed records,
a viewer who cannot change anything, Persian right to left. Screenshots go to docs/."""

import os
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

PASSWORD = "browser-password-1"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
COLUMNS = [("part_no", "string"), ("description", "string"), ("rv", "integer")]


def sign_in(page, base_url, username):
    page.goto(f"{base_url}/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/console")


def screenshot(page, name):
    """Refresh docs/screenshots only when asked (``UPDATE_SCREENSHOTS=1``): a plain test
    run leaves the working tree clean."""
    if not os.environ.get("UPDATE_SCREENSHOTS"):
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def entity(api, fake_apismith_server):
    """An entity over a fake APISmith API with 40 parts, two of them without a description
    (which the mapping requires, so they fail)."""
    slug = f"parts-{uuid.uuid4().hex[:6]}"
    rows = [
        {"part_no": f"P{i:03}", "description": None if i in (7, 8) else f"part {i}", "rv": i}
        for i in range(1, 41)
    ]
    fake_apismith_server.add_api(
        slug, COLUMNS, business_keys=["part_no"], rowversion_column="rv", rows=rows
    )
    source = api.post(
        "/sources",
        json={
            "name": f"erp-{slug}",
            "base_url": fake_apismith_server.url,
            "token": fake_apismith_server.token,
        },
    )
    assert source.status_code == 201, source.text
    name = slug.replace("-", "_")
    body = {
        "name": name,
        "source": f"erp-{slug}",
        "api_slug": slug,
        "field_mappings": [
            {"source_field": "part_no", "required": True},
            {"source_field": "description", "required": True},
            {"source_field": "rv"},
        ],
    }
    created = api.post("/entities", json=body)
    assert created.status_code == 201, created.text
    # a first full sync through the API, so every test finds batches and failed records
    batch = api.post("/sync/start", json={"entity": name, "mode": "full"}).json()
    for _ in range(200):
        status = api.get(f"/sync/status/{batch['batch_uid']}").json()["status"]
        if status not in ("pending", "running"):
            break
        time.sleep(0.1)
    assert status == "completed"
    return {"name": name, "body": body}


def test_operator_syncs_an_entity_and_watches_it_complete(live_syncflow, users, entity, page):
    sign_in(page, live_syncflow, users["operator"])
    screenshot(page, "syncflow-overview-before")
    row = page.get_by_role("row").filter(has_text=entity["name"])
    row.get_by_role("button", name="Sync now").click()
    page.wait_for_url("**/console/batches/*")
    page.evaluate("window.notReloaded = true")
    expect(page.locator("#batch-status")).to_have_text("completed", timeout=20_000)
    assert page.evaluate("window.notReloaded") is True  # polling, not a reload, showed it
    polls = []
    page.on(
        "request", lambda request: polls.append(request.url) if "/live" in request.url else None
    )
    page.wait_for_timeout(1500)
    assert polls == []  # a finished batch is not polled any more
    expect(page.get_by_text("Stage timeline")).to_be_visible()
    screenshot(page, "syncflow-batch")
    page.goto(f"{live_syncflow}/console")
    screenshot(page, "syncflow-overview")


def test_operator_retries_all_matching_failed_records(live_syncflow, users, entity, api, page):
    sign_in(page, live_syncflow, users["operator"])
    page.goto(f"{live_syncflow}/console/failed?entity={entity['name']}")
    reasons = page.get_by_role("cell", name="required field description is NULL")
    expect(reasons).to_have_count(2)
    page.get_by_text("Show").first.click()
    expect(page.locator("pre").first).to_contain_text('"part_no"')
    screenshot(page, "syncflow-failed")
    # the fix is on SyncFlow's side: the description is no longer required
    relaxed = {**entity["body"]}
    relaxed["field_mappings"] = [
        {**m, "required": False} if m["source_field"] == "description" else m
        for m in relaxed["field_mappings"]
    ]
    assert api.put(f"/entities/{entity['name']}", json=relaxed).status_code == 200
    page.get_by_role("button", name="Retry all unresolved of this entity").click()
    page.wait_for_url("**/console/batches/*")
    expect(page.locator("#batch-status")).to_have_text("completed", timeout=20_000)
    page.goto(f"{live_syncflow}/console/failed?entity={entity['name']}&include_resolved=true")
    resolved = page.locator("td.resolved")
    expect(resolved).to_have_count(2)
    for index in range(2):
        expect(resolved.nth(index)).to_contain_text("resolved")


def test_viewer_sees_everything_and_cannot_press_what_changes(live_syncflow, users, entity, page):
    sign_in(page, live_syncflow, users["viewer"])
    expect(page.get_by_role("cell", name=entity["name"])).to_be_visible()
    expect(page.get_by_role("button", name="Sync now")).to_have_count(0)
    page.goto(f"{live_syncflow}/console/failed?entity={entity['name']}&include_resolved=true")
    expect(page.get_by_role("button", name="Retry all unresolved of this entity")).to_have_count(0)
    page.goto(f"{live_syncflow}/console/sources")
    expect(page.get_by_role("button", name="Test")).to_have_count(0)


def test_persian_is_right_to_left_and_remembered(live_syncflow, users, entity, page):
    sign_in(page, live_syncflow, users["operator"])
    page.get_by_label("Language").select_option("fa")
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.get_by_role("heading", name="نمای کلی")).to_be_visible()
    page.goto(f"{live_syncflow}/console/trends")
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    expect(page.get_by_role("heading", name="روندها")).to_be_visible()
    screenshot(page, "syncflow-trends-fa")
    page.get_by_role("button", name="پوسته تیره").click()
    page.wait_for_load_state()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
