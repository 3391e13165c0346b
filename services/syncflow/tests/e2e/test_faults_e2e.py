"""Faults from APISmith: with one page request in ten failing (a 503, a stall past the
client's timeout, a connection dropped mid-body), syncs still complete and the target
ends equal to the source."""

from bridge_core.testing.fault_proxy import FAULT_KINDS, fault_proxy

BULK = 300


async def test_syncs_through_failing_pages_end_equal_to_the_source(world, apismith_e2e):
    _, _, service_token = apismith_e2e
    await world.erp(
        "INSERT INTO parts (part_no, description, unit_cost, qty, created) "
        "SELECT 'F-' || lpad(i::text, 4, '0'), 'faulty ' || i, (i % 50)::text, i % 9, "
        "'2025-04-01' FROM generate_series(1, $1) i",
        BULK,
    )
    parts = (await world.client.get("/api/v1/entities/parts")).json()
    world.settings.apismith_timeout_seconds = 1.0  # a stall of 1.5 s is a timeout
    with fault_proxy(world.apismith_url, every=10, stall_seconds=1.5) as proxy:
        source = await world.client.post(
            "/api/v1/sources",
            json={"name": "erp-faulty", "base_url": proxy.base_url, "token": service_token},
        )
        assert source.status_code == 201, source.text
        entity = await world.client.post(
            "/api/v1/entities",
            json={
                "name": "faulty_parts",
                "source": "erp-faulty",
                "api_slug": f"{world.prefix}-parts",
                "field_mappings": parts["field_mappings"],
                "page_size": 10,
                "target_table": "faulty_parts",
            },
        )
        assert entity.status_code == 201, entity.text

        first = await world.sync("faulty_parts")
        assert first["status"] == "completed", first
        assert first["counters"]["fetched"] == BULK + 7
        assert (first["counters"]["inserted"], first["counters"]["failed"]) == (BULK + 5, 2)

        await world.erp(
            "UPDATE parts SET description = description || ' v2', rowversion = nextval('rv') "
            "WHERE part_no LIKE 'F-%' AND right(part_no, 1) = '7'"
        )
        second = await world.sync("faulty_parts")
        assert second["status"] == "completed", second
        assert second["counters"]["updated"] == BULK // 10

        report = await world.verify("faulty_parts")

    # one page request in ten failed, and every kind of failure happened
    assert proxy.requests >= 30
    assert set(proxy.faults) == set(FAULT_KINDS)
    assert sum(proxy.faults.values()) == proxy.requests // 10
    # the two bad source rows are missing by design (kept as failed records), nothing else
    assert (report["missing"], report["extra"], report["different"]) == (2, 0, 0), report
    rows = await world.target(
        "SELECT count(*), count(DISTINCT part_no), count(*) FILTER (WHERE description LIKE '% v2') "
        "FROM erp.faulty_parts"
    )
    assert tuple(rows[0]) == (BULK + 5, BULK + 5, BULK // 10)
