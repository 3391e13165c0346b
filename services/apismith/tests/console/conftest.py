"""Workbench test fixtures: ``sign_in(role)`` signs the in-process client in as a new
user of that role through the console's form; it returns the user and the CSRF token."""

import re

import pytest


@pytest.fixture
def sign_in(apismith_client, create_apismith_user):
    async def as_role(role: str):
        user = await create_apismith_user(role)
        page = await apismith_client.get("/console/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found is not None
        csrf = found.group(1)
        signed = await apismith_client.post(
            "/console/login",
            data={"username": user.username, "password": user.password, "csrf_token": csrf},
        )
        assert signed.status_code == 303, signed.text
        return user, csrf

    return as_role
