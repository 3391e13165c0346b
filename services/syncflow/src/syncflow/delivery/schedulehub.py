"""The client of ScheduleHub's API (login, refresh, health, batch query/insert/update/delete).

One request per call and no retries of its own: the delivery worker retries whole
batches on a schedule and records every request (:mod:`syncflow.delivery.transport`).
A 401 refreshes the access token once (or logs in again) and repeats the call; a second
401 right after new tokens sends the batch back to be retried, a 401 to a fixed token is
final.
"""

from typing import Any

import httpx

from syncflow.delivery.transport import DeliveryFailed, Transport, json_body, unauthorized


class ScheduleHubClient:
    """One ScheduleHub destination: base URL, API prefix, credentials, timeout."""

    def __init__(
        self,
        url: str,
        *,
        api_prefix: str,
        username: str | None,
        password: str | None,
        token: str | None,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.prefix = api_prefix
        self.username = username
        self.password = password
        self.access_token = token
        self.static_token = token is not None and password is None
        self.refresh_token: str | None = None
        self.http = httpx.AsyncClient(
            base_url=url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )
        self.transport = Transport(self.http)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def login(self) -> None:
        """``POST {prefix}/auth/login``: a fresh access and refresh token."""
        path = f"{self.prefix}/auth/login"
        response = await self.transport.send(
            "POST",
            path,
            json={"username": self.username, "password": self.password},
            credentials_in_answer=True,
        )
        if response.status_code == 401:
            raise unauthorized(response, f"POST {path}")
        self._take_tokens(json_body(response, f"POST {path}"))

    async def _refresh(self) -> None:
        """New tokens by the refresh token, or by logging in again when that is refused."""
        if self.refresh_token is None:
            await self.login()
            return
        path = f"{self.prefix}/auth/refresh"
        response = await self.transport.send(
            "POST", path, json={"refresh_token": self.refresh_token}, credentials_in_answer=True
        )
        if response.status_code == 401:
            await self.login()
            return
        self._take_tokens(json_body(response, f"POST {path}"))

    def _take_tokens(self, body: dict[str, Any]) -> None:
        if not isinstance(body.get("access_token"), str):
            raise DeliveryFailed("dead", "ScheduleHub's login answered no access_token")
        self.access_token = body["access_token"]
        self.refresh_token = body.get("refresh_token") or self.refresh_token

    async def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST {prefix}/{path}`` with the bearer token; a 401 refreshes once and repeats.

        A 401 to a fixed token is final. A 401 again right after new tokens were issued
        (ScheduleHub took our credentials a moment ago) is retried with the batch."""
        full = f"{self.prefix}/{path}"
        if self.access_token is None:
            await self.login()
        response = await self._post(full, body)
        if response.status_code == 401 and self.static_token:
            raise unauthorized(response, f"POST {full}")
        if response.status_code == 401:
            await self._refresh()
            response = await self._post(full, body)
            if response.status_code == 401:
                self.access_token = None
                raise DeliveryFailed(
                    "retry", f"HTTP 401 from POST {full} right after new tokens: {response.text}"
                )
        return json_body(response, f"POST {full}")

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return await self.transport.send(
            "POST", path, json=body, headers={"Authorization": f"Bearer {self.access_token}"}
        )

    async def health(self) -> httpx.Response:
        """``GET {prefix}/health`` (raises ``httpx`` errors; for the health check)."""
        return await self.http.get(f"{self.prefix}/health")
