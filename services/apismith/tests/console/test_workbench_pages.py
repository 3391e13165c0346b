"""The workbench's admin pages over HTTP (the real app and database): a connection made
with the form and tested (the driver's message when it fails), service tokens shown once
and revoked, users, the audit's filters and per-API latency; a reader refused."""

import re
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import pytest


@pytest.fixture
def sqlite_erp(tmp_path):
    path = tmp_path / "erp.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE parts (part_no TEXT PRIMARY KEY, qty INTEGER);"
        "INSERT INTO parts VALUES ('P1', 1), ('P2', 2);"
    )
    conn.commit()
    conn.close()
    return path


async def _connection_uid(client, headers, name):
    listing = (await client.get("/api/v1/connections", headers=headers)).json()
    return next(c["uid"] for c in listing if c["name"] == name)


async def test_an_admin_adds_connections_and_tests_them(apismith_client, sign_in):
    admin, csrf = await sign_in("admin")
    good, bad = f"erp-{uuid.uuid4().hex[:6]}", f"down-{uuid.uuid4().hex[:6]}"
    refused = await apismith_client.post(
        "/console/connections",
        data={"name": good, "dialect": "postgresql", "url": "not a url", "csrf_token": csrf},
    )
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    assert f'value="{good}"' in refused.text
    assert "not a url" not in refused.text  # the URL (it may hold a password) is not echoed
    created = await apismith_client.post(
        "/console/connections",
        data={
            "name": bad,
            "dialect": "postgresql",
            "url": "postgresql://erp:s3cret-pw@127.0.0.1:1/erp",
            "statement_timeout_ms": "2000",
            "csrf_token": csrf,
        },
    )
    assert created.status_code == 303, created.text
    page = await apismith_client.get("/console/connections")
    assert bad in page.text
    assert "s3cret-pw" not in page.text
    uid = await _connection_uid(apismith_client, admin.headers, bad)
    tested = await apismith_client.post(
        f"/console/connections/{uid}/test", headers={"X-CSRF-Token": csrf}
    )
    assert tested.status_code == 200
    assert 'class="alert"' in tested.text
    assert "127.0.0.1" in tested.text or "connect" in tested.text.lower()


async def test_a_token_is_shown_once_and_can_be_revoked(apismith_client, sign_in):
    _, csrf = await sign_in("admin")
    name = f"syncflow-{uuid.uuid4().hex[:6]}"
    created = await apismith_client.post(
        "/console/tokens", data={"name": name, "role": "reader", "csrf_token": csrf}
    )
    assert created.status_code == 201
    assert created.headers["cache-control"] == "no-store"
    token = re.search(r'<pre id="new-token">([^<]+)</pre>', created.text).group(1)
    me = await apismith_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["name"] == name
    listing = await apismith_client.get("/console/tokens")
    assert name in listing.text
    assert token not in listing.text

    uid = re.search(
        rf'/console/tokens/([0-9a-f-]{{36}})/revoke"[^>]*>\s*<input[^>]*>\s*'
        rf'<button[^>]*data-token="{name}"',
        listing.text,
    )
    assert uid is not None
    revoked = await apismith_client.post(
        f"/console/tokens/{uid.group(1)}/revoke", data={"csrf_token": csrf}
    )
    assert revoked.status_code == 303
    refused = await apismith_client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert refused.status_code == 401


async def test_an_admin_creates_a_user_and_a_taken_name_is_refused(apismith_client, sign_in):
    _, csrf = await sign_in("admin")
    username = f"planner-{uuid.uuid4().hex[:6]}"
    form = {"username": username, "password": "long-enough-pw-1", "role": "reader"}
    created = await apismith_client.post("/console/users", data={**form, "csrf_token": csrf})
    assert created.status_code == 303
    assert username in (await apismith_client.get("/console/users")).text
    again = await apismith_client.post("/console/users", data={**form, "csrf_token": csrf})
    assert again.status_code == 422
    assert "already" in again.text
    short = await apismith_client.post(
        "/console/users",
        data={**form, "username": "x" + username, "password": "short", "csrf_token": csrf},
    )
    assert short.status_code == 422
    assert "at least" in short.text


async def test_a_reader_sees_no_tokens_users_or_forms_and_cannot_post(apismith_client, sign_in):
    _, csrf = await sign_in("reader")
    for path in ("/console/tokens", "/console/users", "/console/connections"):
        page = await apismith_client.get(path)
        assert page.status_code == 200
        assert "admins only" in page.text
        assert '<form method="post" action="/console/' not in page.text.split("</header>")[1]
    for path, data in (
        ("/console/tokens", {"name": "x", "role": "admin"}),
        ("/console/users", {"username": "x", "password": "long-enough-pw-1", "role": "admin"}),
        ("/console/connections", {"name": "x", "dialect": "sqlite", "url": "sqlite:///x"}),
        (f"/console/tokens/{uuid.uuid4()}/revoke", {}),
    ):
        refused = await apismith_client.post(path, data={**data, "csrf_token": csrf})
        assert refused.status_code == 403, path


async def test_the_audit_filters_and_measures_latency(apismith_client, sign_in, sqlite_erp):
    admin, _ = await sign_in("admin")
    reader, _ = await sign_in("reader")
    name = f"erp-{uuid.uuid4().hex[:6]}"
    connection = await apismith_client.post(
        "/api/v1/connections",
        json={"name": name, "dialect": "sqlite", "url": f"sqlite:///{sqlite_erp}"},
        headers=admin.headers,
    )
    assert connection.status_code == 201, connection.text
    slug = f"parts-{uuid.uuid4().hex[:6]}"
    api = await apismith_client.post(
        "/api/v1/apis",
        json={
            "slug": slug,
            "name": "Parts",
            "connection_uid": connection.json()["uid"],
            "sql": "SELECT part_no, qty FROM parts",
            "business_keys": ["part_no"],
        },
        headers=admin.headers,
    )
    assert api.status_code == 201, api.text
    for _ in range(3):
        ok = await apismith_client.post(
            f"/api/v1/runtime/{slug}/execute", json={}, headers=reader.headers
        )
        assert ok.status_code == 200
    bad = await apismith_client.post(
        f"/api/v1/runtime/{slug}/execute",
        json={"filters": [{"field": "nope", "operator": "eq", "value": 1}]},
        headers=admin.headers,
    )
    assert bad.status_code >= 400

    page = await apismith_client.get(f"/console/executions?slug={slug}")
    latency = page.text.split('<table id="latency">')[1].split("</table>")[0]
    assert slug in latency
    assert re.search(r'<td class="num">4</td><td class="num">1</td>', latency)

    mine = await apismith_client.get(
        f"/console/executions?slug={slug}&principal={reader.username}&status=ok&time_from=&time_to="
    )
    assert mine.text.count(f"<td>{reader.username}</td>") == 3
    assert admin.username not in mine.text.split("<h2>")[2]
    errors = await apismith_client.get(f"/console/executions?slug={slug}&status=error")
    assert f"<td>{admin.username}</td>" in errors.text
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    earlier = await apismith_client.get(f"/console/executions?slug={slug}&time_to={hour_ago}")
    assert f'value="{hour_ago}"' in earlier.text
    assert "No executions match." in earlier.text

    api_filtered = await apismith_client.get(
        f"/api/v1/executions?slug={slug}&principal={reader.username}&status=ok",
        headers=admin.headers,
    )
    assert api_filtered.json()["total"] == 3
