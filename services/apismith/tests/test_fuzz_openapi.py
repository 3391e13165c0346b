"""Schemathesis against APISmith's own OpenAPI document: no server errors, no answer
outside the document. Bounded (see ``bridge_core.testing.fuzz``), loopback only."""

import asyncio

import httpx
import schemathesis

from apismith.main import build_app
from apismith.settings import Settings
from bridge_core.testing.fuzz import fuzz
from bridge_core.testing.live_server import live_server
from bridge_core.testing.settings import service_test_settings


def _fuzz_apismith(database_url: str, data_dir) -> list[str]:
    app_settings = service_test_settings(
        Settings,
        database_url=database_url,
        data_dir=data_dir,
        admin_username="fuzz-admin",
        admin_password="fuzz-admin-password",
        log_level="ERROR",
    )
    with live_server(build_app(app_settings)) as base_url:
        login = httpx.post(
            f"{base_url}/api/v1/auth/login",
            json={"username": "fuzz-admin", "password": "fuzz-admin-password"},
        )
        login.raise_for_status()
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
        return fuzz(schema, base_url=base_url, headers=headers)


async def test_apismith_answers_within_its_document(create_database, tmp_path):
    url = await create_database("apismith_fuzz")
    failures = await asyncio.to_thread(
        _fuzz_apismith, url.render_as_string(hide_password=False), tmp_path
    )
    assert not failures, "\n\n".join(failures)
