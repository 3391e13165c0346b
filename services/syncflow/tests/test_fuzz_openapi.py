"""Schemathesis against SyncFlow's own OpenAPI document: no server errors, no answer
outside the document. Bounded (see ``bridge_core.testing.fuzz``), loopback only; the
operations that take APISmith's URL (sources) are left out."""

import asyncio

import schemathesis

from bridge_core.testing.fuzz import fuzz
from bridge_core.testing.live_server import live_server
from bridge_core.testing.settings import service_test_settings
from syncflow.main import build_app
from syncflow.settings import Settings

ADMIN_TOKEN = "fuzz-operator-token"


def _fuzz_syncflow(database_url: str, data_dir) -> list[str]:
    app_settings = service_test_settings(
        Settings,
        database_url=database_url,
        data_dir=data_dir,
        admin_token=ADMIN_TOKEN,
        log_level="ERROR",
    )
    with live_server(build_app(app_settings)) as base_url:
        schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
        return fuzz(schema, base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


async def test_syncflow_answers_within_its_document(create_database, tmp_path):
    url = await create_database("syncflow_fuzz")
    failures = await asyncio.to_thread(
        _fuzz_syncflow, url.render_as_string(hide_password=False), tmp_path
    )
    assert not failures, "\n\n".join(failures)
