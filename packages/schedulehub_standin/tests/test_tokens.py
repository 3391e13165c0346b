"""Sign-in, token expiry and refresh on the stand-in."""

import asyncio

import httpx

from packages.schedulehub_standin.tests.standin_client import sign_in


async def _query(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/orders/batch/query",
        json={"erp_key_hashes": []},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_an_expired_token_is_refused_until_refreshed(schedulehub_standin):
    await schedulehub_standin.control.tokens(access_token_seconds=0.3)
    async with httpx.AsyncClient(base_url=schedulehub_standin.api_url) as client:
        tokens = await sign_in(schedulehub_standin, client)
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 0.3
        assert (await _query(client, tokens["access_token"])).status_code == 200
        await asyncio.sleep(0.4)
        expired = await _query(client, tokens["access_token"])
        assert (expired.status_code, expired.json()["detail"]) == (401, "token expired")

        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200
        assert (await _query(client, refreshed.json()["access_token"])).status_code == 200

        refused = await client.post("/auth/refresh", json={"refresh_token": "unknown"})
        assert refused.status_code == 401
    counters = (await schedulehub_standin.control.state())["counters"]
    assert counters["sign_ins"] == 1
    assert counters["refreshes"] == 1
    assert counters["refreshes_refused"] == 1
    assert counters["unauthorized_token_expired"] == 1


async def test_expire_all_expires_every_access_token_now(schedulehub_standin):
    async with httpx.AsyncClient(base_url=schedulehub_standin.api_url) as client:
        first = await sign_in(schedulehub_standin, client)
        second = await sign_in(schedulehub_standin, client)
        await schedulehub_standin.control.tokens(expire_all=True)
        for tokens in (first, second):
            assert (await _query(client, tokens["access_token"])).status_code == 401
        fresh = await sign_in(schedulehub_standin, client)
        assert (await _query(client, fresh["access_token"])).status_code == 200


async def test_reset_restores_the_configured_token_lifetime(schedulehub_standin):
    await schedulehub_standin.control.tokens(access_token_seconds=1)
    await schedulehub_standin.control.reset()
    state = await schedulehub_standin.control.state()
    assert state["access_token_seconds"] == 900
