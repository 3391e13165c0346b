"""Stand-in test fixtures: the stand-in on a live uvicorn server (reset per test), and a
client of its API signed in as the test user."""

from collections.abc import AsyncIterator

import httpx
import pytest

from packages.schedulehub_standin.tests.standin_client import sign_in
from schedulehub_standin.testing import (
    StandIn,
    schedulehub_standin,
    schedulehub_standin_server,
)

__all__ = ["schedulehub_standin", "schedulehub_standin_server"]


@pytest.fixture
async def api(schedulehub_standin: StandIn) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ScheduleHub's API, signed in (``Authorization`` set)."""
    async with httpx.AsyncClient(base_url=schedulehub_standin.api_url, timeout=30) as client:
        tokens = await sign_in(schedulehub_standin, client)
        client.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        yield client
