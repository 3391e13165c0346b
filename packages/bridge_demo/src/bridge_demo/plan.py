"""Which databases, ports and secrets the demo uses.

The demo never touches the services' real data: it keeps everything in four
databases of its own, ``demo_apismith``, ``demo_syncflow`` (also the target of the
syncs), ``demo_schedulehub`` (the ScheduleHub stand-in the changes are delivered to) and
``demo_erp``, and drops and recreates them on every run, which makes
re-running it safe and its numbers the same every time. They live where the services'
databases live: on the embedded PostgreSQL under each service's data dir (``./.data``
by default), or on the server of ``APISMITH_DATABASE_URL`` / ``SYNCFLOW_DATABASE_URL``
when those are set. ``SYNCFLOW_TARGET_DATABASE_URL`` is ignored. The ERP database lives
next to SyncFlow's.

Every run makes new secrets: an APISmith admin (``demo-admin``, random password) and a
SyncFlow operator token (``SYNCFLOW_ADMIN_TOKEN`` of the demo's SyncFlow), and the
password SyncFlow signs in to the ScheduleHub stand-in with.
"""

import secrets
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

from apismith.settings import Settings as ApiSmithSettings
from bridge_core.db.embedded import embedded_server_url, release_embedded_server
from bridge_core.db.engine import recreate_database, to_async_url
from bridge_demo.catalog import ADMIN_USERNAME
from schedulehub_standin.settings import Settings as ScheduleHubSettings
from syncflow.settings import Settings as SyncFlowSettings

HOST = "127.0.0.1"
DATABASE_PREFIX = "demo"


@dataclass(frozen=True)
class DemoCredentials:
    """The demo's logins: one admin user on both services (consoles and JSON APIs) and the
    SyncFlow operator token."""

    admin_username: str
    admin_password: str
    operator_token: str
    # SyncFlow's account at the ScheduleHub stand-in (a destination's credentials)
    schedulehub_password: str

    @classmethod
    def generate(cls) -> "DemoCredentials":
        """Fresh random secrets (one run's worth)."""
        return cls(
            admin_username=ADMIN_USERNAME,
            admin_password=secrets.token_urlsafe(12),
            operator_token=f"sfdemo_{secrets.token_urlsafe(24)}",
            schedulehub_password=secrets.token_urlsafe(12),
        )


@dataclass(frozen=True)
class DemoPlan:
    """Everything the demo flow needs: the services' settings, the ERP URL, the logins."""

    apismith: ApiSmithSettings
    syncflow: SyncFlowSettings
    schedulehub: ScheduleHubSettings
    erp_url: URL
    credentials: DemoCredentials


async def _server_url(stack: AsyncExitStack, configured: str | None, data_dir: Path) -> URL:
    """The PostgreSQL server of a service (its database name to be replaced)."""
    if configured:
        return to_async_url(configured)
    url = await embedded_server_url(data_dir)
    stack.push_async_callback(release_embedded_server, data_dir)
    return url


@asynccontextmanager
async def demo_plan(
    *,
    apismith_port: int,
    syncflow_port: int,
    schedulehub_port: int,
    prefix: str = DATABASE_PREFIX,
) -> AsyncIterator[DemoPlan]:
    """The environment's settings moved to the demo's databases (``<prefix>_apismith``,
    ``<prefix>_syncflow``, ``<prefix>_schedulehub``, ``<prefix>_erp``; the first three
    recreated empty here), with the demo's ports and new secrets; embedded servers are
    held until the block ends."""
    apismith_env = ApiSmithSettings()
    syncflow_env = SyncFlowSettings()
    credentials = DemoCredentials.generate()
    async with AsyncExitStack() as stack:
        apismith_server = await _server_url(stack, apismith_env.database_url, apismith_env.data_dir)
        syncflow_server = await _server_url(stack, syncflow_env.database_url, syncflow_env.data_dir)
        apismith_url = apismith_server.set(database=f"{prefix}_apismith")
        syncflow_url = syncflow_server.set(database=f"{prefix}_syncflow")
        schedulehub_url = syncflow_server.set(database=f"{prefix}_schedulehub")
        for url in (apismith_url, syncflow_url, schedulehub_url):
            await recreate_database(url)
        yield DemoPlan(
            apismith=ApiSmithSettings(
                database_url=apismith_url.render_as_string(hide_password=False),
                host=HOST,
                port=apismith_port,
                admin_username=credentials.admin_username,
                admin_password=credentials.admin_password,
            ),
            syncflow=SyncFlowSettings(
                database_url=syncflow_url.render_as_string(hide_password=False),
                target_database_url=None,
                host=HOST,
                port=syncflow_port,
                admin_token=credentials.operator_token,
                admin_username=credentials.admin_username,
                admin_password=credentials.admin_password,
            ),
            schedulehub=ScheduleHubSettings(
                database_url=schedulehub_url.render_as_string(hide_password=False),
                host=HOST,
                port=schedulehub_port,
                password=credentials.schedulehub_password,
            ),
            erp_url=syncflow_server.set(database=f"{prefix}_erp"),
            credentials=credentials,
        )
