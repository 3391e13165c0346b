"""APISmith's workbench in Chromium (Debian's ``chromium`` via ``executable_path``): sign in,
a refused SQL with its reason, an accepted one with its rewritten SQL and columns, an
API's versions, the execution audit, every page on a narrow screen."""

import os
import sqlite3
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect
from pydantic import SecretStr

from apismith.main import build_app
from apismith.settings import Settings
from bridge_core.testing.browser import NARROW_VIEWPORT, horizontal_overflow
from bridge_core.testing.live_server import live_server

PASSWORD = "workbench-password-1"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"


async def screenshot(page, name):
    """Refresh docs/screenshots only when asked (``UPDATE_SCREENSHOTS=1``)."""
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
async def workbench_database_url(create_database):
    url = await create_database("apismith_workbench")
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def live_apismith(workbench_database_url, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("workbench")
    erp = data_dir / "erp.db"
    with sqlite3.connect(erp) as db:
        db.execute("create table parts (part_no text primary key, description text, rv integer)")
        db.executemany(
            "insert into parts values (?, ?, ?)", [(f"P{i:03}", f"part {i}", i) for i in range(30)]
        )
    settings = Settings(
        environment="test",
        database_url=workbench_database_url,
        data_dir=data_dir,
        secret_key="workbench-secret-key-with-enough-length-for-hs256",
        encryption_key="workbench-encryption-key",
        admin_username="wb-admin",
        admin_password=SecretStr(PASSWORD),
        log_file=False,
    )
    with live_server(build_app(settings)) as url:
        with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as client:
            login = client.post("/auth/login", json={"username": "wb-admin", "password": PASSWORD})
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            connection = client.post(
                "/connections", json={"name": "erp", "dialect": "sqlite", "url": f"sqlite:///{erp}"}
            )
            assert connection.status_code == 201, connection.text
            api = {
                "slug": "parts",
                "name": "Parts",
                "connection_uid": connection.json()["uid"],
                "sql": "SELECT part_no, description, rv FROM parts",
                "business_keys": ["part_no"],
                "rowversion_column": "rv",
                "delta_strategy": "rowversion",
            }
            created = client.post("/apis", json=api)
            assert created.status_code == 201, created.text
            changed = {**api, "sql": "SELECT part_no, description, rv FROM parts WHERE rv >= 0"}
            assert client.put(f"/apis/{created.json()['uid']}", json=changed).status_code == 200
            executed = client.post("/runtime/parts/execute", json={"page_size": 5})
            assert executed.status_code == 200, executed.text
        yield url


async def sign_in(page, base_url):
    await page.goto(f"{base_url}/")
    await page.get_by_label("Username").fill("wb-admin")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base_url}/console")


async def test_admin_checks_refused_and_accepted_sql(live_apismith, page):
    await sign_in(page, live_apismith)
    await page.get_by_role("link", name="SQL workbench").click()
    await page.get_by_label("SELECT").fill("DELETE FROM parts")
    await page.get_by_role("button", name="Check").click()
    await expect(page.locator("#guard-verdict")).to_contain_text("Refused")
    await page.get_by_label("SELECT").fill("SELECT part_no, description FROM parts")
    await page.get_by_role("button", name="Check").click()
    await expect(page.locator("#guard-verdict")).to_have_text("Accepted")
    await expect(page.locator("#rewritten")).to_contain_text("LIMIT 100")
    await expect(page.get_by_role("cell", name="description", exact=True)).to_be_visible()
    await screenshot(page, "apismith-sql-workbench")
    await page.get_by_label("Slug").fill("parts-lite")
    await page.get_by_label("Name").fill("Parts, short")
    await page.get_by_label("Business keys").select_option("part_no")
    await page.get_by_role("button", name="Save as a new version").click()
    await page.wait_for_url("**/console/apis/*")
    await expect(page.locator("details summary")).to_have_count(1)
    await page.get_by_role("button", name="Preview the first page").click()
    await expect(page.locator("#preview-rows tbody tr")).to_have_count(20)
    await page.locator("main").get_by_role("link", name="Execution audit").click()
    calls = page.locator("#calls")
    await expect(calls.get_by_role("cell", name="parts-lite")).to_have_count(1)
    await expect(calls.get_by_role("cell", name="wb-admin")).to_have_count(1)


async def test_versions_and_the_audit(live_apismith, page):
    await sign_in(page, live_apismith)
    await page.get_by_role("link", name="parts", exact=True).click()
    versions = page.locator("details summary")
    await expect(versions).to_have_count(2)
    await expect(versions.first).to_contain_text("Version 2")
    await expect(page.locator("details[open] pre").first).to_contain_text("WHERE rv >= 0")
    await expect(page.locator("details[open] pre.diff")).to_contain_text("+SELECT")
    await page.locator("main").get_by_role("link", name="Execution audit").click()
    await expect(page.get_by_role("cell", name="wb-admin")).to_have_count(1)
    await screenshot(page, "apismith-audit")


async def test_every_page_fits_a_narrow_screen(live_apismith, page):
    await page.set_viewport_size(NARROW_VIEWPORT)
    await sign_in(page, live_apismith)
    for path in ("", "/connections", "/sql", "/executions", "/tokens", "/users"):
        await page.goto(f"{live_apismith}/console{path}")
        assert await horizontal_overflow(page) == 0, path
    await page.goto(f"{live_apismith}/console/executions")
    await page.get_by_label("API", exact=True).fill("parts")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.locator("#latency").get_by_role("cell", name="parts")).to_be_visible()
    assert await horizontal_overflow(page) == 0
    await screenshot(page, "apismith-audit-narrow")
