"""Fault injection on the stand-in: each kind acted out over real HTTP, rates from a seeded
die, health and control never failing."""

from collections import Counter

import httpx
import pytest

from packages.schedulehub_standin.tests.standin_client import record
from schedulehub_standin.faults import FaultDice
from schedulehub_standin.schemas import FaultPlan


async def _insert(api: httpx.AsyncClient, key: str, **kwargs) -> httpx.Response:
    return await api.post("/orders/batch/insert", json={"records": [record(key)]}, **kwargs)


async def _live(standin) -> int:
    records = (await standin.control.state())["records"]
    return records.get("orders", {}).get("live", 0)


async def test_error_answers_503_and_applies_nothing(api, schedulehub_standin):
    await schedulehub_standin.control.set_faults(error_rate=1)
    response = await _insert(api, "a1")
    assert response.status_code == 503
    assert await _live(schedulehub_standin) == 0
    state = await schedulehub_standin.control.state()
    assert state["faults_injected"] == {"error": 1}


async def test_throttle_answers_429_with_retry_after(api, schedulehub_standin):
    await schedulehub_standin.control.set_faults(throttle_rate=1, retry_after_seconds=7)
    response = await _insert(api, "a1")
    assert (response.status_code, response.headers["retry-after"]) == (429, "7")
    assert await _live(schedulehub_standin) == 0


async def test_gone_answers_410_everywhere_but_health_and_control(api, schedulehub_standin):
    await schedulehub_standin.control.set_faults(gone=True)
    assert (await _insert(api, "a1")).status_code == 410
    login = await api.post("/auth/login", json={"username": "x", "password": "y"})
    assert login.status_code == 410
    assert (await api.get("/health")).status_code == 200
    await schedulehub_standin.control.reset()
    assert (await _insert(api, "a1")).status_code == 200


async def test_timeout_applies_but_never_answers(api, schedulehub_standin):
    await schedulehub_standin.control.set_faults(timeout_rate=1, timeout_seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        await _insert(api, "a1", timeout=0.5)
    # applied and committed before the answer was held back: a retry must not insert again
    assert await _live(schedulehub_standin) == 1
    await schedulehub_standin.control.set_faults()
    again = await _insert(api, "a1")
    assert again.json()["failures"][0]["error"] == "a record with erp_key_hash a1 exists already"


async def test_timeout_answers_late_to_a_patient_client(api, schedulehub_standin):
    await schedulehub_standin.control.set_faults(timeout_rate=1, timeout_seconds=0.3)
    response = await _insert(api, "a1", timeout=5)
    assert response.json()["success_count"] == 1


async def test_drop_applies_then_breaks_the_connection(api, schedulehub_standin):
    await schedulehub_standin.control.set_faults(drop_rate=1)
    with pytest.raises(httpx.RemoteProtocolError):
        await _insert(api, "a1")
    assert await _live(schedulehub_standin) == 1


async def test_slow_answers_after_the_delay(api, schedulehub_standin):
    await schedulehub_standin.control.set_faults(slow_rate=1, slow_seconds=1)
    with pytest.raises(httpx.ReadTimeout):
        await _insert(api, "a1", timeout=0.3)
    slow_but_fine = await _insert(api, "b2", timeout=5)
    assert slow_but_fine.json()["success_count"] == 1


async def test_expire_token_makes_the_client_refresh(schedulehub_standin):
    async with httpx.AsyncClient(base_url=schedulehub_standin.api_url) as client:
        login = {"username": schedulehub_standin.username, "password": schedulehub_standin.password}
        tokens = (await client.post("/auth/login", json=login)).json()
        await schedulehub_standin.control.set_faults(expire_token_rate=1)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        query = {"erp_key_hashes": []}
        first = await client.post("/orders/batch/query", json=query, headers=headers)
        assert (first.status_code, first.json()["detail"]) == (401, "token expired")
        await schedulehub_standin.control.set_faults()
        # the token stays expired; a refresh gets a good one
        assert (
            await client.post("/orders/batch/query", json=query, headers=headers)
        ).status_code == 401
        refreshed = await client.post(
            "/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        headers = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
        assert (
            await client.post("/orders/batch/query", json=query, headers=headers)
        ).status_code == 200


async def test_rates_that_add_up_to_more_than_one_are_refused(schedulehub_standin):
    async with httpx.AsyncClient(base_url=schedulehub_standin.url) as client:
        response = await client.post(
            "/_control/faults", json={"error_rate": 0.6, "timeout_rate": 0.5}
        )
    assert response.status_code == 422


def test_the_die_is_seeded_and_its_shares_hold():
    plan = FaultPlan(error_rate=0.1, timeout_rate=0.05, drop_rate=0.02, expire_token_rate=0.03)
    first, second = FaultDice(seed=7), FaultDice(seed=7)
    first.set_plan(plan)
    second.set_plan(plan)
    rolls = [first.roll() for _ in range(20_000)]
    assert rolls == [second.roll() for _ in range(20_000)]
    counts = Counter(rolls)
    assert counts["error"] == pytest.approx(2000, rel=0.1)
    assert counts["timeout"] == pytest.approx(1000, rel=0.15)
    assert counts["drop"] == pytest.approx(400, rel=0.25)
    assert counts["expire_token"] == pytest.approx(600, rel=0.2)
    assert counts[None] == pytest.approx(16_000, rel=0.05)
    assert first.injected == Counter({k: v for k, v in counts.items() if k is not None})

    other = FaultDice(seed=7)
    other.set_plan(plan.model_copy(update={"seed": 8}))
    assert [other.roll() for _ in range(20_000)] != rolls
