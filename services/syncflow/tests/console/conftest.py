"""Console test fixtures: ``sign_in(role)`` signs the in-process client in as a new user
of that role through the console's form and returns the CSRF token for its posts."""

import re
import uuid

import pytest

PASSWORD = "console-password-1"


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
