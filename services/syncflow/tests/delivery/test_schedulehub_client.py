"""ScheduleHub's client over ``httpx.MockTransport``: what its attempts keep of the answers."""

import httpx
import pytest

from syncflow.delivery.schedulehub import ScheduleHubClient
from syncflow.delivery.transport import DeliveryFailed, recording

TOKENS = {"access_token": "secret-access", "refresh_token": "secret-refresh"}


async def test_a_login_answer_with_tokens_is_not_kept_but_a_refusal_is():
    refusals = [503]

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/login":
            if refusals:
                return httpx.Response(refusals.pop(), json={"detail": "starting up"})
            return httpx.Response(200, json=TOKENS)
        return httpx.Response(200, json={"records": []})

    client = ScheduleHubClient(
        "http://hub.test",
        api_prefix="/api/v1",
        username="syncflow",
        password="password",
        token=None,
        timeout=5,
        transport=httpx.MockTransport(answer),
    )
    try:
        with recording() as attempts:
            with pytest.raises(DeliveryFailed, match="starting up"):  # retried with the batch
                await client.call("parts/batch/query", {"erp_key_hashes": []})
            assert await client.call("parts/batch/query", {"erp_key_hashes": []}) == {"records": []}
    finally:
        await client.aclose()
    kept = [(a.request, a.status_code, a.response) for a in attempts]
    assert kept == [
        ("POST /api/v1/auth/login", 503, '{"detail":"starting up"}'),
        ("POST /api/v1/auth/login", 200, None),
        ("POST /api/v1/parts/batch/query", 200, '{"records":[]}'),
    ]
    assert not any("secret" in (a.response or "") for a in attempts)
