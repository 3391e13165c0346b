"""ApiSmithClient against a real HTTP server that speaks APISmith's v1 contract."""

import pytest

from bridge_core.http.client import ServiceClientError
from syncflow.apismith_client import ApiSmithClient
from syncflow.domain import ApiColumn

ROWS = [
    {
        "part_no": f"P{n:03d}",
        "price": f"{n}.10",
        "changed_at": f"2025-01-{n % 28 + 1:02d}T08:00:00+01:00",
        "rv": n,
    }
    for n in range(1, 26)
]


@pytest.fixture
def parts_api(fake_apismith):
    return fake_apismith.add_api(
        "parts",
        [
            ("part_no", "string"),
            ("price", "number"),
            ("changed_at", "timestamp"),
            ("rv", "integer"),
        ],
        business_keys=["part_no"],
        rowversion_column="rv",
        rows=list(reversed(ROWS)),
    )


def _client(fake, **options) -> ApiSmithClient:
    return ApiSmithClient(fake.url, token=fake.token, backoff_base=0.01, **options)


async def test_health_and_whoami(fake_apismith):
    async with _client(fake_apismith) as client:
        assert (await client.health())["version"] == "9.8.7"
        assert (await client.whoami())["name"] == "syncflow"


@pytest.mark.parametrize("shape", ["paged", "list"])
async def test_list_apis_reads_every_page_of_either_shape(fake_apismith, shape):
    fake_apismith.list_shape = shape
    for n in range(130):  # more than one page of 100
        fake_apismith.add_api(f"api-{n:03d}", [("id", "integer")], business_keys=["id"])
    async with _client(fake_apismith) as client:
        apis = await client.list_apis()
    assert sorted(api["slug"] for api in apis) == [f"api-{n:03d}" for n in range(130)]


async def test_get_api_has_the_sync_metadata(fake_apismith, parts_api):
    async with _client(fake_apismith) as client:
        api = await client.get_api("parts")
    assert api["business_keys"] == ["part_no"]
    assert api["rowversion_column"] == "rv"
    assert api["delta_strategy"] == "rowversion"
    assert api["columns"][1] == {"name": "price", "data_type": "number", "nullable": True}


async def test_slugs_are_quoted_into_the_path(fake_apismith):
    fake_apismith.add_api("odd slug", [("id", "integer")])
    async with _client(fake_apismith) as client:
        assert (await client.get_api("odd slug"))["slug"] == "odd slug"


async def test_execute_pages_through_every_row_in_keyset_order(fake_apismith, parts_api):
    rows, cursor, pages = [], None, 0
    async with _client(fake_apismith) as client:
        while True:
            page = await client.execute_page(
                "parts", filters=[], sort=[], page_size=10, cursor=cursor, include_total=True
            )
            pages += 1
            rows.extend(page.rows)
            assert page.total == 25
            assert page.columns[0] == ApiColumn("part_no", "string", True)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert pages == 3
    assert rows == ROWS


async def test_execute_passes_filters_and_keeps_exact_values_as_strings(fake_apismith, parts_api):
    async with _client(fake_apismith) as client:
        rows, next_cursor, total, _, table = await client.execute_page(
            "parts",
            filters=[{"field": "rv", "operator": "gte", "value": 24}],
            sort=[{"field": "rv", "direction": "desc"}],
            page_size=100,
            cursor=None,
        )
    assert rows == [ROWS[24], ROWS[23]]
    assert rows[0]["price"] == "25.10"
    assert rows[0]["changed_at"] == "2025-01-26T08:00:00+01:00"
    assert (next_cursor, total, table) == (None, None, None)


async def test_a_503_is_retried(fake_apismith, parts_api):
    fake_apismith.fail_next.extend([503, 502])
    async with _client(fake_apismith) as client:
        page = await client.execute_page("parts", filters=[], sort=[], page_size=5, cursor=None)
    assert len(page.rows) == 5
    assert [path for _, path in fake_apismith.requests].count("/api/v1/runtime/parts/execute") == 3


async def test_persistent_5xx_gives_up_with_a_clear_error(fake_apismith, parts_api):
    fake_apismith.fail_next.extend([503] * 3)
    async with _client(fake_apismith, max_attempts=3) as client:
        with pytest.raises(ServiceClientError, match=r"gave up after 3 attempts.*503"):
            await client.get_api("parts")


async def test_a_refused_token_is_a_401_without_retries(fake_apismith):
    async with ApiSmithClient(fake_apismith.url, token="wrong", backoff_base=0.01) as client:
        with pytest.raises(ServiceClientError) as caught:
            await client.whoami()
    assert caught.value.status_code == 401
    assert "invalid token" in str(caught.value)
    assert len(fake_apismith.requests) == 1


async def test_an_unknown_api_is_a_404(fake_apismith):
    async with _client(fake_apismith) as client:
        with pytest.raises(ServiceClientError) as caught:
            await client.get_api("nope")
    assert caught.value.status_code == 404


async def test_an_unreachable_apismith_raises_after_retries():
    async with ApiSmithClient(
        "http://127.0.0.1:1", token="t", max_attempts=2, backoff_base=0.01
    ) as client:
        with pytest.raises(ServiceClientError, match="ConnectError"):
            await client.health()
