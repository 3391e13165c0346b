"""Executing APIs on every source: filters, sorts, keyset paging, exact values, errors."""

import sqlite3
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from services.apismith.tests.erp_fixtures import (
    ORDER_COLUMNS,
    ErpSource,
    add_api,
    add_connection,
    order_rows,
    part_rows,
)

ORDERS_SQL = f"SELECT {', '.join(ORDER_COLUMNS)} FROM shop_orders"
ORDERS_KEYS = {
    "business_keys": ["order_no"],
    "rowversion_column": "rowversion",
    "delta_strategy": "rowversion",
}
ORDERS = [dict(zip(ORDER_COLUMNS, row, strict=True)) for row in order_rows()]


async def _orders_api(client, headers, source, **options):
    connection = await add_connection(client, headers, source, **options)
    return await add_api(client, headers, connection, ORDERS_SQL, **ORDERS_KEYS)


async def _execute(client, headers, slug, **body):
    return await client.post(f"/api/v1/runtime/{slug}/execute", json=body, headers=headers)


async def _all_pages(client, headers, slug, **body):
    """Every page of ``slug`` for ``body``, following next_cursor; the pages' data joined."""
    rows, cursor, pages = [], None, 0
    while True:
        response = await _execute(client, headers, slug, **body, cursor=cursor)
        assert response.status_code == 200, response.text
        page = response.json()
        rows.extend(page["data"])
        pages += 1
        cursor = page["metadata"]["next_cursor"]
        if cursor is None:
            return rows, pages
        assert page["metadata"]["row_count"] == body["page_size"]


def as_json(value):
    """How a value read directly from the database must look in APISmith's JSON (UTC zone)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


FILTER_CASES = [
    ("eq", "status", "Released", lambda r: r["status"] == "Released"),
    ("ne", "priority", 1, lambda r: r["priority"] != 1),  # ne also matches NULL
    ("gt", "rowversion", 5100, lambda r: r["rowversion"] > 5100),
    ("gte", "priority", "2", lambda r: r["priority"] is not None and r["priority"] >= 2),
    ("lt", "rowversion", 5003, lambda r: r["rowversion"] < 5003),
    ("lte", "priority", 0, lambda r: r["priority"] is not None and r["priority"] <= 0),
    ("in", "status", ["Planned", "Geprüft"], lambda r: r["status"] in ("Planned", "Geprüft")),
    ("not_in", "priority", [0, 1], lambda r: r["priority"] not in (0, 1)),
    ("like", "order_no", "SO-001%", lambda r: r["order_no"].startswith("SO-001")),
    ("is_null", "priority", None, lambda r: r["priority"] is None),
    ("not_null", "released_at", None, lambda r: r["released_at"] is not None),
    (
        "between",
        "due_date",
        ["2024-01-10", "2024-01-20"],
        lambda r: (
            r["due_date"] is not None and date(2024, 1, 10) <= r["due_date"] <= date(2024, 1, 20)
        ),
    ),
]


@pytest.mark.parametrize(
    ("operator", "field", "value", "keep"), FILTER_CASES, ids=[case[0] for case in FILTER_CASES]
)
async def test_each_filter_operator_selects_the_right_rows(
    apismith_client, admin_headers, erp_source, operator, field, value, keep
):
    api = await _orders_api(apismith_client, admin_headers, erp_source)
    condition = {"field": field, "operator": operator}
    if value is not None:
        condition["value"] = value

    response = await _execute(
        apismith_client,
        admin_headers,
        api["slug"],
        filters=[condition],
        page_size=1000,
        include_total=True,
    )

    assert response.status_code == 200, response.text
    expected = sorted(row["order_no"] for row in ORDERS if keep(row))
    assert expected  # every case selects something, and not everything
    assert len(expected) < len(ORDERS)
    body = response.json()
    assert sorted(row["order_no"] for row in body["data"]) == expected
    assert body["metadata"]["total_rows"] == len(expected)
    assert body["metadata"]["next_cursor"] is None


async def test_filters_combine_and_compare_exact_decimals(
    apismith_client, admin_headers, erp_postgres
):
    api = await _orders_api(apismith_client, admin_headers, erp_postgres)

    response = await _execute(
        apismith_client,
        admin_headers,
        api["slug"],
        filters=[
            {"field": "qty", "operator": "gt", "value": "14.125"},
            {"field": "status", "operator": "ne", "value": "Closed"},
            {"field": "released_at", "operator": "lt", "value": "2024-01-02T00:00:00+00:00"},
        ],
        page_size=500,
    )

    assert response.status_code == 200, response.text
    expected = [
        row["order_no"]
        for row in ORDERS
        if row["qty"] > Decimal("14.125")
        and row["status"] != "Closed"
        and row["released_at"] is not None
        and row["released_at"] < datetime(2024, 1, 2)
    ]
    assert [row["order_no"] for row in response.json()["data"]] == expected


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ([], lambda r: (r["rowversion"], r["order_no"])),
        (
            [{"field": "priority", "direction": "desc"}],
            lambda r: (r["priority"] is not None, -(r["priority"] or 0), r["order_no"]),
        ),
        (
            [{"field": "status"}, {"field": "due_date", "direction": "desc"}],
            lambda r: (
                r["status"],
                r["due_date"] is not None,
                -(r["due_date"].toordinal() if r["due_date"] else 0),
                r["order_no"],
            ),
        ),
    ],
    ids=["default", "priority-desc", "status-due-desc"],
)
async def test_sort_orders_rows_with_nulls_largest_and_ties_broken(
    apismith_client, admin_headers, erp_source, sort, key
):
    api = await _orders_api(apismith_client, admin_headers, erp_source)

    response = await _execute(apismith_client, admin_headers, api["slug"], sort=sort, page_size=500)

    assert response.status_code == 200, response.text
    expected = [row["order_no"] for row in sorted(ORDERS, key=key)]
    assert [row["order_no"] for row in response.json()["data"]] == expected


@pytest.mark.parametrize("page_size", [7, 50])
@pytest.mark.parametrize(
    "sort",
    [
        [],
        [{"field": "priority", "direction": "desc"}],
        [{"field": "due_date"}, {"field": "released_at", "direction": "desc"}],
    ],
    ids=["default", "priority-desc", "due-released"],
)
async def test_paging_returns_every_row_exactly_once(
    apismith_client, admin_headers, erp_source, sort, page_size
):
    api = await _orders_api(apismith_client, admin_headers, erp_source)
    direct = {
        row[0]: [as_json(value) for value in row] for row in await erp_source.rows(ORDERS_SQL)
    }

    paged, pages = await _all_pages(
        apismith_client, admin_headers, api["slug"], sort=sort, page_size=page_size
    )

    assert pages == -(-len(ORDERS) // page_size)
    keys = [row["order_no"] for row in paged]
    assert len(keys) == len(set(keys)) == len(direct) == 420
    assert {key: list(row.values()) for key, row in zip(keys, paged, strict=True)} == direct
    # the pages, joined, are the one ordered result
    whole = await _execute(apismith_client, admin_headers, api["slug"], sort=sort, page_size=1000)
    assert whole.json()["data"] == paged


async def test_paging_works_when_rows_carry_long_text(apismith_client, admin_headers, tmp_path):
    """The cursor holds the last row's sortable values, a 50,000-character note included."""
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany("INSERT INTO notes VALUES (?, ?)", [(n, "x" * 50_000) for n in range(5)])
    connection = await add_connection(
        apismith_client, admin_headers, ErpSource("sqlite", f"sqlite:///{path}")
    )
    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        "SELECT id, body FROM notes",
        business_keys=["id"],
    )

    rows, pages = await _all_pages(apismith_client, admin_headers, api["slug"], page_size=2)

    assert [row["id"] for row in rows] == [0, 1, 2, 3, 4]
    assert pages == 3


async def test_cursor_only_fits_the_query_it_came_from(
    apismith_client, admin_headers, erp_postgres
):
    api = await _orders_api(apismith_client, admin_headers, erp_postgres)
    first = await _execute(apismith_client, admin_headers, api["slug"], page_size=5)
    cursor = first.json()["metadata"]["next_cursor"]

    other_filter = await _execute(
        apismith_client,
        admin_headers,
        api["slug"],
        page_size=5,
        cursor=cursor,
        filters=[{"field": "priority", "operator": "eq", "value": 1}],
    )
    edited = await _execute(
        apismith_client, admin_headers, api["slug"], page_size=5, cursor=cursor[:-2] + "AA"
    )
    garbage = await _execute(apismith_client, admin_headers, api["slug"], cursor="not-a-cursor")

    for response in (other_filter, edited, garbage):
        assert response.status_code == 400
        assert response.json() == {"detail": "invalid cursor"}


@pytest.mark.parametrize("source", ["erp_postgres", "erp_mysql"])
async def test_decimals_and_timestamps_survive_exactly(
    apismith_client, admin_headers, request, source
):
    await _check_exact_values(apismith_client, admin_headers, request.getfixturevalue(source))


async def _check_exact_values(client, headers, source):
    connection = await add_connection(client, headers, source, timezone="Europe/Berlin")
    api = await add_api(
        client,
        headers,
        connection,
        "SELECT part_no, description, unit_cost, weight_kg, created_at FROM parts",
        business_keys=["part_no"],
    )

    response = await _execute(client, headers, api["slug"], page_size=60)

    assert response.status_code == 200, response.text
    rows = {row["part_no"]: row for row in response.json()["data"]}
    assert rows["P-0001"]["unit_cost"] == "0.000001"
    assert rows["P-0002"]["unit_cost"] == "99999999999.999999"
    assert rows["P-0004"]["weight_kg"] is None
    assert rows["P-0003"]["weight_kg"] == "0.375"
    # naive ERP timestamps are read in Europe/Berlin: CET before 31 March 2024, CEST after
    assert rows["P-0001"]["created_at"] == "2024-03-30T15:00:00+01:00"
    assert rows["P-0003"]["created_at"] == "2024-03-31T05:00:00+02:00"
    assert rows["P-0001"]["description"] == "Größe 12 Mutter"
    assert rows["P-0006"]["description"] == "Schraube M8 – verzinkt"
    assert rows["P-0002"]["description"] == "部品 A"
    assert rows["P-0011"]["description"] is None
    assert rows["P-0005"]["description"] == ""
    expected = {row[0]: row for row in part_rows()}
    for part_no, row in rows.items():
        assert Decimal(row["unit_cost"]) == expected[part_no][3]
        moment = datetime.fromisoformat(row["created_at"])
        assert moment.utcoffset() is not None
        assert moment.replace(tzinfo=None) == expected[part_no][5]


async def test_aware_timestamps_keep_their_instant_whatever_the_zone_option(
    apismith_client, admin_headers, erp_postgres
):
    connection = await add_connection(
        apismith_client, admin_headers, erp_postgres, timezone="America/New_York"
    )
    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        "SELECT part_no, created_at AT TIME ZONE 'Asia/Tokyo' AS created_tz FROM parts",
        business_keys=["part_no"],
    )

    response = await _execute(
        apismith_client,
        admin_headers,
        api["slug"],
        filters=[{"field": "part_no", "operator": "eq", "value": "P-0001"}],
    )

    # 15:00 in Tokyo is 06:00 UTC; the connection's zone applies to naive values only
    assert response.json()["data"] == [
        {"part_no": "P-0001", "created_tz": "2024-03-30T06:00:00+00:00"}
    ]


async def test_params_are_typed_and_bound(apismith_client, admin_headers, erp_source):
    connection = await add_connection(apismith_client, admin_headers, erp_source)
    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        f"{ORDERS_SQL} WHERE status = :status AND priority >= :min_priority",
        params=[
            {"name": "status", "type": "string", "required": True},
            {"name": "min_priority", "type": "integer", "default": 2},
        ],
        **ORDERS_KEYS,
    )
    slug = api["slug"]

    defaulted = await _execute(apismith_client, admin_headers, slug, params={"status": "Closed"})
    given = await _execute(
        apismith_client,
        admin_headers,
        slug,
        params={"status": "Closed", "min_priority": "3"},
        page_size=500,
    )
    missing = await _execute(apismith_client, admin_headers, slug, params={})
    unknown = await _execute(
        apismith_client, admin_headers, slug, params={"status": "Closed", "colour": "red"}
    )
    mistyped = await _execute(
        apismith_client, admin_headers, slug, params={"status": "Closed", "min_priority": "high"}
    )

    def closed(minimum):
        return [
            r["order_no"]
            for r in ORDERS
            if r["status"] == "Closed" and r["priority"] is not None and r["priority"] >= minimum
        ]

    assert sorted(r["order_no"] for r in defaulted.json()["data"]) == closed(2)
    assert sorted(r["order_no"] for r in given.json()["data"]) == closed(3)
    assert (missing.status_code, missing.json()) == (
        400,
        {"detail": "parameter 'status' is required"},
    )
    assert (unknown.status_code, unknown.json()) == (400, {"detail": "unknown parameter 'colour'"})
    assert mistyped.status_code == 400
    assert "parameter 'min_priority'" in mistyped.json()["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"filters": [{"field": "colour", "operator": "eq", "value": 1}]}, "'colour'"),
        ({"filters": [{"field": "status", "operator": "approx", "value": 1}]}, "'approx'"),
        ({"filters": [{"field": "priority", "operator": "eq", "value": "high"}]}, "'priority'"),
        ({"filters": [{"field": "priority", "operator": "between", "value": [1]}]}, "between"),
        ({"sort": [{"field": "colour"}]}, "unknown sort field 'colour'"),
        ({"sort": [{"field": "status", "direction": "up"}]}, "asc or desc"),
        ({"page_size": 0}, "page_size must be between 1 and 10000"),
        ({"page_size": 10_001}, "page_size must be between 1 and 10000"),
    ],
)
async def test_bad_requests_are_400_naming_the_problem(
    apismith_client, admin_headers, erp_postgres, body, detail
):
    api = await _orders_api(apismith_client, admin_headers, erp_postgres)

    response = await _execute(apismith_client, admin_headers, api["slug"], **body)

    assert response.status_code == 400, response.text
    assert detail in response.json()["detail"]


@pytest.mark.parametrize(
    ("endpoint", "body", "loc"),
    [
        ("execute", {"filter": [{"field": "status", "operator": "eq", "value": "x"}]}, "filter"),
        (
            "execute",
            {"filters": [{"field": "status", "operator": "in", "values": ["x"]}]},
            "values",
        ),
        ("execute", {"sort": [{"field": "status", "dir": "desc"}]}, "dir"),
        ("stream", {"page_size": 10}, "page_size"),
    ],
)
async def test_unknown_body_keys_are_refused_not_ignored(
    apismith_client, admin_headers, erp_sqlite, endpoint, body, loc
):
    """A misspelt key must not quietly turn a filtered request into one for every row."""
    api = await _orders_api(apismith_client, admin_headers, erp_sqlite)

    response = await apismith_client.post(
        f"/api/v1/runtime/{api['slug']}/{endpoint}", json=body, headers=admin_headers
    )

    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert problem["loc"][-1] == loc
    assert problem["type"] == "extra_forbidden"


async def test_default_page_size_and_empty_body(
    apismith_client, admin_headers, reader_headers, erp_sqlite
):
    api = await _orders_api(apismith_client, admin_headers, erp_sqlite)

    response = await apismith_client.post(
        f"/api/v1/runtime/{api['slug']}/execute", headers=reader_headers
    )

    assert response.status_code == 200, response.text
    metadata = response.json()["metadata"]
    assert metadata["row_count"] == metadata["page_size"] == 100
    assert metadata["total_rows"] is None
    assert metadata["columns"] == api["columns"]
    assert metadata["execution_time_ms"] >= 0


async def test_unknown_and_inactive_apis_are_404(apismith_client, admin_headers, erp_sqlite):
    connection = await add_connection(apismith_client, admin_headers, erp_sqlite)
    inactive = await add_api(
        apismith_client, admin_headers, connection, ORDERS_SQL, is_active=False, **ORDERS_KEYS
    )

    for slug in (inactive["slug"], "no-such-api"):
        for endpoint in ("execute", "stream"):
            response = await apismith_client.post(
                f"/api/v1/runtime/{slug}/{endpoint}", json={}, headers=admin_headers
            )
            assert response.status_code == 404
            assert response.json() == {"detail": "api not found or inactive"}


async def test_readers_execute_and_anonymous_callers_do_not(
    apismith_client, admin_headers, reader_headers, erp_sqlite
):
    api = await _orders_api(apismith_client, admin_headers, erp_sqlite)

    read = await _execute(apismith_client, reader_headers, api["slug"], page_size=3)
    anonymous = await apismith_client.post(f"/api/v1/runtime/{api['slug']}/execute", json={})

    assert read.status_code == 200
    assert len(read.json()["data"]) == 3
    assert anonymous.status_code == 401


INJECTIONS = [
    "x' OR '1'='1",
    "'; DROP TABLE shop_orders; --",
    "Closed\\' OR 1=1 #",
    "Closed'); DELETE FROM shop_orders; --",
]


async def test_injection_through_values_sort_and_params_is_bound_or_refused(
    apismith_client, admin_headers, erp_source
):
    connection = await add_connection(apismith_client, admin_headers, erp_source)
    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        f"{ORDERS_SQL} WHERE status <> :skip",
        params=[{"name": "skip", "type": "string", "default": "none"}],
        **ORDERS_KEYS,
    )
    slug = api["slug"]

    for text in INJECTIONS:
        as_value = await _execute(
            apismith_client,
            admin_headers,
            slug,
            filters=[{"field": "status", "operator": "eq", "value": text}],
        )
        as_list = await _execute(
            apismith_client,
            admin_headers,
            slug,
            filters=[{"field": "status", "operator": "in", "value": ["Closed", text]}],
            page_size=1000,
        )
        as_param = await _execute(
            apismith_client, admin_headers, slug, params={"skip": text}, page_size=1000
        )
        as_sort = await _execute(apismith_client, admin_headers, slug, sort=[{"field": text}])
        as_field = await _execute(
            apismith_client,
            admin_headers,
            slug,
            filters=[{"field": f"status = 'x' OR {text}", "operator": "eq", "value": 1}],
        )
        as_direction = await _execute(
            apismith_client,
            admin_headers,
            slug,
            sort=[{"field": "status", "direction": f"desc; {text}"}],
        )
        assert as_value.json()["data"] == []
        assert {row["status"] for row in as_list.json()["data"]} == {"Closed"}
        assert len(as_param.json()["data"]) == 420
        assert [as_sort.status_code, as_field.status_code, as_direction.status_code] == [400] * 3
    assert await erp_source.scalar("SELECT count(*) FROM shop_orders") == 420
    assert await erp_source.scalar("SELECT count(*) FROM parts") == 60


async def test_timestamps_sent_back_with_their_offset_match_naive_erp_values(
    apismith_client, admin_headers, erp_source
):
    if erp_source.dialect == "sqlite":
        pytest.skip("SQLite keeps timestamps as text: nothing to convert")
    connection = await add_connection(
        apismith_client, admin_headers, erp_source, timezone="Europe/Berlin"
    )
    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        f"{ORDERS_SQL} WHERE released_at >= :since",
        params=[{"name": "since", "type": "timestamp", "default": "2024-01-01T00:00:00+01:00"}],
        **ORDERS_KEYS,
    )
    first = (await _execute(apismith_client, admin_headers, api["slug"], page_size=1)).json()
    released = first["data"][0]["released_at"]
    assert released == "2024-01-01T06:37:00+01:00"

    # what APISmith sent (an offset in the connection's zone), or the same instant in UTC
    same = await _execute(
        apismith_client,
        admin_headers,
        api["slug"],
        filters=[{"field": "released_at", "operator": "eq", "value": released}],
    )
    in_utc = await _execute(
        apismith_client,
        admin_headers,
        api["slug"],
        params={"since": "2024-01-01T05:37:00Z"},
        filters=[{"field": "released_at", "operator": "lte", "value": "2024-01-01T05:37:00Z"}],
    )

    assert [row["order_no"] for row in same.json()["data"]] == ["SO-00001"]
    assert [row["order_no"] for row in in_utc.json()["data"]] == ["SO-00001"]

    # at the edge of the calendar: a 400 that names the value, never a 500
    for edge in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:30:00+01:00"):
        refused = await _execute(
            apismith_client,
            admin_headers,
            api["slug"],
            filters=[{"field": "released_at", "operator": "gte", "value": edge}],
        )
        assert refused.status_code == 400, refused.text
        assert edge in refused.json()["detail"]
