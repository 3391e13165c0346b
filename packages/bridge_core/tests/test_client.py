"""The client base against a real local HTTP server that fails on purpose."""

import asyncio

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from bridge_core.http.client import ServiceClient, ServiceClientError
from bridge_core.testing.live_server import free_port, live_server


class Flaky(ServiceClient):
    service = "flaky"


def _flaky_app() -> FastAPI:
    app = FastAPI()
    app.state.calls = {}

    @app.get("/fail/{times}/{key}")
    async def fail(times: int, key: str, request: Request) -> Response:
        calls = app.state.calls
        calls[key] = calls.get(key, 0) + 1
        if calls[key] <= times:
            return Response('{"detail": "busy"}', status_code=503, media_type="application/json")
        return Response(
            f'{{"calls": {calls[key]}, "auth": "{request.headers.get("authorization")}"}}',
            media_type="application/json",
        )

    @app.get("/missing")
    async def missing() -> Response:
        app.state.calls["missing"] = app.state.calls.get("missing", 0) + 1
        return Response(
            '{"detail": "no such thing"}', status_code=404, media_type="application/json"
        )

    @app.get("/slow")
    async def slow() -> Response:
        await asyncio.sleep(2)
        return Response("{}")

    return app


@pytest.fixture(scope="module")
def flaky_server():
    app = _flaky_app()
    with live_server(app) as url:
        yield url, app


async def test_retries_5xx_until_success_and_sends_bearer(flaky_server):
    url, _ = flaky_server
    async with Flaky(url, token="s3cret", backoff_base=0.01) as client:
        response = await client.request("GET", "/fail/3/a")
    assert response.json() == {"calls": 4, "auth": "Bearer s3cret"}


async def test_gives_up_after_max_attempts_with_clear_error(flaky_server):
    url, app = flaky_server
    async with Flaky(url, max_attempts=3, backoff_base=0.01) as client:
        with pytest.raises(
            ServiceClientError, match=r"flaky: gave up after 3 attempts: HTTP 503.*busy"
        ):
            await client.request("GET", "/fail/10/b")
    assert app.state.calls["b"] == 3


async def test_client_errors_are_not_retried(flaky_server):
    url, app = flaky_server
    async with Flaky(url, backoff_base=0.01) as client:
        with pytest.raises(ServiceClientError, match=r"HTTP 404.*no such thing") as info:
            await client.request("GET", "/missing")
    assert info.value.status_code == 404
    assert app.state.calls["missing"] == 1


async def test_connection_refused_is_retried_then_reported():
    url = f"http://127.0.0.1:{free_port()}"
    async with Flaky(url, max_attempts=2, backoff_base=0.01) as client:
        with pytest.raises(ServiceClientError, match="ConnectError"):
            await client.request("GET", "/anything")


async def test_timeouts_are_retried_then_reported(flaky_server):
    url, _ = flaky_server
    async with Flaky(url, timeout=0.2, max_attempts=2, backoff_base=0.01) as client:
        with pytest.raises(ServiceClientError, match="Timeout"):
            await client.request("GET", "/slow")


async def test_stream_retries_before_headers(flaky_server):
    url, _ = flaky_server
    async with (
        Flaky(url, backoff_base=0.01) as client,
        client.stream("GET", "/fail/2/c") as response,
    ):
        body = await response.aread()
    assert b'"calls": 3' in body


def test_backoff_is_bounded_full_jitter():
    client = Flaky("http://127.0.0.1:1", backoff_base=0.5, backoff_max=3.0)
    delays = [client._delay(attempt) for attempt in range(10) for _ in range(20)]
    assert all(0 <= d <= 3.0 for d in delays)
    assert max(delays) > 1.0  # grows exponentially until capped
    asyncio.run(client.aclose())


async def test_mock_transport_is_supported():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"path": request.url.path})

    async with Flaky("http://x", transport=httpx.MockTransport(handler)) as client:
        response = await client.request("GET", "/p")
    assert response.json() == {"path": "/p"}
