"""Sources, entities, schedules and destinations through the console's forms (HTTP, the
real app and database): create, edit, delete, refusals shown on the form as typed,
secrets never rendered, a viewer refused."""

import uuid

WEBHOOK_SECRET = "whsec_c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw=="


async def _by_name(client, headers, path, name):
    listing = (await client.get(f"/api/v1/{path}", headers=headers)).json()
    items = listing["items"] if isinstance(listing, dict) else listing
    return next(item for item in items if item["name"] == name)


async def _add_source(client, csrf, fake):
    name = f"erp-{uuid.uuid4().hex[:6]}"
    response = await client.post(
        "/console/sources",
        data={"name": name, "base_url": fake.url, "token": fake.token, "csrf_token": csrf},
    )
    assert response.status_code == 303, response.text
    return name


async def test_an_operator_adds_edits_discovers_and_deletes_a_source(
    syncflow_client, sign_in, admin_headers, fake_apismith, sample_apis
):
    csrf = await sign_in("operator")
    name = await _add_source(syncflow_client, csrf, fake_apismith)
    listing = await syncflow_client.get("/console/sources")
    assert name in listing.text
    assert fake_apismith.token not in listing.text
    uid = (await _by_name(syncflow_client, admin_headers, "sources", name))["uid"]

    discovered = await syncflow_client.post(
        f"/console/sources/{uid}/discover", headers={"X-CSRF-Token": csrf}
    )
    assert discovered.status_code == 200
    assert "customers" in discovered.text
    assert "customer_no" in discovered.text
    assert f"/console/entities/new?source={name}&api_slug=customers" in discovered.text

    edit = await syncflow_client.get(f"/console/sources/{uid}/edit")
    assert fake_apismith.url in edit.text
    assert fake_apismith.token not in edit.text
    bad = await syncflow_client.post(
        f"/console/sources/{uid}/edit", data={"base_url": "ftp://nowhere", "csrf_token": csrf}
    )
    assert bad.status_code == 422
    assert 'role="alert"' in bad.text
    assert "ftp://nowhere" in bad.text
    saved = await syncflow_client.post(
        f"/console/sources/{uid}/edit",
        data={"base_url": fake_apismith.url + "/", "token": "", "csrf_token": csrf},
    )
    assert saved.status_code == 303

    taken = await syncflow_client.post(
        "/console/sources",
        data={"name": name, "base_url": fake_apismith.url, "token": "t", "csrf_token": csrf},
    )
    assert taken.status_code == 422
    assert "already" in taken.text

    deleted = await syncflow_client.post(
        f"/console/sources/{uid}/delete", data={"csrf_token": csrf}
    )
    assert deleted.status_code == 303
    assert name not in (await syncflow_client.get("/console/sources")).text


async def test_an_operator_defines_entities_with_mappings_and_a_parent(
    syncflow_client, sign_in, admin_headers, fake_apismith, sample_apis
):
    csrf = await sign_in("operator")
    source = await _add_source(syncflow_client, csrf, fake_apismith)
    customers = f"customers_{uuid.uuid4().hex[:6]}"
    orders = f"orders_{uuid.uuid4().hex[:6]}"
    form = await syncflow_client.get(f"/console/entities/new?source={source}&api_slug=customers")
    assert form.status_code == 200
    assert 'value="customers"' in form.text

    created = await syncflow_client.post(
        "/console/entities/new",
        data={"name": customers, "source": source, "api_slug": "customers", "csrf_token": csrf},
    )
    assert created.status_code == 303, created.text
    child = {
        "name": orders,
        "source": source,
        "api_slug": "orders",
        "csrf_token": csrf,
        "mappings-0-source_field": "order_no",
        "mappings-0-required": "true",
        "mappings-1-source_field": "customer_no",
        "mappings-2-source_field": "amount",
        "mappings-2-type": "numeric",
        "mappings-3-source_field": "rv",
        "mappings-4-source_field": "",
        "parents-0-parent_entity": customers,
        "parents-0-fields": "customer_no",
        "parents-1-parent_entity": "",
        "parents-1-fields": "",
    }
    created = await syncflow_client.post("/console/entities/new", data=child)
    assert created.status_code == 303, created.text
    entity = (await syncflow_client.get(f"/api/v1/entities/{orders}", headers=admin_headers)).json()
    assert [f["source_field"] for f in entity["field_mappings"]] == [
        "order_no",
        "customer_no",
        "amount",
        "rv",
    ]
    assert entity["field_mappings"][0]["required"] is True
    assert entity["parent_refs"][0]["parent_entity"] == customers

    # a refused edit comes back as typed, with the reason, and changes nothing
    refused = await syncflow_client.post(
        f"/console/entities/{orders}/edit",
        data={**child, "mappings-2-transform": "shout"},
    )
    assert refused.status_code == 422
    assert "transform must be one of" in refused.text
    assert 'value="shout"' in refused.text
    edited = await syncflow_client.post(
        f"/console/entities/{orders}/edit", data={**child, "mappings-1-transform": "upper"}
    )
    assert edited.status_code == 303, edited.text
    page = await syncflow_client.get(f"/console/entities/{orders}/edit")
    assert 'name="mappings-1-transform" value="upper"' in page.text

    parent_in_use = await syncflow_client.post(
        f"/console/entities/{customers}/delete", data={"csrf_token": csrf}
    )
    assert parent_in_use.status_code == 422
    assert "delete them first" in parent_in_use.text
    for name in (orders, customers):
        deleted = await syncflow_client.post(
            f"/console/entities/{name}/delete", data={"csrf_token": csrf}
        )
        assert deleted.status_code == 303


async def test_an_operator_schedules_a_night_window_over_several_days(
    syncflow_client, sign_in, admin_headers, fake_apismith, sample_apis
):
    csrf = await sign_in("operator")
    source = await _add_source(syncflow_client, csrf, fake_apismith)
    name = f"customers_{uuid.uuid4().hex[:6]}"
    await syncflow_client.post(
        "/console/entities/new",
        data={"name": name, "source": source, "api_slug": "customers", "csrf_token": csrf},
    )
    schedule = {
        "entity": name,
        "mode": "full",
        "cron": "0 22 * * *",
        "timezone": "Asia/Tehran",
        "window_start": "22:00",
        "window_end": "05:00",
        "days_to_complete": "3",
        "is_active": "true",
        "csrf_token": csrf,
    }
    both = await syncflow_client.post(
        "/console/schedules/new", data={**schedule, "interval_seconds": "60"}
    )
    assert both.status_code == 422
    assert "exactly one of interval_seconds and cron" in both.text
    created = await syncflow_client.post("/console/schedules/new", data=schedule)
    assert created.status_code == 303, created.text
    listed = (
        await syncflow_client.get(f"/api/v1/schedules?entity={name}", headers=admin_headers)
    ).json()["items"]
    assert [(s["window_start"], s["window_end"], s["days_to_complete"]) for s in listed] == [
        ("22:00", "05:00", 3)
    ]
    uid = listed[0]["uid"]
    page = await syncflow_client.get("/console/schedules")
    assert "22:00–05:00 Asia/Tehran" in page.text

    edited = await syncflow_client.post(
        f"/console/schedules/{uid}/edit",
        data={**schedule, "cron": "", "interval_seconds": "3600", "is_active": ""},
    )
    assert edited.status_code == 303
    changed = (await syncflow_client.get(f"/api/v1/schedules/{uid}", headers=admin_headers)).json()
    assert (changed["interval_seconds"], changed["cron"], changed["is_active"]) == (
        3600,
        None,
        False,
    )
    deleted = await syncflow_client.post(
        f"/console/schedules/{uid}/delete", data={"csrf_token": csrf}
    )
    assert deleted.status_code == 303
    gone = await syncflow_client.get(f"/api/v1/schedules/{uid}", headers=admin_headers)
    assert gone.status_code == 404


async def test_destinations_are_created_paused_resumed_and_never_show_a_secret(
    syncflow_client, sign_in, admin_headers
):
    csrf = await sign_in("operator")
    name = f"hook-{uuid.uuid4().hex[:6]}"
    form = {
        "name": name,
        "kind": "webhook",
        "url": "http://127.0.0.1:9/hook",
        "entities": "",
        "api_prefix": "/api/v1",
        "entity_paths": "",
        "batch_size": "100",
        "timeout_s": "10",
        "enabled": "true",
        "csrf_token": csrf,
    }
    without_secret = await syncflow_client.post("/console/destinations/new", data=form)
    assert without_secret.status_code == 422
    assert f'value="{name}"' in without_secret.text
    created = await syncflow_client.post(
        "/console/destinations/new", data={**form, "secrets": WEBHOOK_SECRET}
    )
    assert created.status_code == 303, created.text
    uid = (await _by_name(syncflow_client, admin_headers, "destinations", name))["uid"]
    listing = await syncflow_client.get("/console/destinations")
    assert name in listing.text
    assert WEBHOOK_SECRET not in listing.text

    edit = await syncflow_client.get(f"/console/destinations/{uid}/edit")
    assert WEBHOOK_SECRET not in edit.text
    edited = await syncflow_client.post(
        f"/console/destinations/{uid}/edit", data={**form, "batch_size": "250", "secrets": ""}
    )
    assert edited.status_code == 303, edited.text
    stored = (
        await syncflow_client.get(f"/api/v1/destinations/{uid}", headers=admin_headers)
    ).json()
    assert (stored["batch_size"], stored["secret_count"]) == (250, 1)

    await syncflow_client.post(
        f"/console/destinations/{uid}/pause", data={"reason": "receiver down", "csrf_token": csrf}
    )
    paused = (
        await syncflow_client.get(f"/api/v1/destinations/{uid}", headers=admin_headers)
    ).json()
    assert paused["paused"]
    assert paused["pause_reason"].startswith("receiver down")
    assert "receiver down" in (await syncflow_client.get("/console/destinations")).text
    await syncflow_client.post(f"/console/destinations/{uid}/resume", data={"csrf_token": csrf})
    resumed = (
        await syncflow_client.get(f"/api/v1/destinations/{uid}", headers=admin_headers)
    ).json()
    assert not resumed["paused"]
    deleted = await syncflow_client.post(
        f"/console/destinations/{uid}/delete", data={"csrf_token": csrf}
    )
    assert deleted.status_code == 303
    gone = await syncflow_client.get(f"/api/v1/destinations/{uid}", headers=admin_headers)
    assert gone.status_code == 404


async def test_a_viewer_sees_the_definitions_but_cannot_change_them(syncflow_client, sign_in):
    csrf = await sign_in("viewer")
    for path in (
        "/console/sources",
        "/console/entities",
        "/console/schedules",
        "/console/destinations",
    ):
        page = await syncflow_client.get(path)
        assert page.status_code == 200
        assert "/new" not in page.text
        assert ">Delete<" not in page.text
    for path, data in (
        ("/console/sources", {"name": "x", "base_url": "http://x", "token": "t"}),
        ("/console/entities/new", {"name": "x", "source": "x", "api_slug": "x"}),
        ("/console/schedules/new", {"entity": "x", "interval_seconds": "60"}),
        ("/console/destinations/new", {"name": "x", "kind": "webhook", "url": "http://x"}),
        (f"/console/destinations/{uuid.uuid4()}/pause", {}),
    ):
        refused = await syncflow_client.post(path, data={**data, "csrf_token": csrf})
        assert refused.status_code == 403, path
