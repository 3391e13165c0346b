"""Streaming APIs: NDJSON, CSV and Arrow carry the same rows; memory stays bounded; limits hold.

The streaming tests that need a real socket (memory, disconnects, failures after the
first row) run the app under uvicorn (``live_server``): the in-process test transport
collects a whole response before handing it over.
"""

import asyncio
import csv
import gc
import io
import sqlite3
import tracemalloc
from datetime import date, datetime

import httpx
import orjson
import pyarrow as pa
import pytest

from apismith.main import build_app
from bridge_core.testing.live_server import live_server
from services.apismith.tests.erp_fixtures import ORDER_COLUMNS, ErpSource, add_api, add_connection

ORDERS_SQL = f"SELECT {', '.join(ORDER_COLUMNS)} FROM shop_orders"
ORDERS_KEYS = {"business_keys": ["order_no"], "rowversion_column": "rowversion"}
NDJSON = "application/x-ndjson"
ARROW = "application/vnd.apache.arrow.stream"
BIG_ROWS = 200_000
ARROW_END_OF_STREAM = b"\xff\xff\xff\xff\x00\x00\x00\x00"


async def _stream(client, headers, slug, accept=None, **body):
    if accept is not None:
        headers = {**headers, "Accept": accept}
    return await client.post(f"/api/v1/runtime/{slug}/stream", json=body, headers=headers)


async def _executions(client, headers, slug):
    """The audit of ``slug``; a live server writes its audit in batches within 0.2 s."""
    for _ in range(20):
        response = await client.get(f"/api/v1/executions?slug={slug}", headers=headers)
        if response.json()["items"]:
            break
        await asyncio.sleep(0.05)
    return response.json()["items"]


async def _download(base_url, path, headers, into):
    """POST ``path`` on a live server for an Arrow stream, collecting the body ``into``."""
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=60) as client,
        client.stream("POST", path, json={}, headers={**headers, "Accept": ARROW}) as response,
    ):
        assert response.status_code == 200
        async for chunk in response.aiter_bytes():
            into += chunk


def _csv_text(value):
    return "" if value is None else str(value)


def _same_value(arrow_value, json_value, data_type):
    """An Arrow value equals the JSON one: the same instant, date, digits or text."""
    if json_value is None or arrow_value is None:
        return arrow_value is json_value
    if data_type == "timestamp" and isinstance(arrow_value, datetime):
        return arrow_value == datetime.fromisoformat(json_value)
    if data_type == "date":
        return arrow_value == date.fromisoformat(json_value)
    return arrow_value == json_value


async def test_every_format_carries_the_same_rows(apismith_client, admin_headers, erp_source):
    connection = await add_connection(apismith_client, admin_headers, erp_source)
    api = await add_api(apismith_client, admin_headers, connection, ORDERS_SQL, **ORDERS_KEYS)
    slug, body = api["slug"], {"sort": [{"field": "priority", "direction": "desc"}]}
    executed = await apismith_client.post(
        f"/api/v1/runtime/{slug}/execute", json={**body, "page_size": 1000}, headers=admin_headers
    )
    rows = executed.json()["data"]
    assert len(rows) == 420

    ndjson = await _stream(apismith_client, admin_headers, slug, **body)
    as_csv = await _stream(apismith_client, admin_headers, slug, "text/csv", **body)
    arrow = await _stream(apismith_client, admin_headers, slug, ARROW, **body)

    assert ndjson.headers["content-type"] == NDJSON
    assert [orjson.loads(line) for line in ndjson.content.splitlines()] == rows

    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"
    records = list(csv.reader(io.StringIO(as_csv.text)))
    assert records[0] == list(ORDER_COLUMNS)
    assert records[1:] == [[_csv_text(value) for value in row.values()] for row in rows]
    null_priority = next(i for i, row in enumerate(rows) if row["priority"] is None)
    # NULL is an empty, unquoted field; text is always quoted
    assert ',,"' in as_csv.text.split("\r\n")[null_priority + 1]

    assert arrow.headers["content-type"] == ARROW
    table = pa.ipc.open_stream(arrow.content).read_all()
    assert table.schema.names == list(ORDER_COLUMNS)
    types = {column["name"]: column["data_type"] for column in api["columns"]}
    for streamed, expected in zip(table.to_pylist(), rows, strict=True):
        for name, value in expected.items():
            assert _same_value(streamed[name], value, types[name]), (name, streamed, expected)


async def test_filters_and_params_apply_to_streams(
    apismith_client, reader_headers, admin_headers, erp_postgres
):
    connection = await add_connection(apismith_client, admin_headers, erp_postgres)
    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        f"{ORDERS_SQL} WHERE status = :status",
        params=[{"name": "status", "type": "string", "required": True}],
        **ORDERS_KEYS,
    )

    response = await _stream(
        apismith_client,
        reader_headers,
        api["slug"],
        params={"status": "Closed"},
        filters=[{"field": "priority", "operator": "is_null"}],
    )
    missing = await _stream(apismith_client, reader_headers, api["slug"])

    rows = [orjson.loads(line) for line in response.content.splitlines()]
    assert rows
    assert all(row["status"] == "Closed" and row["priority"] is None for row in rows)
    assert [row["rowversion"] for row in rows] == sorted(row["rowversion"] for row in rows)
    assert (missing.status_code, missing.json()) == (
        400,
        {"detail": "parameter 'status' is required"},
    )


async def test_unsupported_accept_is_406(apismith_client, admin_headers, erp_sqlite):
    connection = await add_connection(apismith_client, admin_headers, erp_sqlite)
    api = await add_api(apismith_client, admin_headers, connection, ORDERS_SQL, **ORDERS_KEYS)

    response = await _stream(apismith_client, admin_headers, api["slug"], "application/xml")

    assert response.status_code == 406
    assert "text/csv" in response.json()["detail"]


async def test_a_stream_past_max_rows_in_its_first_chunk_is_a_502(
    apismith_client, admin_headers, erp_sqlite
):
    connection = await add_connection(apismith_client, admin_headers, erp_sqlite, max_rows=100)
    api = await add_api(apismith_client, admin_headers, connection, ORDERS_SQL, **ORDERS_KEYS)
    slug = api["slug"]

    ndjson = await _stream(apismith_client, admin_headers, slug)
    arrow = await _stream(apismith_client, admin_headers, slug, ARROW)
    small = await _stream(
        apismith_client,
        admin_headers,
        slug,
        filters=[{"field": "order_no", "operator": "like", "value": "SO-000%"}],
    )
    too_big_page = await apismith_client.post(
        f"/api/v1/runtime/{slug}/execute", json={"page_size": 100}, headers=admin_headers
    )

    assert [ndjson.status_code, arrow.status_code] == [502, 502]
    assert "more than max_rows=100 rows" in ndjson.json()["detail"]
    assert len(small.content.splitlines()) == 99
    assert too_big_page.status_code == 400
    assert "max_rows (100)" in too_big_page.json()["detail"]
    audit = await _executions(apismith_client, admin_headers, slug)
    streams = [(e["status"], e["row_count"]) for e in audit if e["kind"] == "stream"]
    assert streams == [("ok", 99), ("truncated", 0), ("truncated", 0)]
    assert "max_rows=100" in audit[-1]["error"]


async def test_a_stream_that_passes_max_rows_later_is_broken_off_never_ended(
    served, apismith_client, admin_headers, tmp_path
):
    # 3000 rows, max_rows 2500, chunks of 1000: two chunks go out before the limit shows
    path = tmp_path / "many.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE many (id INTEGER PRIMARY KEY)")
        conn.executemany("INSERT INTO many VALUES (?)", [(n,) for n in range(1, 3001)])
    connection = await add_connection(
        apismith_client, admin_headers, ErpSource("sqlite", f"sqlite:///{path}"), max_rows=2500
    )
    api = await add_api(
        apismith_client, admin_headers, connection, "SELECT id FROM many", business_keys=["id"]
    )

    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError):
        await _download(served, f"/api/v1/runtime/{api['slug']}/stream", admin_headers, received)

    # rows arrived, but never the end-of-stream marker: the body cannot pass as complete
    assert pa.ipc.open_stream(received).read_next_batch().num_rows == 1000
    assert not received.endswith(ARROW_END_OF_STREAM)
    audit = await _executions(apismith_client, admin_headers, api["slug"])
    assert [(e["status"], e["row_count"]) for e in audit] == [("truncated", 2000)]
    assert audit[0]["error"].startswith("stopped after 2000 rows: ")
    assert "max_rows=2500" in audit[0]["error"]


@pytest.fixture(scope="module")
async def big_table(erp_postgres):
    """``big_rows``: 200,000 rows of about 250 bytes of JSON each, in the PostgreSQL ERP."""
    await erp_postgres.rows(
        f"""CREATE TABLE IF NOT EXISTS big_rows AS
        SELECT n AS id, 'Teil ' || n || ' - ' || repeat('x', 120) AS description,
               (n * 1.000001)::numeric(18, 6) AS amount,
               timestamp '2024-01-01' + n * interval '1 second' AS changed_at, n % 97 AS grp
        FROM generate_series(1, {BIG_ROWS}) AS n"""
    )
    return "SELECT id, description, amount, changed_at, grp FROM big_rows"


@pytest.fixture
async def big_api(apismith_client, admin_headers, erp_postgres, big_table):
    connection = await add_connection(apismith_client, admin_headers, erp_postgres)
    return await add_api(
        apismith_client, admin_headers, connection, big_table, business_keys=["id"]
    )


@pytest.fixture
def served(apismith_settings):
    """The app under a real uvicorn server (in a thread of this process): its base URL."""
    with live_server(
        build_app(apismith_settings.model_copy(update={"stream_chunk_rows": 1000}))
    ) as url:
        yield url


async def test_a_large_stream_stays_memory_bounded(served, admin_headers, big_api):
    rows = body_bytes = 0
    gc.collect()
    tracemalloc.start()  # traces the server's thread too: it runs in this process
    try:
        async with (
            httpx.AsyncClient(base_url=served, timeout=120) as client,
            client.stream(
                "POST", f"/api/v1/runtime/{big_api['slug']}/stream", json={}, headers=admin_headers
            ) as response,
        ):
            assert response.status_code == 200
            async for chunk in response.aiter_bytes():
                body_bytes += len(chunk)
                rows += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert rows == BIG_ROWS
    # holding the body alone would take all of it; holding the rows as objects, several times
    assert body_bytes > 45_000_000
    assert peak < 25_000_000, f"peak {peak / 1e6:.1f} MB for a {body_bytes / 1e6:.1f} MB body"


async def test_a_client_that_goes_away_is_audited_as_aborted(
    served, apismith_client, admin_headers, big_api
):
    async with (
        httpx.AsyncClient(base_url=served, timeout=60) as client,
        client.stream(
            "POST", f"/api/v1/runtime/{big_api['slug']}/stream", json={}, headers=admin_headers
        ) as response,
    ):
        received = 0
        async for chunk in response.aiter_bytes():
            received += len(chunk)
            if received > 100_000:
                break

    for _ in range(100):
        audit = await _executions(apismith_client, admin_headers, big_api["slug"])
        if audit:
            break
        await asyncio.sleep(0.1)
    assert [(e["kind"], e["status"]) for e in audit] == [("stream", "aborted")]
    assert 0 < audit[0]["row_count"] < BIG_ROWS


async def test_a_failure_after_the_first_rows_breaks_the_stream_off(
    served, apismith_client, admin_headers, tmp_path
):
    # SQLite types values per row: the API saw integers in its sample, row 1500 holds text,
    # which the Arrow stream cannot put in an int64 column once 1000 rows have gone out
    path = tmp_path / "mixed.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE mixed (id INTEGER PRIMARY KEY, value)")
        conn.executemany(
            "INSERT INTO mixed VALUES (?, ?)",
            [(n, "oops" if n == 1500 else n) for n in range(1, 3001)],
        )
    connection = await add_connection(
        apismith_client, admin_headers, ErpSource("sqlite", f"sqlite:///{path}")
    )
    api = await add_api(
        apismith_client,
        admin_headers,
        connection,
        "SELECT id, value FROM mixed",
        business_keys=["id"],
    )
    assert [column["data_type"] for column in api["columns"]] == ["integer", "integer"]

    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError):
        await _download(served, f"/api/v1/runtime/{api['slug']}/stream", admin_headers, received)

    # the first batch arrived whole, and nothing after it
    reader = pa.ipc.open_stream(received)
    assert reader.read_next_batch().num_rows == 1000
    with pytest.raises(StopIteration):
        reader.read_next_batch()
    audit = await _executions(apismith_client, admin_headers, api["slug"])
    assert [(e["status"], e["row_count"]) for e in audit] == [("error", 1000)]
    assert "column 'value' returned a str value" in audit[0]["error"]
