"""Console test fixtures: ``sign_in(role)`` signs the in-process client in as a new user
of that role through the console's form and returns the CSRF token for its posts;
``define_parts(rows, field_mappings)`` defines an entity of parts over a new API of
``fake_apismith`` and returns the entity's body (its name under ``"name"``)."""

import re
import uuid
from typing import Any

import pytest

PASSWORD = "console-password-1"
PART_COLUMNS = [("part_no", "string"), ("description", "string"), ("rv", "integer")]


@pytest.fixture
def define_parts(syncflow_client, admin_headers, fake_apismith, create_source):
    async def define(
        rows: list[dict[str, Any]], field_mappings: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        slug = f"parts-{uuid.uuid4().hex[:6]}"
        fake_apismith.add_api(
            slug, PART_COLUMNS, business_keys=["part_no"], rowversion_column="rv", rows=rows
        )
        source = await create_source()
        name = slug.replace("-", "_")
        body = {
            "name": name,
            "source": source["name"],
            "api_slug": slug,
            "field_mappings": field_mappings or [{"source_field": c} for c, _ in PART_COLUMNS],
        }
        created = await syncflow_client.post("/api/v1/entities", json=body, headers=admin_headers)
        assert created.status_code == 201, created.text
        return body

    return define


@pytest.fixture
def sign_in(syncflow_client, admin_headers):
    async def as_role(role: str) -> str:
        username = f"c-{role}-{uuid.uuid4().hex[:8]}"
        created = await syncflow_client.post(
            "/api/v1/users",
            json={"username": username, "password": PASSWORD, "role": role},
            headers=admin_headers,
        )
        assert created.status_code == 201, created.text
        page = await syncflow_client.get("/console/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is not None
        csrf = found.group(1)
        signed = await syncflow_client.post(
            "/console/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf}
        )
        assert signed.status_code == 303, signed.text
        return csrf

    return as_role
