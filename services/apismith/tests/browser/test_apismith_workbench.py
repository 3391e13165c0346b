"""APISmith's workbench in Chromium (Debian's ``chromium`` via ``executable_path``): sign in,
a refused SQL with its reason, an accepted one with its rewritten SQL and columns, an
API's versions, the execution audit."""

import os
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from pydantic import SecretStr

from apismith.main import build_app
from apismith.settings import Settings
from bridge_core.testing.live_server import live_server

PASSWORD = "workbench-password-1"
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return {"executable_path": CHROMIUM, "args": ["--no-sandbox"]}


@pytest.fixture(scope="session")
def browser_context_args():
    return {"viewport": {"width": 1280, "height": 800}}


def screenshot(page, name):
    """Refresh docs/screenshots only when asked (``UPDATE_SCREENSHOTS=1``)."""
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


# session scope: async fixtures must be set up before pytest-playwright's session fixtures
# start Playwright's own event loop in this thread
@pytest.fixture(scope="session")
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


def sign_in(page, base_url):
    page.goto(f"{base_url}/")
    page.get_by_label("Username").fill("wb-admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/console")


def test_admin_checks_refused_and_accepted_sql(live_apismith, page):
    sign_in(page, live_apismith)
    page.get_by_role("link", name="SQL workbench").click()
    page.get_by_label("SELECT").fill("DELETE FROM parts")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#guard-verdict")).to_contain_text("Refused")
    page.get_by_label("SELECT").fill("SELECT part_no, description FROM parts")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#guard-verdict")).to_have_text("Accepted")
    expect(page.locator("#rewritten")).to_contain_text("LIMIT 100")
    expect(page.get_by_role("cell", name="description", exact=True)).to_be_visible()
    screenshot(page, "apismith-sql-workbench")


def test_versions_and_the_audit(live_apismith, page):
    sign_in(page, live_apismith)
    page.get_by_role("link", name="parts").click()
    versions = page.locator("details summary")
    expect(versions).to_have_count(2)
    expect(versions.first).to_contain_text("Version 2")
    expect(page.locator("details[open] pre")).to_contain_text("WHERE rv >= 0")
    page.get_by_role("link", name="Execution audit").first.click()
    expect(page.get_by_role("cell", name="wb-admin")).to_have_count(1)
    screenshot(page, "apismith-audit")
