"""Guessing operator tokens is throttled per address; other addresses go on working."""

from bridge_core.testing.asgi import app_client, client_at
from syncflow.main import build_app


async def test_an_address_sending_bad_tokens_is_locked_out(syncflow_settings, admin_headers):
    app = build_app(syncflow_settings)
    async with (
        app_client(app),
        client_at(app, "10.0.0.66") as attacker,
        client_at(app, "10.0.0.7") as operator,
    ):
        codes = [
            (
                await attacker.get("/api/v1/entities", headers={"Authorization": f"Bearer g{i}"})
            ).status_code
            for i in range(55)
        ]
        assert codes[:50] == [401] * 50
        assert codes[-1] == 429

        assert (await operator.get("/api/v1/entities", headers=admin_headers)).status_code == 200
