"""Password guessing and token guessing are throttled: per account and per address,
with growing lockouts answered by 429 and Retry-After, while other accounts and other
addresses sign in as usual."""

import asyncio

from apismith.main import build_app
from bridge_core.testing.asgi import app_client, client_at


async def _login(client, username, password):
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


async def test_guessing_locks_the_account_and_the_address_not_everyone(
    apismith_settings, create_apismith_user
):
    victim = await create_apismith_user("admin")
    other = await create_apismith_user("reader")
    app = build_app(apismith_settings)
    async with (
        app_client(app),
        client_at(app, "10.0.0.66") as attacker,
        client_at(app, "10.0.0.7") as colleague,
    ):
        answers = [(await _login(attacker, victim.username, f"guess-{i}")) for i in range(6)]
        assert [a.status_code for a in answers] == [401] * 6
        assert answers[0].json() == {"detail": "invalid username or password"}

        locked = await _login(attacker, victim.username, victim.password)
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) >= 1

        # another account, from another address, during the attack
        assert (await _login(colleague, other.username, other.password)).status_code == 200
        # the attacked account waits out its lock, then the right password works
        assert (await _login(colleague, victim.username, victim.password)).status_code == 429
        await asyncio.sleep(int(locked.headers["Retry-After"]) + 0.1)
        assert (await _login(colleague, victim.username, victim.password)).status_code == 200


async def test_bad_token_guessing_is_throttled_per_address(apismith_settings, create_apismith_user):
    reader = await create_apismith_user("reader")
    app = build_app(apismith_settings)
    async with (
        app_client(app),
        client_at(app, "10.0.0.66") as attacker,
        client_at(app, "10.0.0.7") as colleague,
    ):
        guesses = [
            (await attacker.get("/api/v1/auth/me", headers={"Authorization": f"Bearer x{i}"}))
            for i in range(60)
        ]
        codes = [g.status_code for g in guesses]
        assert codes[:50] == [401] * 50
        assert codes[-1] == 429
        assert "Retry-After" in guesses[-1].headers

        me = await colleague.get("/api/v1/auth/me", headers=reader.headers)
        assert me.status_code == 200
