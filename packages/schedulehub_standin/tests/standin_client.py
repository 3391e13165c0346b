"""What the stand-in's tests send: records shaped as SyncFlow sends them, a sign-in."""

from typing import Any

import httpx

from schedulehub_standin.testing import StandIn


async def sign_in(standin: StandIn, client: httpx.AsyncClient) -> dict[str, Any]:
    """Sign in as the test user; the token pair."""
    response = await client.post(
        "/auth/login", json={"username": standin.username, "password": standin.password}
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def record(key: str, data_hash: str = "d0", **fields: Any) -> dict[str, Any]:
    """A record: mapped ``fields`` plus the erp_* fields and parent refs."""
    return {
        "erp_key_hash": key,
        "erp_data_hash": data_hash,
        "erp_rowversion": fields.pop("rowversion", 1),
        "erp_ref_str": fields.pop("ref", f"ref-{key}"),
        "parent_refs": fields.pop("parents", {}),
        **fields,
    }
