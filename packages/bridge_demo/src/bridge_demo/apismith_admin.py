"""The APISmith calls the demo makes as its admin: log in, add a connection, APIs, a token."""

from typing import Any

from bridge_core.http.client import ServiceClient

API = "/api/v1"


class ApiSmithAdmin(ServiceClient):
    """One APISmith, called as an admin user (:meth:`login` first)."""

    service = "apismith"

    async def login(self, *, username: str, password: str) -> None:
        """Log in; later calls carry the access token."""
        response = await self.request(
            "POST", f"{API}/auth/login", json={"username": username, "password": password}
        )
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    async def create_connection(self, *, name: str, dialect: str, url: str) -> str:
        """Register an ERP database; returns the connection's uid."""
        response = await self.request(
            "POST", f"{API}/connections", json={"name": name, "dialect": dialect, "url": url}
        )
        uid: str = response.json()["uid"]
        return uid

    async def create_api(self, *, connection_uid: str, body: dict[str, Any]) -> dict[str, Any]:
        """Define an API on the connection; returns it with its discovered columns."""
        response = await self.request(
            "POST", f"{API}/apis", json={**body, "connection_uid": connection_uid}
        )
        api: dict[str, Any] = response.json()
        return api

    async def create_service_token(self, *, name: str, role: str) -> str:
        """A long-lived service token (shown once)."""
        response = await self.request(
            "POST", f"{API}/auth/tokens", json={"name": name, "role": role}
        )
        token: str = response.json()["token"]
        return token
