"""The SyncFlow calls the demo makes as an operator: source, entities, a destination,
syncs, checks."""

import asyncio
from typing import Any

from bridge_core.http.client import ServiceClient
from syncflow.monitoring.schemas import FailedRecordPage, PendingChildPage
from syncflow.sync.schemas import BatchStatus
from syncflow.verify.schemas import VerifyReport

API = "/api/v1"
FINISHED = ("completed", "failed", "cancelled")


class SyncFlowOperator(ServiceClient):
    """One SyncFlow, called with an operator token."""

    service = "syncflow"

    async def create_source(self, *, name: str, base_url: str, token: str) -> None:
        """Register an APISmith instance as a source."""
        await self.request(
            "POST", f"{API}/sources", json={"name": name, "base_url": base_url, "token": token}
        )

    async def create_entity(self, *, source: str, body: dict[str, Any]) -> None:
        """Define an entity (its target table is created with it)."""
        await self.request("POST", f"{API}/entities", json={**body, "source": source})

    async def create_destination(
        self, *, name: str, url: str, username: str, password: str
    ) -> None:
        """Deliver every entity's changes to a ScheduleHub (its batch API at ``url``)."""
        body = {
            "name": name,
            "kind": "schedulehub",
            "url": url,
            "username": username,
            "password": password,
        }
        await self.request("POST", f"{API}/destinations", json=body)

    async def deliveries(self, *, state: str) -> int:
        """How many events are in ``state`` (pending, delivering, delivered, dead)."""
        response = await self.request(
            "GET", f"{API}/deliveries", params={"state": state, "page_size": 1}
        )
        total: int = response.json()["total"]
        return total

    async def sync(self, *, entity: str, mode: str, poll_seconds: float = 0.05) -> BatchStatus:
        """Start a batch and wait until it has finished; returns its final status."""
        started = await self.request(
            "POST", f"{API}/sync/start", json={"entity": entity, "mode": mode}
        )
        batch_uid = started.json()["batch_uid"]
        while True:
            response = await self.request("GET", f"{API}/sync/status/{batch_uid}")
            status = BatchStatus.model_validate_json(response.content)
            if status.status in FINISHED:
                return status
            await asyncio.sleep(poll_seconds)

    async def verify(self, *, entity: str) -> VerifyReport:
        """Source against target: counts, missing, extra and different rows."""
        response = await self.request("POST", f"{API}/entities/{entity}/verify")
        return VerifyReport.model_validate_json(response.content)

    async def failed_records(self, *, page_size: int) -> FailedRecordPage:
        """The open failed records of every entity, newest first."""
        response = await self.request(
            "GET", f"{API}/monitoring/failed-records", params={"page_size": page_size}
        )
        return FailedRecordPage.model_validate_json(response.content)

    async def pending_children(self) -> int:
        """How many parked children still wait for their parent."""
        response = await self.request(
            "GET", f"{API}/monitoring/pending-children", params={"page_size": 1}
        )
        return PendingChildPage.model_validate_json(response.content).total
